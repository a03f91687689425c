"""Which engine runs a model file: `--backend auto|torch|onnxruntime|openvino` (SPEC §8.8).

`auto` picks the fastest engine installed for the file, precision and device:

| file | device cpu, OpenVINO usable | OpenVINO missing | device cuda |
|---|---|---|---|
| `.safetensors` / `.pt` | openvino (converted once, then read from the cache) | torch | torch |
| `.onnx` | openvino (reads ONNX) | onnxruntime | error |
| OpenVINO folder / `.xml` | openvino | error (install it) | error |

fp16 is a CUDA precision (the torch backend on `--device cuda`): CPUs have no fast fp16
convolutions, so on CPU it is an error that points to bf16.
int8 needs a model quantised by `yolo3 export --format openvino --precision int8`;
a quantised file runs as int8 whatever precision was asked for (its other layers then
follow the request where it is bf16), by default at the input size it was calibrated
and measured at (`export --imgsz`), not the checkpoint's.

A checkpoint run on OpenVINO is converted once and the conversion is cached on disk
(`openvino_cache.py`; `YOLO3_CACHE_DIR=off` turns that off); the metadata always comes
from the checkpoint itself.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from yolo3.config import ModelConfig
from yolo3.inference.backends import FP16_ON_CPU, Backend, OnnxBackend, TorchBackend
from yolo3.inference.device import resolve_device
from yolo3.inference.openvino_backend import (
    INSTALL_HINT, OpenVINOBackend, openvino_available, read_openvino,
)
from yolo3.inference.openvino_cache import convert_checkpoint, file_stamp
from yolo3.io.checkpoint import CheckpointError, load_model, model_config_from_metadata, read_onnx_metadata

BACKENDS = ("auto", "torch", "onnxruntime", "openvino")
PRECISIONS = ("fp32", "bf16", "fp16", "int8")


@dataclasses.dataclass
class OpenedModel:
    """A model file opened on a backend: what the Detector needs, plus why this backend."""

    backend: Backend
    cfg: ModelConfig
    metadata: dict[str, Any]
    backend_name: str
    precision: str
    note: str


def _file_precision(path: Path) -> str:
    """`export.precision` of an OpenVINO model's metadata (fp32 when absent)."""
    _, meta = read_openvino(path)
    value = meta.get("export", {}).get("precision", "fp32")
    return value if value in PRECISIONS else "fp32"


def model_kind(path: str | Path) -> str:
    """'openvino' (a folder or .xml), 'onnx' or 'checkpoint' (safetensors / trusted pickle)."""
    path = Path(path)
    if path.is_dir() or path.suffix.lower() == ".xml":
        return "openvino"
    return "onnx" if path.suffix.lower() == ".onnx" else "checkpoint"


def choose_backend(kind: str, requested: str, precision: str, device_type: str = "cpu") -> tuple[str, str]:
    """(backend name, one-line reason) for a model kind; raises ValueError when impossible."""
    if requested not in BACKENDS:
        raise ValueError(f"--backend {requested!r}: use one of {', '.join(BACKENDS)}")
    if precision not in PRECISIONS:
        raise ValueError(f"--precision {precision!r}: use one of {', '.join(PRECISIONS)}")
    native = {"checkpoint": "torch", "onnx": "onnxruntime", "openvino": "openvino"}[kind]
    if device_type != "cpu":
        if kind != "checkpoint" or requested not in ("auto", "torch"):
            raise ValueError(f"--device {device_type}: only the torch backend on a .safetensors checkpoint runs on "
                             f"{device_type}; use --device cpu for {requested if requested != 'auto' else kind} models")
        return "torch", f"auto: torch (the only backend for --device {device_type})"
    if precision == "fp16":
        raise ValueError(FP16_ON_CPU)
    if requested == "auto":
        usable, why = openvino_available()
        if usable:
            return "openvino", "auto: openvino (fastest installed CPU backend)"
        if kind == "openvino":
            raise ValueError(f"this is an OpenVINO model and {why}")
        return native, f"auto: {native} ({why})"
    allowed = {"checkpoint": ("torch", "openvino"), "onnx": ("onnxruntime", "openvino"),
               "openvino": ("openvino",)}[kind]
    if requested not in allowed:
        what = {"checkpoint": "a checkpoint", "onnx": "an ONNX file", "openvino": "an OpenVINO model"}[kind]
        raise ValueError(f"--backend {requested} cannot run {what}; use {' or '.join(allowed)} "
                         "(or export the checkpoint to that format first)")
    if requested == "openvino":
        usable, why = openvino_available()
        if not usable:
            raise ValueError(f"--backend openvino: {why}")
    return requested, f"{requested} (requested)"


def open_model(
    path: str | Path,
    backend: str = "auto",
    precision: str | None = None,
    device: str = "cpu",
    threads: int | None = None,
    trust_pickle: bool = False,
    imgsz: int | None = None,
) -> OpenedModel:
    """Opens a checkpoint, .onnx or OpenVINO model on the chosen backend.

    precision None: the precision an OpenVINO export was made for (its metadata
    `export.precision`), else fp32.
    """
    path = Path(path)
    kind = model_kind(path)
    if precision is None:
        precision = _file_precision(path) if kind == "openvino" else "fp32"
    if kind == "onnx" and not path.is_file():
        raise CheckpointError(f"{path}: no such ONNX file")
    dev = resolve_device(device)
    try:
        name, note = choose_backend(kind, backend, precision, dev.type)
    except ValueError as err:  # name the file the choice was about
        raise ValueError(f"{path}: {err}") from None
    if kind == "openvino" or (kind == "onnx" and name == "openvino"):
        ov_model, meta = read_openvino(path)
        if kind == "onnx":
            meta = read_onnx_metadata(path)
        cfg = model_config_from_metadata(meta, path)
        quantised = meta.get("export", {}).get("precision") == "int8"
        if precision == "int8" and not quantised:
            raise ValueError(f"{path}: not an int8 model; make one with `yolo3 export --format openvino "
                             "--precision int8 --data DATA`")
        run_as = "int8" if quantised else precision
        if quantised:  # calibrated and measured at its export size: that is its size unless asked otherwise
            cfg = dataclasses.replace(cfg, imgsz=int(meta["export"].get("imgsz") or cfg.imgsz))
        engine: Backend = OpenVINOBackend(ov_model, "bf16" if precision == "bf16" else run_as, threads)
        if quantised and precision != "int8":
            note += f"; {path.name} is quantised, so it runs int8"
        return OpenedModel(engine, cfg, meta, name, run_as, note)
    if precision == "int8":
        raise ValueError(f"{path}: int8 needs a quantised model; make one with `yolo3 export --format openvino "
                         f"--precision int8 --data DATA` and load its folder (OpenVINO: {INSTALL_HINT})")
    if kind == "onnx":
        if precision != "fp32":
            raise ValueError(f"{path}: onnxruntime runs yolo3's ONNX in fp32 only; use --precision fp32 "
                             "or --backend openvino")
        meta = read_onnx_metadata(path)
        return OpenedModel(OnnxBackend(path, threads), model_config_from_metadata(meta, path), meta, name, "fp32",
                           note)
    stamp = file_stamp(path) if name == "openvino" and path.is_file() else None  # before reading it
    model, meta = load_model(path, trust_pickle=trust_pickle)
    if name == "openvino":
        conversion = convert_checkpoint(model, path, imgsz, stamp)
        engine = OpenVINOBackend(conversion.model, precision, threads)
        return OpenedModel(engine, model.cfg, meta, name, precision, f"{note}; {conversion.note}")
    return OpenedModel(TorchBackend(model, precision, device=str(dev)), model.cfg, meta, name, precision, note)
