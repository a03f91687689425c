"""Non-maximum suppression in torch (no torchvision): exact greedy NMS, vectorised.

Greedy NMS keeps the highest-scoring box, removes every box overlapping it by more than
the IoU threshold, and repeats. Each round is one vectorised IoU of the kept box
against the remaining ones, so the Python loop runs once per *kept* box (bounded by
`max_keep`), never once per candidate.
"""

from __future__ import annotations

import torch

from yolo3.ops.boxes import box_iou_elementwise, generalized_iou


def nms(
    boxes: torch.Tensor,
    scores: torch.Tensor,
    iou_threshold: float,
    max_keep: int | None = None,
    kind: str = "iou",
) -> torch.Tensor:
    """Greedy NMS.

    Args:
        boxes: (N, 4) xyxy.
        scores: (N,).
        iou_threshold: suppress boxes with overlap > this to a kept box.
        max_keep: stop after this many kept boxes (None = no limit).
        kind: overlap measure, `iou` (classic) or `diou` (DIoU-NMS: IoU − ρ²/c²).

    Returns:
        (K,) int64 indices into `boxes`, by decreasing score (ties: lower index first).
    """
    if boxes.numel() == 0:
        return torch.zeros(0, dtype=torch.long, device=boxes.device)
    order = torch.sort(scores, descending=True, stable=True).indices
    remaining = boxes[order]
    keep: list[torch.Tensor] = []
    limit = max_keep if max_keep is not None else order.numel()
    while order.numel() > 0 and len(keep) < limit:
        keep.append(order[0])
        if order.numel() == 1:
            break
        top, rest = remaining[0:1], remaining[1:]
        if kind == "iou":
            overlap = box_iou_elementwise(top, rest)
        elif kind == "diou":
            overlap = generalized_iou(top, rest, "diou")
        else:
            raise ValueError(f"unknown NMS overlap {kind!r}; use iou or diou")
        survivors = overlap <= iou_threshold
        order, remaining = order[1:][survivors], rest[survivors]
    return torch.stack(keep) if keep else torch.zeros(0, dtype=torch.long, device=boxes.device)


def batched_nms(
    boxes: torch.Tensor,
    scores: torch.Tensor,
    labels: torch.Tensor,
    iou_threshold: float,
    max_keep: int | None = None,
    kind: str = "iou",
) -> torch.Tensor:
    """Class-aware NMS: boxes of different `labels` never suppress each other.

    Each class's boxes are shifted by a class-specific offset larger than every
    coordinate, so one NMS pass over all of them never sees cross-class overlaps.
    """
    if boxes.numel() == 0:
        return torch.zeros(0, dtype=torch.long, device=boxes.device)
    span = boxes.max() - boxes.min() + 1
    shifted = boxes - boxes.min() + labels.to(boxes.dtype)[:, None] * span
    return nms(shifted, scores, iou_threshold, max_keep, kind)


def soft_nms(
    boxes: torch.Tensor,
    scores: torch.Tensor,
    sigma: float = 0.5,
    score_threshold: float = 0.001,
    max_keep: int | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Gaussian soft-NMS (Bodla et al. 2017): overlapping scores decay by exp(−IoU²/σ).

    Returns (indices (K,), new scores (K,)) by decreasing new score; boxes whose decayed
    score falls below `score_threshold` are dropped.
    """
    idx = torch.arange(boxes.shape[0], device=boxes.device)
    current = scores.clone().float()
    kept_idx, kept_scores = [], []
    limit = max_keep if max_keep is not None else boxes.shape[0]
    while idx.numel() > 0 and len(kept_idx) < limit:
        best = int(torch.argmax(current))
        if current[best] < score_threshold:
            break
        kept_idx.append(idx[best])
        kept_scores.append(current[best])
        rest = torch.ones_like(idx, dtype=torch.bool)
        rest[best] = False
        iou = box_iou_elementwise(boxes[idx[best]][None], boxes[idx[rest]])
        current = current[rest] * torch.exp(-(iou**2) / sigma)
        idx = idx[rest]
    if not kept_idx:
        empty = torch.zeros(0, dtype=torch.long, device=boxes.device)
        return empty, scores.new_zeros(0)
    return torch.stack(kept_idx), torch.stack(kept_scores)
