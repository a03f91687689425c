"""Export a saved checkpoint (the Python API of `yolo3 export`)."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from yolo3.config import imgsz_problem
from yolo3.export.onnx import export_onnx
from yolo3.export.openvino import export_openvino
from yolo3.export.quantize import QuantizeConfig
from yolo3.export.torchscript import export_torchscript
from yolo3.inference.device import resolve_device
from yolo3.io.checkpoint import is_torchscript, load_model
from yolo3.io.runs import file_in_the_way

SUFFIX = {"onnx": ".onnx", "torchscript": ".torchscript", "openvino": "_openvino"}


def export_checkpoint(
    weights: str | Path,
    fmt: str = "onnx",
    out: str | Path | None = None,
    imgsz: int | None = None,
    opset: int = 17,
    trust_pickle: bool = False,
    precision: str = "fp32",
    device: str = "cpu",
    quantize: QuantizeConfig | None = None,
    log: Callable[[str], None] = lambda _: None,
) -> Path:
    """Loads a checkpoint and exports it to `fmt`; its metadata (classes, thresholds…) travels along.

    Returns the written file (for OpenVINO: DIR/model.xml; default DIR is
    `<weights stem>_openvino/` next to the weights). `precision` bf16/int8 applies to
    OpenVINO only (int8 needs `quantize`, whose report is passed to `log` and stored in
    the model). `device` traces the TorchScript graph there; ONNX and OpenVINO files
    are device-independent and written from the CPU.
    """
    if fmt not in SUFFIX:
        raise ValueError(f"unknown export format {fmt!r}; use one of {sorted(SUFFIX)}")
    if imgsz is not None and imgsz_problem(imgsz):
        raise ValueError(f"imgsz: {imgsz_problem(imgsz)}")
    dev = resolve_device(device)
    if fmt != "openvino" and precision != "fp32":
        raise ValueError(f"--precision {precision}: {fmt} files are written in fp32; bf16 and int8 are "
                         "for --format openvino")
    if fmt == "openvino" and dev.type != "cpu":
        raise ValueError(f"--device {device}: OpenVINO runs on the CPU here; export with --device cpu")
    weights = Path(weights)
    if fmt == "openvino":
        target = Path(out) if out else weights.with_name(weights.stem + SUFFIX[fmt])
    else:
        target = Path(out) if out else weights.with_suffix(SUFFIX[fmt])
    _check_target(target, folder=fmt == "openvino")
    if fmt != "openvino":
        _check_replaceable(target, weights, fmt)
    model, meta = load_model(weights, trust_pickle=trust_pickle)
    if fmt == "openvino":
        path, report = export_openvino(model, target, imgsz, meta, precision, quantize, log=log)
        if report is not None:
            log(report.table())
        return path
    if fmt == "onnx":
        return export_onnx(model, target, imgsz, meta, opset)
    return export_torchscript(model.to(dev), target, imgsz, meta)


def _check_target(target: Path, folder: bool) -> None:
    """Refuses an output path that runs through a file (or is one, for a folder output) before any work."""
    blocking = file_in_the_way(target, itself=folder)
    if blocking is not None:
        raise ValueError(f"--out {target}: {blocking} is a file, not a folder; choose another --out")


def _is_export(path: Path, fmt: str) -> bool:
    """An existing file written by this format's exporter: a TorchScript archive, or an
    .onnx file that opens as an ONNX protobuf (field 1, ir_version, first: byte 0x08)."""
    if fmt == "torchscript":
        return is_torchscript(path)
    with open(path, "rb") as f:
        return path.suffix == ".onnx" and f.read(1) == b"\x08"


def _check_replaceable(target: Path, weights: Path, fmt: str) -> None:
    """Refuses an existing `target` that is not an export of `fmt` (the checkpoint itself, a
    dataset file): re-exporting replaces an export, never anything else."""
    if not target.is_file():
        return
    if target.resolve() == weights.resolve() or not _is_export(target, fmt):
        raise ValueError(f"--out {target}: exists and is not a {fmt} export, so writing there would destroy it; "
                         f"choose another --out (e.g. {weights.with_suffix(SUFFIX[fmt])})")
