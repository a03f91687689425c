"""A small CNN that classifies object crops (detect, then classify: SPEC-free extension, issue 15).

Four stride-2 ConvBNAct stages (w, 2w, 4w, 8w channels) → global average pool → linear.
Input (B, 3, S, S) float32 in [0, 1] (S = `ClassifierConfig.imgsz`, e.g. 64); output
(B, C) logits (softmax: one class per crop, unlike the detector's independent sigmoids).
"""

from __future__ import annotations

import dataclasses

import torch
from torch import nn

from yolo3.models.layers import ConvBNAct


@dataclasses.dataclass
class ClassifierConfig:
    """What builds a crop classifier and how its crops are cut.

    num_classes / class_names: the classifier's classes (names length C).
    imgsz: square crop side in pixels fed to the network.
    context: padding around a box, as a fraction of its longer side on each side (the
        crop is the square of side max(w, h)·(1 + 2·context) centred on the box).
    width: channels of the first stage (then ×2 per stage).
    """

    num_classes: int
    class_names: list[str]
    imgsz: int = 64
    context: float = 0.2
    width: int = 32

    def __post_init__(self) -> None:
        if len(self.class_names) != self.num_classes or self.num_classes < 2:
            raise ValueError(f"a crop classifier needs >= 2 classes with one name each, got {self.class_names}")
        if self.imgsz < 16 or self.context < 0 or self.width < 4:
            raise ValueError(f"imgsz >= 16, context >= 0 and width >= 4 required, got {self}")


class CropClassifier(nn.Module):
    """(B, 3, S, S) crops in [0, 1] → (B, C) class logits."""

    def __init__(self, cfg: ClassifierConfig) -> None:
        super().__init__()
        self.cfg = cfg
        w = cfg.width
        chans = [3, w, 2 * w, 4 * w, 8 * w]
        self.features = nn.Sequential(*[ConvBNAct(chans[i], chans[i + 1], 3, stride=2) for i in range(4)])
        self.fc = nn.Linear(8 * w, cfg.num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.features(x).mean((2, 3)))
