"""OpenVINO export: DIR/model.xml + model.bin (model + decode), metadata in rt_info.

fp32 and bf16 share the same fp32 weights (bf16 is how OpenVINO runs them; the file
records the intended precision under metadata `export.precision`); int8 is quantised
by NNCF on the user's images (`yolo3.export.quantize`) and carries its fp32-vs-int8
report under `export.quantization`.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any, Callable

from yolo3.config import to_dict
from yolo3.export.quantize import QuantizeConfig, QuantizeReport, quantize_openvino
from yolo3.inference.openvino_backend import require_openvino, set_metadata, to_openvino
from yolo3.models import YOLOv3Base

FILES = ("model.bin", "model.xml")  # the .xml last: it is what loaders look for


def export_openvino(
    model: YOLOv3Base,
    out_dir: str | Path,
    imgsz: int | None = None,
    metadata: dict[str, Any] | None = None,
    precision: str = "fp32",
    quantize: QuantizeConfig | None = None,
    threads: int | None = None,
    log: Callable[[str], None] = lambda _: None,
) -> tuple[Path, QuantizeReport | None]:
    """Writes `out_dir/model.xml` + `model.bin`; returns (the .xml path, int8 report or None).

    precision: 'fp32', 'bf16' (same weights, runs in bf16 by default) or 'int8' (needs
    `quantize`, whose `data` calibrates). Files are written to a temporary folder first
    and moved into place, so an interrupted export leaves no half-written model.
    """
    if precision not in ("fp32", "bf16", "int8"):
        raise ValueError(f"--precision {precision!r}: use fp32, bf16 or int8")
    if precision == "int8" and quantize is None:
        raise ValueError("--precision int8 needs calibration images: pass --data DATASET")
    ov = require_openvino()
    imgsz = imgsz or model.cfg.imgsz
    meta = {"model": to_dict(model.cfg), **(metadata or {}),
            "export": {"format": "openvino", "imgsz": imgsz, "precision": precision}}
    converted = to_openvino(model, imgsz, meta)
    report = None
    if precision == "int8":
        assert quantize is not None
        converted, report = quantize_openvino(converted, meta, quantize, imgsz, threads, log)
        meta["export"]["quantization"] = report.to_dict()
    set_metadata(converted, meta)
    out = Path(out_dir)
    created = not out.exists()
    out.mkdir(parents=True, exist_ok=True)
    try:
        with tempfile.TemporaryDirectory(prefix=".export-", dir=out) as tmp:
            ov.save_model(converted, str(Path(tmp) / "model.xml"), compress_to_fp16=False)
            for name in FILES:
                shutil.move(str(Path(tmp) / name), str(out / name))
    except RuntimeError as err:  # OpenVINO reports a failed write (disk full) as 'basic_ios::clear ...'
        if created:
            shutil.rmtree(out, ignore_errors=True)
        raise OSError(f"{out}: cannot write the OpenVINO model ({str(err).splitlines()[0]}: disk full or not "
                      "writable?); nothing was changed. Free some space or choose another --out") from err
    return out / "model.xml", report
