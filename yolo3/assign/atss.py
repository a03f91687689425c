"""ATSS assignment (Adaptive Training Sample Selection, Zhang et al., CVPR 2020).

For every GT and every scale the k predictions whose prior centres — cell centres
((gx, gy) + 0.5)·stride — are closest to the GT centre are candidates (A anchors share
a cell's centre: the ⌈k/A⌉ nearest cells, anchor by anchor, the first k; distance ties
go to the lower row-major cell index). Each candidate's prior box (its anchor, or for the
anchor-free head the reference square, centred on the cell) has an IoU with the GT;
over all of the GT's candidates (all scales together) the threshold is
t = mean + std (sample standard deviation, as the authors' code). With `clamp_to_best`
(the default here) t is at most the GT's best candidate IoU: when the reference boxes
contain the GT, its nearest candidates tie at the top IoU, and on a 2-scale model the
std then lifts t above every candidate, leaving the GT without positives (ATSS as
published; clamp_to_best=False). Positives are the
candidates with IoU ≥ t whose prior centre lies strictly inside the GT box, and whose
cell the model's decode can reach (paper: the centre's own cell, offsets in [0, 1); v5: offsets in
(−0.5, 1.5); ltrb: any cell, the point being inside the box). A prediction claimed by
several GTs goes to the one with the highest IoU (exact ties: the GT listed later).
With `fallback` (off by default) a GT that no candidate passes — typically an object
thinner than the stride, whose box contains no cell centre — takes its reachable
candidate of highest IoU anyway (first in scale, then candidate order on ties), so
small and thin objects are not left without a positive.
Vectorised over the batch: one loop over the 2–3 scales, none over images or boxes.
"""

from __future__ import annotations

import math

import torch

from yolo3.assign.targets import Assignment, ScaleTargets, count_unmatched, resolve_collisions
from yolo3.ops.boxes import box_iou_elementwise, xyxy_to_cxcywh


def atss_candidates(
    targets: torch.Tensor, anchors: torch.Tensor, strides: tuple[int, ...], grid_sizes: list[tuple[int, int]],
    topk: int = 9,
) -> list[dict[str, torch.Tensor]]:
    """Per scale, the candidates of every GT: dict of (M, K_s) tensors gx, gy, a (long), iou, inside.

    targets: (M, 6) `[batch_index, class_id, x1, y1, x2, y2]` input pixels; anchors (S, A, 2)
    input pixels; K_s = min(k, A·H·W).
    """
    device = targets.device
    boxes = targets[:, 2:6].float()
    centre = xyxy_to_cxcywh(boxes)[:, 0:2]
    m = len(targets)
    out = []
    for s, (stride, (h, w)) in enumerate(zip(strides, grid_sizes)):
        anc = anchors[s].to(device, torch.float32)  # (A, 2)
        num_anchors = anc.shape[0]
        k = min(topk, num_anchors * h * w)
        n_cells = math.ceil(k / num_anchors)
        ys, xs = torch.meshgrid(torch.arange(h, device=device), torch.arange(w, device=device), indexing="ij")
        points = (torch.stack([xs, ys], -1).reshape(-1, 2).float() + 0.5) * stride  # (H·W, 2), row-major
        dist = ((centre[:, None, :] - points[None]) ** 2).sum(-1)  # (M, H·W)
        cells = torch.sort(dist, dim=1, stable=True).indices[:, :n_cells]  # (M, n_cells)
        cell = cells[:, :, None].expand(m, n_cells, num_anchors).reshape(m, n_cells * num_anchors)[:, :k]
        a = torch.arange(num_anchors, device=device).repeat(n_cells)[:k].expand(m, k)
        gx, gy = cell % w, cell // w
        p = points[cell]  # (M, K, 2)
        half = anc[a] / 2
        prior = torch.cat([p - half, p + half], -1)
        iou = box_iou_elementwise(prior, boxes[:, None, :])
        b = boxes[:, None, :]
        inside = (p[..., 0] > b[..., 0]) & (p[..., 0] < b[..., 2]) & (p[..., 1] > b[..., 1]) & (p[..., 1] < b[..., 3])
        out.append({"gx": gx, "gy": gy, "a": a, "iou": iou, "inside": inside})
    return out


def atss_threshold(ious: torch.Tensor, clamp_to_best: bool = False) -> torch.Tensor:
    """(M, K) candidate IoUs → (M,) mean + sample std (std 0 for a single candidate),
    at most the best IoU of each row with `clamp_to_best`."""
    thr = ious.mean(1) if ious.shape[1] < 2 else ious.mean(1) + ious.std(1, unbiased=True)
    return torch.minimum(thr, ious.amax(1)) if clamp_to_best and ious.shape[1] else thr


def _reachable(offset: torch.Tensor, xy_mode: str) -> torch.Tensor:
    """Which (P, 2) centre offsets (in cells) the decode of `xy_mode` can produce."""
    if xy_mode == "paper":
        return ((offset >= 0) & (offset < 1)).all(1)
    if xy_mode == "v5":
        return ((offset > -0.5) & (offset < 1.5)).all(1)
    return torch.ones(len(offset), dtype=torch.bool, device=offset.device)  # ltrb: the inside rule suffices


def assign_atss(
    targets: torch.Tensor,
    anchors: torch.Tensor,
    strides: tuple[int, ...],
    grid_sizes: list[tuple[int, int]],
    topk: int = 9,
    xy_mode: str = "ltrb",
    clamp_to_best: bool = True,
    fallback: bool = False,
) -> Assignment:
    """Builds ATSS targets (see the module docstring).

    Args:
        targets: (M, 6) `[batch_index, class_id, x1, y1, x2, y2]`, input pixels.
        anchors: (S, A, 2) prior boxes (w, h) in input pixels (anchor-free: one per scale).
        strides: S strides, ascending.
        grid_sizes: S (H, W) of the raw outputs.
        topk: candidates per GT and scale (k).
        xy_mode: the model's decode: which cells can be reached.
        clamp_to_best: threshold at most the GT's best candidate IoU (False: as published).
        fallback: a GT without positives takes its best reachable candidate (see module docstring).

    Returns:
        Assignment; a GT may be positive on several cells and scales, or on none
        (counted in `unmatched`).
    """
    device = targets.device
    m = len(targets)
    cands = atss_candidates(targets, anchors, strides, grid_sizes, topk)
    thr = atss_threshold(torch.cat([c["iou"] for c in cands], 1), clamp_to_best) if m else targets.new_zeros(0)
    centre = xyxy_to_cxcywh(targets[:, 2:6].float())[:, 0:2]
    num_anchors = anchors.shape[1]
    positives, offsets = [], []
    for c, stride in zip(cands, strides):
        offset = centre[:, None, :] / stride - torch.stack([c["gx"], c["gy"]], -1).float()  # (M, K, 2)
        reach = _reachable(offset.reshape(-1, 2), xy_mode).view(offset.shape[:2])
        c["reach"] = reach
        positives.append((c["iou"] >= thr[:, None]) & c["inside"] & reach)
        offsets.append(offset)
    if fallback and m:
        pooled = torch.cat([c["iou"].masked_fill(~c["reach"], -1.0) for c in cands], 1)
        best_iou, best = pooled.max(1)
        lonely = ~torch.cat(positives, 1).any(1) & (best_iou >= 0)
        start = 0
        for pos in positives:
            inside_scale = lonely & (best >= start) & (best < start + pos.shape[1])
            rows = inside_scale.nonzero(as_tuple=True)[0]
            pos[rows, best[rows] - start] = True
            start += pos.shape[1]
    scales, collisions = [], 0
    for s, (c, pos, off, stride, (h, w)) in enumerate(zip(cands, positives, offsets, strides, grid_sizes)):
        gi, j = pos.nonzero(as_tuple=True)
        gx, gy, a, offset = c["gx"][gi, j], c["gy"][gi, j], c["a"][gi, j], off[gi, j]
        b = targets[gi, 0].long()
        key = ((b * num_anchors + a) * h + gy) * w + gx
        kept, dropped = resolve_collisions(key, c["iou"][gi, j])
        collisions += dropped
        gi, gx, gy, a, b, offset = gi[kept], gx[kept], gy[kept], a[kept], b[kept], offset[kept]
        scales.append(ScaleTargets(b, a, gy, gx, offset, targets[gi, 2:6].float(),
                                   anchors[s].to(device, torch.float32)[a], targets[gi, 1].long(), gi))
    return Assignment(scales, collisions, count_unmatched(m, scales, device))
