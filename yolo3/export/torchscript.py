"""TorchScript export (traced model + decode), metadata in the archive's extra files."""

from __future__ import annotations

import copy
import io
import json
import warnings
from pathlib import Path
from typing import Any

import torch

from yolo3.config import to_dict
from yolo3.inference.graph import DecodedModel
from yolo3.io.checkpoint import atomic_write
from yolo3.models import YOLOv3Base

EXTRA_FILE = "yolo3.json"


def export_torchscript(
    model: YOLOv3Base, path: str | Path, imgsz: int | None = None, metadata: dict[str, Any] | None = None
) -> Path:
    """Writes a traced (B, 3, H, W) → (B, N, 5+C) module; batch and size stay dynamic.

    Shapes are read from tensors at run time in the traced graph, so other batch sizes
    and input sizes (multiples of 32) work; the metadata JSON is stored as the extra
    file `yolo3.json`.
    """
    path = Path(path)
    imgsz = imgsz or model.cfg.imgsz
    graph = DecodedModel(copy.deepcopy(model).float().eval().fuse())
    meta = {"model": to_dict(model.cfg), **(metadata or {}), "export": {"format": "torchscript", "imgsz": imgsz}}
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        example = torch.zeros(2, 3, imgsz, imgsz, device=next(model.parameters()).device)
        traced = torch.jit.trace(graph, example, check_trace=False)
    # saved to memory, then written by Python: torch.jit.save into a file that fills the disk
    # aborts the whole process (a C++ error in a destructor) and leaves the temporary file
    buffer = io.BytesIO()
    torch.jit.save(traced, buffer, _extra_files={EXTRA_FILE: json.dumps(meta)})
    atomic_write(path, lambda tmp: Path(tmp).write_bytes(buffer.getbuffer()))
    return path
