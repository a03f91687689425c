"""OpenVINO runtime: the model + decode graph compiled for the CPU (SPEC §8.8).

OpenVINO is an optional dependency (`pip install 'yolo3[openvino]'`); everything here
imports it lazily, and `openvino_available()` tells the backend choice whether it can
be used. A yolo3 OpenVINO model is the same graph as the ONNX export — images
(B, 3, H, W) float32 in [0, 1] → decoded predictions (B, N, 5+C) — with the yolo3
metadata JSON stored in the model's rt_info under `yolo3`, so `model.xml` needs no
other file.

Measured (benchmarks/RESULTS.md): OpenVINO's CPU plugin prepacks weights once at
compile time and fuses conv + bias + leaky ReLU (+ residual add), which torch eager
does on every call; in bf16 that is 1.2–2× faster than yolo3's torch bf16 path.
"""

from __future__ import annotations

import copy
import importlib
import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch

from yolo3.inference.graph import DecodedModel
from yolo3.inference.signal_stack import pinned_signal_stack
from yolo3.io.checkpoint import METADATA_KEY, CheckpointError
from yolo3.models import YOLOv3Base

INSTALL_HINT = "pip install 'yolo3[openvino]' (or: pip install openvino nncf)"
HINTS = {"fp32": "f32", "bf16": "bf16", "int8": "f32"}
"""Inference precision hint per yolo3 precision; an int8 model keeps its unquantised
layers (decode, heads' outputs) in fp32."""


class OpenVINOUnavailable(ImportError):
    """OpenVINO is not installed (or cannot run on this CPU); the message says how to get it."""


def require_openvino() -> Any:
    """The `openvino` module, or OpenVINOUnavailable with the install command."""
    try:
        return importlib.import_module("openvino")
    except ImportError as err:
        raise OpenVINOUnavailable(f"OpenVINO is not installed ({err}); {INSTALL_HINT}") from None


def openvino_available() -> tuple[bool, str]:
    """(usable, reason): installed and its CPU plugin runs on this machine."""
    try:
        ov = require_openvino()
    except OpenVINOUnavailable as err:
        return False, str(err)
    try:
        with pinned_signal_stack():
            devices = ov.Core().available_devices
    except RuntimeError as err:  # pragma: no cover - a broken install
        return False, f"OpenVINO cannot start: {err}"
    if "CPU" not in devices:  # pragma: no cover - CPUs without the plugin's minimum ISA
        return False, f"OpenVINO's CPU plugin does not run on this CPU (devices: {devices})"
    return True, "OpenVINO installed, CPU plugin available"


def to_openvino(model: YOLOv3Base, imgsz: int | None = None, metadata: dict[str, Any] | None = None) -> Any:
    """A yolo3 model → an `openvino.Model` (fp32, BN folded, batch/height/width dynamic).

    The model is copied; its metadata travels in rt_info (see `set_metadata`).
    """
    ov = require_openvino()
    imgsz = imgsz or model.cfg.imgsz
    graph = DecodedModel(copy.deepcopy(model).float().eval().fuse())
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # tracer warnings about shape-derived constants
        converted = ov.convert_model(graph, example_input=torch.zeros(1, 3, imgsz, imgsz), input=[(-1, 3, -1, -1)])
    converted.inputs[0].get_tensor().set_names({"images"})
    converted.outputs[0].get_tensor().set_names({"preds"})
    if metadata is not None:
        set_metadata(converted, metadata)
    return converted


def set_metadata(ov_model: Any, metadata: dict[str, Any]) -> None:
    """Stores the yolo3 metadata JSON in the model's rt_info (saved inside model.xml)."""
    ov_model.set_rt_info(json.dumps(metadata), [METADATA_KEY])


def get_metadata(ov_model: Any) -> dict[str, Any]:
    """The yolo3 metadata of an OpenVINO model ({} when absent)."""
    if not ov_model.has_rt_info([METADATA_KEY]):
        return {}
    return json.loads(ov_model.get_rt_info([METADATA_KEY]).astype(str))


def model_xml(path: str | Path) -> Path:
    """A folder holding `model.xml`, or the .xml itself → the .xml path (checked)."""
    path = Path(path)
    xml = path / "model.xml" if path.is_dir() else path
    if not xml.is_file():
        raise CheckpointError(f"{path}: no OpenVINO model (expected {xml}); write one with "
                              "`yolo3 export --format openvino --out DIR`")
    if not xml.with_suffix(".bin").is_file():
        raise CheckpointError(f"{xml}: its weights file {xml.with_suffix('.bin').name} is missing next to it")
    return xml


def read_openvino(path: str | Path) -> tuple[Any, dict[str, Any]]:
    """(openvino.Model, yolo3 metadata) of a folder or .xml; an .onnx is read as well."""
    ov = require_openvino()
    path = Path(path)
    source = path if path.suffix.lower() == ".onnx" else model_xml(path)
    try:
        ov_model = ov.Core().read_model(str(source))
    except RuntimeError as err:
        fmt = "onnx" if source.suffix.lower() == ".onnx" else "openvino"
        raise CheckpointError(f"{source}: OpenVINO cannot read it: {_reason(err)}; the file is corrupt or truncated: "
                              f"export it again (`yolo3 export --format {fmt}`)") from err
    return ov_model, get_metadata(ov_model)


def _reason(err: Exception) -> str:
    """The informative line of an OpenVINO error (its first lines are C++ source locations)."""
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    useful = [line for line in lines if not line.startswith(("Exception from ", "Check '"))]
    text = (useful or lines or ["unknown error"])[-1]
    return text.split(" Please check")[0].rstrip(" .!")


class OpenVINOBackend:
    """An `openvino.Model` compiled for the CPU: (B, 3, H, W) float32 → (B, N, 5+C) float32.

    The compiled input takes NHWC memory (what `letterbox_batch` produces, a channels-last
    tensor): OpenVINO's pre-processing transposes it inside the graph, so no copy is made
    in Python. `precision` sets the inference precision hint of the unquantised layers.
    """

    name = "openvino"

    def __init__(self, ov_model: Any, precision: str = "fp32", threads: int | None = None) -> None:
        ov = require_openvino()
        from openvino.preprocess import PrePostProcessor

        from yolo3.inference.fast import configure_threads

        if precision not in HINTS:
            raise ValueError(f"unknown precision {precision!r}; use one of {tuple(HINTS)}")
        self.precision = precision
        ppp = PrePostProcessor(ov_model.clone())
        ppp.input().tensor().set_layout(ov.Layout("NHWC"))
        ppp.input().model().set_layout(ov.Layout("NCHW"))
        config = {
            "INFERENCE_NUM_THREADS": configure_threads(threads),
            "INFERENCE_PRECISION_HINT": HINTS[precision],
            "PERFORMANCE_HINT": "LATENCY",
        }
        with pinned_signal_stack():  # OpenVINO would leave a dangling signal stack behind (signal_stack.py)
            self.compiled = ov.Core().compile_model(ppp.build(), "CPU", config)
            self.request = self.compiled.create_infer_request()

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        nhwc = np.ascontiguousarray(images.detach().cpu().float().permute(0, 2, 3, 1).numpy())  # no copy if NHWC
        self.request.infer({0: nhwc})
        return torch.from_numpy(self.request.get_output_tensor(0).data.copy())
