"""Non-maximum suppression in torch (no torchvision): exact greedy NMS, vectorised.

Greedy NMS keeps the highest-scoring box, removes every box overlapping it by more than
the IoU threshold, and repeats. Here the overlaps are computed as matrices, block by
block of score-sorted candidates, and the greedy decision inside a block is solved as a
fixed point with matrix products (see `_greedy`), so the cost stays low with tens of
thousands of candidates. The pairwise IoU is computed per coordinate, (N, M) at a
time: the same arithmetic as `box_iou_elementwise` (bit-identical decisions) without
its (N, M, 2) intermediates, which made ~1,000 candidates cost ~20× torchvision's NMS.
"""

from __future__ import annotations

import numpy as np
import torch

from yolo3.ops.boxes import EPS, box_iou_elementwise, generalized_iou

FIXED_POINT_ROUNDS = 32
"""Matrix rounds of `_greedy` before it finishes with the sequential pass."""


def nms(
    boxes: torch.Tensor,
    scores: torch.Tensor,
    iou_threshold: float,
    max_keep: int | None = None,
    kind: str = "iou",
    block: int = 1024,
) -> torch.Tensor:
    """Greedy NMS.

    Candidates are visited by decreasing score in blocks of `block`: a block first loses
    every box that overlaps an already kept one (one (kept × block) overlap matrix), then
    greedy runs inside the block over its precomputed (block × block) matrix. The result
    is exactly greedy NMS; the work stops once `max_keep` boxes are kept.

    Args:
        boxes: (N, 4) xyxy, finite (post-processing drops non-finite boxes first).
        scores: (N,).
        iou_threshold: suppress boxes with overlap > this to a kept box.
        max_keep: stop after this many kept boxes (None = no limit).
        kind: overlap measure, `iou` (classic) or `diou` (DIoU-NMS: IoU − ρ²/c²).
        block: candidates per block (memory: block² booleans).

    Returns:
        (K,) int64 indices into `boxes`, by decreasing score (ties: lower index first).
    """
    if kind not in ("iou", "diou"):
        raise ValueError(f"unknown NMS overlap {kind!r}; use iou or diou")
    if boxes.numel() == 0:
        return torch.zeros(0, dtype=torch.long, device=boxes.device)
    order = torch.sort(scores, descending=True, stable=True).indices
    ranked = boxes[order]
    limit = max_keep if max_keep is not None else order.numel()
    kept_parts: list[torch.Tensor] = []
    kept_boxes = ranked[:0]
    for start in range(0, order.numel(), block):
        chunk = ranked[start : start + block]
        alive = torch.ones(len(chunk), dtype=torch.bool, device=boxes.device)
        if len(kept_boxes):
            alive = ~(_overlap(kept_boxes, chunk, kind) > iou_threshold).any(0)
        candidates = alive.nonzero(as_tuple=True)[0]
        if candidates.numel():
            sub = chunk[candidates]
            keep = _greedy(_overlap(sub, sub, kind).gt_(iou_threshold).triu_(1))  # 0/1 floats, in place
            chosen = candidates[keep]
            kept_parts.append(start + chosen)
            kept_boxes = torch.cat([kept_boxes, chunk[chosen]])
        if len(kept_boxes) >= limit:
            break
    kept = torch.cat(kept_parts)[:limit] if kept_parts else order[:0]
    return order[kept]


def _overlap(a: torch.Tensor, b: torch.Tensor, kind: str) -> torch.Tensor:
    """(N, 4), (M, 4) xyxy → (N, M) IoU or DIoU."""
    return pairwise_iou(a, b) if kind == "iou" else generalized_iou(a[:, None], b[None], "diou")


def pairwise_iou(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """(N, 4), (M, 4) xyxy → (N, M) IoU, equal bit for bit to `box_iou_elementwise(a[:, None], b[None])`."""
    # Contiguous coordinate rows: broadcasting strided columns is ~100× slower in torch.
    ax1, ay1, ax2, ay2 = a.t().contiguous()
    bx1, by1, bx2, by2 = b.t().contiguous()
    # In place on two (N, M) buffers: fresh (N, M) temporaries per op cost more than the
    # arithmetic (page faults on every new multi-MB allocation).
    w = torch.minimum(ax2[:, None], bx2[None])
    h = torch.maximum(ax1[:, None], bx1[None])
    w.sub_(h).clamp_(min=0)
    torch.minimum(ay2[:, None], by2[None], out=h)
    h.sub_(torch.maximum(ay1[:, None], by1[None])).clamp_(min=0)
    inter = w.mul_(h)
    area_a = (ax2 - ax1).clamp(min=0) * (ay2 - ay1).clamp(min=0)
    area_b = (bx2 - bx1).clamp(min=0) * (by2 - by1).clamp(min=0)
    union = torch.add(area_a[:, None], area_b[None], out=h).sub_(inter).clamp_(min=EPS)
    return inter.div_(union)


def _greedy(suppresses: torch.Tensor) -> torch.Tensor:
    """Greedy NMS decisions from an (n, n) strictly upper-triangular 0/1 float matrix
    (`suppresses[i, j] = 1`: box i, if kept, removes later box j) → (n,) bool kept.

    Box j is kept iff no kept i < j suppresses it: the unique fixed point of
    keep ← (no kept row suppresses the column). Iterating from "all kept" fixes the
    boxes in score order, one suppression chain link per round, so it usually
    converges in a few matrix-vector products (sums of 0/1 values: exact in float);
    long chains finish with the sequential pass (the same answer, as the fixed point
    is unique).
    """
    n = suppresses.shape[0]
    keep = torch.ones(n, dtype=suppresses.dtype, device=suppresses.device)
    for _ in range(FIXED_POINT_ROUNDS):
        new = (keep @ suppresses == 0).to(suppresses.dtype)
        if torch.equal(new, keep):
            return keep.bool()
        keep = new
    rows = (suppresses > 0).cpu().numpy()
    kept = np.ones(n, dtype=bool)
    for i in range(n):  # sequential greedy over the precomputed matrix: numpy row ops
        if kept[i]:
            kept[i + 1 :] &= ~rows[i, i + 1 :]
    return torch.from_numpy(kept).to(suppresses.device)


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
