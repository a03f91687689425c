"""Paper-mode assignment (SPEC §3.1): one responsible anchor per GT.

Each GT goes to the one anchor of all S·A whose (w, h) has the highest centre-aligned
IoU with the GT's — hence to exactly one scale — at the grid cell containing its
centre. Vectorised over the whole batch: no loop over images or boxes (one loop over
the 2–3 scales). The ignore mask of §3.2 is in `yolo3.assign.ignore`.
"""

from __future__ import annotations

import torch

from yolo3.assign.targets import Assignment, ScaleTargets, count_unmatched, resolve_collisions
from yolo3.ops.boxes import wh_iou, xyxy_to_cxcywh


def assign_paper(
    targets: torch.Tensor,
    anchors: torch.Tensor,
    strides: tuple[int, ...],
    grid_sizes: list[tuple[int, int]],
) -> Assignment:
    """Builds paper-mode targets.

    Args:
        targets: (M, 6) `[batch_index, class_id, x1, y1, x2, y2]`, input pixels.
        anchors: (S, A, 2) anchor (w, h) in input pixels (the model's `anchors`).
        strides: S strides, ascending.
        grid_sizes: S (H, W) of the raw outputs.

    Returns:
        Assignment with per-scale positives; offsets in [0, 1).
    """
    num_scales, num_anchors = anchors.shape[:2]
    device = targets.device
    cxcywh = xyxy_to_cxcywh(targets[:, 2:6].float())
    flat = anchors.reshape(-1, 2).to(device, torch.float32)
    shape_iou = wh_iou(cxcywh[:, 2:4], flat)  # (M, S·A)
    best_iou, best = shape_iou.max(1) if len(targets) else (shape_iou.new_zeros(0), shape_iou.new_zeros(0).long())
    scale_of, anchor_of = best // num_anchors, best % num_anchors
    scales, collisions = [], 0
    for s, (stride, (h, w)) in enumerate(zip(strides, grid_sizes)):
        idx = (scale_of == s).nonzero(as_tuple=True)[0]
        g = cxcywh[idx, 0:2] / stride
        gx = g[:, 0].floor().clamp(0, w - 1).long()
        gy = g[:, 1].floor().clamp(0, h - 1).long()
        b, a = targets[idx, 0].long(), anchor_of[idx]
        key = ((b * num_anchors + a) * h + gy) * w + gx
        kept, dropped = resolve_collisions(key, best_iou[idx])
        collisions += dropped
        idx, gx, gy, b, a = idx[kept], gx[kept], gy[kept], b[kept], a[kept]
        offset = (g[kept] - torch.stack([gx, gy], 1)).clamp(0, 1)  # clamp: centres on the far border
        scales.append(ScaleTargets(b, a, gy, gx, offset, targets[idx, 2:6].float(), flat[s * num_anchors + a],
                                   targets[idx, 1].long(), idx))
    return Assignment(scales, collisions, count_unmatched(len(targets), scales, device))
