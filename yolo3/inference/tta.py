"""Test-time augmentation: several scales and a horizontal flip, boxes merged.

Each view is letterboxed at its own size (a multiple of 32), predicted, flipped back
and mapped into the network pixels of the base view, so all views' predictions go
through one candidate/NMS pass together. With `merge`, each kept box is then replaced
by the score-weighted mean of the same-class candidates overlapping it by more than
`merge_iou` (the "merge NMS" of weighted box fusion).
"""

from __future__ import annotations

import dataclasses
from typing import Callable

import numpy as np
import torch

from yolo3.data.letterbox import LetterboxInfo, boxes_from_letterbox, boxes_to_letterbox
from yolo3.inference.preprocess import letterbox_batch
from yolo3.ops.boxes import box_iou


@dataclasses.dataclass
class TTAConfig:
    """scales: view sizes relative to imgsz; flip: add a left-right flip of every view."""

    scales: tuple[float, ...] = (1.0, 0.83, 0.67)
    flip: bool = True
    merge: bool = True
    merge_iou: float = 0.6


def view_size(imgsz: int, scale: float) -> int:
    """Network size of a view: imgsz·scale rounded to a multiple of 32 (at least 32)."""
    return max(32, int(round(imgsz * scale / 32)) * 32)


def unflip(preds: torch.Tensor, width: int) -> torch.Tensor:
    """Decoded predictions (..., 5+C) of a left-right flipped input → unflipped: x ↦ W − x."""
    out = preds.clone()
    out[..., 0] = width - preds[..., 2]
    out[..., 2] = width - preds[..., 0]
    return out


def tta_predict(
    backend: Callable[[torch.Tensor], torch.Tensor], images: list[np.ndarray], imgsz: int, cfg: TTAConfig
) -> tuple[torch.Tensor, list[LetterboxInfo]]:
    """All views' decoded predictions (B, N_total, 5+C), boxes in the base view's pixels."""
    base, base_infos = letterbox_batch(images, imgsz)
    parts = []
    for scale in cfg.scales:
        size = view_size(imgsz, scale)
        batch, infos = (base, base_infos) if size == imgsz else letterbox_batch(images, size)
        views = [backend(batch)]
        if cfg.flip:
            views.append(unflip(backend(torch.flip(batch, dims=[3])), size))
        for preds in views:
            if size != imgsz:
                preds = preds.clone()
                for i, (info, target) in enumerate(zip(infos, base_infos)):
                    original = boxes_from_letterbox(preds[i, :, :4], info, clip=False)
                    preds[i, :, :4] = boxes_to_letterbox(original, target)
            parts.append(preds)
    return torch.cat(parts, 1), base_infos


def merge_boxes(
    boxes: torch.Tensor, scores: torch.Tensor, labels: torch.Tensor, keep: torch.Tensor, iou_threshold: float
) -> torch.Tensor:
    """Score-weighted mean of each kept box's same-class cluster.

    boxes (M, 4), scores (M,), labels (M,) are all candidates; keep (K,) the NMS
    survivors. Returns (K, 4): for kept box k, Σ_j s_j b_j / Σ_j s_j over candidates j of
    its class with IoU(b_k, b_j) > iou_threshold (k itself always counts).
    """
    if keep.numel() == 0:
        return boxes.new_zeros((0, 4))
    iou = box_iou(boxes[keep], boxes)  # (K, M)
    weights = ((iou > iou_threshold) & (labels[keep][:, None] == labels[None, :])).to(scores.dtype) * scores[None]
    weights[torch.arange(keep.numel()), keep] = scores[keep]
    return weights @ boxes / weights.sum(1, keepdim=True)
