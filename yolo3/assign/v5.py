"""v5-mode assignment (SPEC §3.3): ratio-matched anchors on every layer, 3 cells per match.

Each GT is tried against every anchor of every scale and kept where
max(w/aw, aw/w, h/ah, ah/h) < `anchor_t`. A kept (GT, anchor) pair is positive in the
cell containing the centre and in the two neighbouring cells nearest to the centre
(one horizontal, one vertical, chosen by which half of the cell the centre lies in),
when they exist and the centre is more than one cell from that border. Offsets lie in
(−0.5, 1.5): the v5 decode `2σ(t) − 0.5` reaches them. Vectorised over the batch.
"""

from __future__ import annotations

import torch

from yolo3.assign.targets import Assignment, ScaleTargets, count_unmatched, resolve_collisions
from yolo3.ops.boxes import wh_iou, xyxy_to_cxcywh


def assign_v5(
    targets: torch.Tensor,
    anchors: torch.Tensor,
    strides: tuple[int, ...],
    grid_sizes: list[tuple[int, int]],
    anchor_t: float = 4.0,
) -> Assignment:
    """Builds v5-mode targets.

    Args:
        targets: (M, 6) `[batch_index, class_id, x1, y1, x2, y2]`, input pixels.
        anchors: (S, A, 2) anchor (w, h) in input pixels.
        strides: S strides, ascending.
        grid_sizes: S (H, W) of the raw outputs.
        anchor_t: shape-ratio threshold.

    Returns:
        Assignment; a GT may be positive on several scales (up to 3 cells × S·A anchors).
    """
    num_anchors = anchors.shape[1]
    device = targets.device
    cxcywh = xyxy_to_cxcywh(targets[:, 2:6].float())
    m = len(targets)
    scales, collisions = [], 0
    for s, (stride, (h, w)) in enumerate(zip(strides, grid_sizes)):
        anc = anchors[s].to(device, torch.float32)  # (A, 2)
        ratio = cxcywh[:, None, 2:4] / anc[None]  # (M, A, 2)
        match = torch.maximum(ratio, 1 / ratio).amax(-1) < anchor_t  # (M, A)
        gt_i, a = match.nonzero(as_tuple=True)
        g = cxcywh[gt_i, 0:2] / stride  # (K, 2) centre in cells
        frac = g % 1
        size = torch.tensor([w, h], device=device, dtype=g.dtype)
        # Candidate cell shifts: centre, left/right neighbour, up/down neighbour.
        shifts = torch.tensor([[0, 0], [-1, 0], [1, 0], [0, -1], [0, 1]], device=device, dtype=g.dtype)
        valid = torch.stack([
            torch.ones_like(frac[:, 0], dtype=torch.bool),
            (frac[:, 0] < 0.5) & (g[:, 0] > 1),
            (frac[:, 0] > 0.5) & (g[:, 0] < size[0] - 1),
            (frac[:, 1] < 0.5) & (g[:, 1] > 1),
            (frac[:, 1] > 0.5) & (g[:, 1] < size[1] - 1),
        ], 0)  # (5, K)
        which, k = valid.nonzero(as_tuple=True)
        cell = (g[k].floor() + shifts[which])
        cell = torch.minimum(cell.clamp(min=0), size - 1)
        gx, gy = cell[:, 0].long(), cell[:, 1].long()
        gi, ai = gt_i[k], a[k]
        b = targets[gi, 0].long()
        key = ((b * num_anchors + ai) * h + gy) * w + gx
        priority = wh_iou(cxcywh[gi, 2:4], anc)[torch.arange(len(gi), device=device), ai] if len(gi) else g.new_zeros(0)
        kept, dropped = resolve_collisions(key, priority)
        collisions += dropped
        gi, ai, gx, gy, b, k = gi[kept], ai[kept], gx[kept], gy[kept], b[kept], k[kept]
        offset = g[k] - torch.stack([gx, gy], 1).to(g.dtype)
        scales.append(ScaleTargets(b, ai, gy, gx, offset, targets[gi, 2:6].float(), anc[ai],
                                   targets[gi, 1].long(), gi))
    return Assignment(scales, collisions, count_unmatched(m, scales, device))
