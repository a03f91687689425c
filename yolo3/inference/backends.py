"""Inference backends behind one small interface: batch in, decoded predictions out.

A backend maps images (B, 3, H, W) float32 in [0, 1] to decoded predictions
(B, N, 5+C) float32 (xyxy network pixels, objectness, class probabilities). Everything
after that (thresholds, class subset, ROI, NMS, mapping back) is shared code, so the
PyTorch and ONNX Runtime paths give the same detections by construction.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Protocol

import numpy as np
import torch

from yolo3.inference.fast import BODY_DTYPES, configure_threads, forward_raw, prepare_model
from yolo3.io.checkpoint import CheckpointError
from yolo3.models import YOLOv3Base
from yolo3.ops.decode import decode

FP16_ON_CPU = "--precision fp16 runs on CUDA only (--device cuda); on CPU use --precision bf16 or fp32"


class Backend(Protocol):
    """What the Detector needs from an engine."""

    name: str

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) float32 in [0, 1] → (B, N, 5+C) float32 decoded predictions."""
        ...


class TorchBackend:
    """A YOLO model in PyTorch, prepared for inference (BN folded, channels-last, fp32|bf16|fp16 body)."""

    name = "torch"

    def __init__(
        self, model: YOLOv3Base, precision: str = "fp32", channels_last: bool = True, device: str = "cpu"
    ) -> None:
        if precision == "fp16" and torch.device(device).type == "cpu":
            raise ValueError(FP16_ON_CPU)
        self.model = prepare_model(copy.deepcopy(model).to(device), precision, channels_last)
        self.precision = precision
        self.device = torch.device(device)
        self.channels_last = channels_last
        self.dtype = BODY_DTYPES[precision]

    @torch.inference_mode()
    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        images = images.to(self.device)
        if self.channels_last:
            images = images.contiguous(memory_format=torch.channels_last)  # no copy when already NHWC
        raw = forward_raw(self.model, images, self.dtype)
        return decode(raw, self.model.anchors, self.model.strides, self.model.cfg.xy_mode).float()


class OnnxBackend:
    """An exported `.onnx` (model + decode) run by ONNX Runtime on CPU."""

    name = "onnxruntime"
    precision = "fp32"

    def __init__(self, path: str | Path, threads: int | None = None) -> None:
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = configure_threads(threads)
        opts.inter_op_num_threads = 1
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        # Idle workers must not spin after a run: on few cores they steal the time of the
        # post-processing that follows (measured 245 → 215 ms end-to-end on yolov3, 2 cores).
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.path = Path(path)
        try:
            self.session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        except Exception as err:  # onnxruntime raises its own Fail/InvalidGraph/… types, not ValueError
            reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            raise CheckpointError(f"{path}: ONNX Runtime cannot load this model ({reason}); re-export it with "
                             "`yolo3 export --format onnx` (weights inside the file, no external data)") from err
        self.input_name = self.session.get_inputs()[0].name

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        array = np.ascontiguousarray(images.detach().cpu().float().numpy())
        (preds,) = self.session.run(None, {self.input_name: array})
        return torch.from_numpy(preds)
