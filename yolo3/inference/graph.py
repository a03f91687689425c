"""The exported graph: images → decoded predictions (model + decode, no NMS).

NMS stays outside the graph, in our torch post-processing, so an ONNX or TorchScript
model and the PyTorch model share exactly the same thresholds, class subsets, ROI and
NMS code (and the exported graph stays free of data-dependent shapes).
"""

from __future__ import annotations

import torch
from torch import nn

from yolo3.inference.fast import forward_raw
from yolo3.models import YOLOv3Base
from yolo3.ops.decode import decode


class DecodedModel(nn.Module):
    """Wraps a YOLO model: (B, 3, H, W) float32 in [0, 1] → (B, N, 5+C) float32.

    Output rows: x1, y1, x2, y2 in network-input pixels, objectness, class probabilities.
    """

    def __init__(self, model: YOLOv3Base) -> None:
        super().__init__()
        self.model = model
        self.strides = tuple(model.strides)
        self.xy_mode = model.cfg.xy_mode

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        raw = forward_raw(self.model, images)
        return decode(raw, self.model.anchors.float(), self.strides, self.xy_mode)
