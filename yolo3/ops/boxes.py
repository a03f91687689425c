"""Box conversions and the IoU family, as pure torch functions.

Conventions: `xyxy` = (x1, y1, x2, y2), `cxcywh` = (centre x, centre y, width, height),
both in the same pixel units. Pairwise functions take (N, 4) and (M, 4) and return
(N, M); elementwise ones take broadcastable (..., 4) and return (...).
"""

from __future__ import annotations

import math

import torch

EPS = 1e-9


def xyxy_to_cxcywh(boxes: torch.Tensor) -> torch.Tensor:
    x1, y1, x2, y2 = boxes.unbind(-1)
    return torch.stack([(x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1], -1)


def cxcywh_to_xyxy(boxes: torch.Tensor) -> torch.Tensor:
    cx, cy, w, h = boxes.unbind(-1)
    return torch.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], -1)


def box_area(boxes: torch.Tensor) -> torch.Tensor:
    """(..., 4) xyxy → (...) area; inverted boxes count as 0."""
    return (boxes[..., 2] - boxes[..., 0]).clamp(min=0) * (boxes[..., 3] - boxes[..., 1]).clamp(min=0)


def box_iou(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Pairwise IoU of xyxy boxes: (N, 4), (M, 4) → (N, M) in [0, 1]; 0 where both areas are 0."""
    return box_iou_elementwise(a[:, None, :], b[None, :, :])


def box_iou_elementwise(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """IoU of matching xyxy boxes (broadcast over leading dims)."""
    lt = torch.maximum(a[..., :2], b[..., :2])
    rb = torch.minimum(a[..., 2:], b[..., 2:])
    inter = (rb - lt).clamp(min=0).prod(-1)
    union = box_area(a) + box_area(b) - inter
    return inter / union.clamp(min=EPS)


def wh_iou(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """IoU of (w, h) shapes aligned at a common centre: (N, 2), (M, 2) → (N, M).

    The anchor-matching measure of the paper (and the k-means distance 1 − IoU).
    """
    inter = torch.minimum(a[:, None, 0], b[None, :, 0]) * torch.minimum(a[:, None, 1], b[None, :, 1])
    union = a[:, None, 0] * a[:, None, 1] + b[None, :, 0] * b[None, :, 1] - inter
    return inter / union.clamp(min=EPS)


def generalized_iou(a: torch.Tensor, b: torch.Tensor, kind: str = "giou") -> torch.Tensor:
    """Elementwise IoU / GIoU / DIoU / CIoU of xyxy boxes (broadcast), in [-1, 1].

    GIoU = IoU − |C \\ (A ∪ B)| / |C| (C: smallest enclosing box);
    DIoU = IoU − ρ²/c² (ρ: centre distance, c: enclosing diagonal);
    CIoU = DIoU − α·v, v = 4/π²·(atan(wb/hb) − atan(wa/ha))², α = v / (1 − IoU + v).
    """
    if kind not in ("iou", "giou", "diou", "ciou"):
        raise ValueError(f"unknown IoU kind {kind!r}; use iou, giou, diou or ciou")
    lt = torch.maximum(a[..., :2], b[..., :2])
    rb = torch.minimum(a[..., 2:], b[..., 2:])
    inter = (rb - lt).clamp(min=0).prod(-1)
    wa, ha = a[..., 2] - a[..., 0], a[..., 3] - a[..., 1]
    wb, hb = b[..., 2] - b[..., 0], b[..., 3] - b[..., 1]
    union = wa * ha + wb * hb - inter + EPS
    iou = inter / union
    if kind == "iou":
        return iou
    enc_lt = torch.minimum(a[..., :2], b[..., :2])
    enc_rb = torch.maximum(a[..., 2:], b[..., 2:])
    enc_wh = (enc_rb - enc_lt).clamp(min=0)
    if kind == "giou":
        enc_area = enc_wh.prod(-1) + EPS
        return iou - (enc_area - union) / enc_area
    diag2 = (enc_wh**2).sum(-1) + EPS
    centre2 = ((a[..., :2] + a[..., 2:] - b[..., :2] - b[..., 2:]) ** 2).sum(-1) / 4
    if kind == "diou":
        return iou - centre2 / diag2
    v = (4 / math.pi**2) * (torch.atan(wb / (hb + EPS)) - torch.atan(wa / (ha + EPS))) ** 2
    with torch.no_grad():
        alpha = v / (1 - iou + v + EPS)
    return iou - centre2 / diag2 - alpha * v


def clip_boxes(boxes: torch.Tensor, height: float, width: float) -> torch.Tensor:
    """Clips xyxy boxes to [0, width] × [0, height] (returns a new tensor)."""
    out = boxes.clone()
    out[..., 0::2] = out[..., 0::2].clamp(0, width)
    out[..., 1::2] = out[..., 1::2].clamp(0, height)
    return out
