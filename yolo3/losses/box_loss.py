"""Box losses for the positives (SPEC §4.1–4.2), as pure functions of raw outputs.

All take P positives: raw (P, 4) tx, ty, tw, th; the target centre offset within the
cell (P, 2) in cells; the anchor (P, 2) and target (P, 2) (w, h) in input pixels. The
decode matches `yolo3.ops.decode`: xy = s·σ(t) − (s − 1)/2 (s = 1 paper, 2 v5),
wh = anchor·e^{t}.
"""

from __future__ import annotations

import torch

from yolo3.losses.catalogue import bce_with_logits, binary_entropy
from yolo3.ops.boxes import cxcywh_to_xyxy, generalized_iou

MAX_LOG_WH = 8.0  # e^8 ≈ 3000× the anchor: beyond any real box; keeps exp finite


def xy_scale(xy_mode: str) -> float:
    """s of the centre decode: 1 (paper) or 2 (v5); 'ltrb' (anchor-free) has none."""
    if xy_mode not in ("paper", "v5"):
        raise ValueError(f"xy_mode must be 'paper' or 'v5' here, got {xy_mode!r}")
    return 1.0 if xy_mode == "paper" else 2.0


def small_object_scale(target_wh: torch.Tensor, image_wh: tuple[float, float]) -> torch.Tensor:
    """2 − w·h with w, h normalised by the input size: (P, 2) pixels → (P,) in [1, 2]."""
    return 2.0 - (target_wh[:, 0] / image_wh[0]) * (target_wh[:, 1] / image_wh[1])


def paper_box_loss(
    raw: torch.Tensor, offset: torch.Tensor, anchor_wh: torch.Tensor, target_wh: torch.Tensor, xy_mode: str = "paper"
) -> torch.Tensor:
    """YOLOv3's box loss per positive: (P,).

    Centre: BCE-with-logits of (tx, ty) against the σ-target (offset + (s−1)/2)/s, minus
    the target's entropy (the BCE minimum), so a perfect fit costs 0 and the gradient
    is unchanged. Size: MSE of (tw, th) against log(gw/pw), log(gh/ph). Summed over the
    four coordinates.
    """
    s = xy_scale(xy_mode)
    sigma_target = ((offset + (s - 1) / 2) / s).clamp(0, 1)
    xy = (bce_with_logits(raw[:, 0:2], sigma_target, "none") - binary_entropy(sigma_target)).sum(1)
    wh_target = torch.log(target_wh / anchor_wh)
    wh = ((raw[:, 2:4] - wh_target) ** 2).sum(1)
    return xy + wh


def decode_positive_boxes(
    raw: torch.Tensor, anchor_wh: torch.Tensor, stride: float, xy_mode: str = "paper"
) -> torch.Tensor:
    """Predicted (cx, cy, w, h) relative to the cell corner, in cells: (P, 4).

    ltrb (anchor-free): distances e^{t} cells from the cell centre (0.5, 0.5) to the four sides.
    """
    if xy_mode == "ltrb":
        ltrb = torch.exp(raw[:, 0:4].clamp(max=MAX_LOG_WH))
        return torch.cat([0.5 + (ltrb[:, 2:4] - ltrb[:, 0:2]) / 2, ltrb[:, 0:2] + ltrb[:, 2:4]], 1)
    s = xy_scale(xy_mode)
    xy = torch.sigmoid(raw[:, 0:2]) * s - (s - 1) / 2
    wh = torch.exp(raw[:, 2:4].clamp(max=MAX_LOG_WH)) * anchor_wh / stride
    return torch.cat([xy, wh], 1)


def iou_box_loss(
    raw: torch.Tensor,
    offset: torch.Tensor,
    anchor_wh: torch.Tensor,
    target_wh: torch.Tensor,
    stride: float,
    kind: str = "giou",
    xy_mode: str = "paper",
) -> tuple[torch.Tensor, torch.Tensor]:
    """1 − IoU / GIoU / DIoU / CIoU of the decoded box and the target, per positive.

    Returns (loss (P,) in [0, 2], plain IoU (P,) detached — for IoU objectness targets).
    """
    pred = cxcywh_to_xyxy(decode_positive_boxes(raw, anchor_wh, stride, xy_mode))
    target = cxcywh_to_xyxy(torch.cat([offset, target_wh / stride], 1))
    loss = 1.0 - generalized_iou(pred, target, kind)
    with torch.no_grad():
        iou = generalized_iou(pred, target, "iou")
    return loss, iou


def positive_iou(
    raw: torch.Tensor, offset: torch.Tensor, anchor_wh: torch.Tensor, target_wh: torch.Tensor, stride: float,
    xy_mode: str = "paper",
) -> torch.Tensor:
    """Detached IoU of decoded prediction and target per positive: (P,)."""
    with torch.no_grad():
        pred = cxcywh_to_xyxy(decode_positive_boxes(raw, anchor_wh, stride, xy_mode))
        target = cxcywh_to_xyxy(torch.cat([offset, target_wh / stride], 1))
        return generalized_iou(pred, target, "iou")
