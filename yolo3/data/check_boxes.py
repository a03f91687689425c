"""Pure checks on one image's boxes: out of bounds, degenerate, duplicates.

boxes: (N, 4) float64 xyxy original pixels; class_ids: (N,); size: (h, w) of the image.
"""

from __future__ import annotations

import numpy as np


def out_of_bounds(boxes: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """(N,) bool: some coordinate lies outside [0, w] × [0, h]."""
    h, w = size
    return (boxes[:, 0] < 0) | (boxes[:, 1] < 0) | (boxes[:, 2] > w) | (boxes[:, 3] > h) | (
        boxes[:, 0] > w) | (boxes[:, 1] > h) | (boxes[:, 2] < 0) | (boxes[:, 3] < 0)


def clip(boxes: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Boxes clipped to the image (a copy)."""
    h, w = size
    out = boxes.copy()
    out[:, 0::2] = out[:, 0::2].clip(0, w)
    out[:, 1::2] = out[:, 1::2].clip(0, h)
    return out


def degenerate(boxes: np.ndarray) -> np.ndarray:
    """(N,) bool: zero or negative width or height."""
    return (boxes[:, 2] <= boxes[:, 0]) | (boxes[:, 3] <= boxes[:, 1])


def pairwise_iou(boxes: np.ndarray) -> np.ndarray:
    """(N, N) IoU of every pair (float64). O(N²) memory: for small N and tests only."""
    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    lt = np.maximum(boxes[:, None, :2], boxes[None, :, :2])
    rb = np.minimum(boxes[:, None, 2:], boxes[None, :, 2:])
    inter = (rb - lt).clip(0).prod(2)
    return inter / np.maximum(area[:, None] + area[None, :] - inter, 1e-12)


def paired_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(K,) IoU of rows a[k] and b[k] ((K, 4) xyxy each)."""
    inter = (np.minimum(a[:, 2:], b[:, 2:]) - np.maximum(a[:, :2], b[:, :2])).clip(0).prod(1)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    return inter / np.maximum(area_a + area_b - inter, 1e-12)


MAX_CANDIDATE_PAIRS = 8_000_000
"""Work cap of the duplicate search on one image (pairs whose IoU is computed; a few
seconds of numpy). Only boxes piled on each other by the hundred thousand reach it
(benchmarks/bench_duplicates.py: 10⁶ random boxes ~100 deep)."""
_CHUNK = 1_000_000


class TooManyOverlaps(ValueError):
    """The duplicate search on one image would compute more than its cap of IoUs."""


def _grid(bx: np.ndarray, t: float) -> tuple[np.ndarray, list[tuple[np.ndarray, np.ndarray]]]:
    """Candidate ranges for boxes bx (M, 4) of one class and two adjacent size levels:
    (order, [(lo, hi), …]) where, with boxes sorted by `order`, box k meets boxes lo[k]:hi[k]
    of each range (its own grid cell after it, then four neighbouring cells).

    IoU > t needs |Δx1| < (1 - t)·max(w) and |Δy1| < (1 - t)·max(h), so a grid with cells
    of those sides holds each such pair in the same or in neighbouring cells."""
    origin = bx[:, :2].min(0)
    extent = bx[:, :2].max(0) - origin
    cell = max(1.0 - t, 1e-3) * np.maximum((bx[:, 2:] - bx[:, :2]).max(0), 1e-9)
    while (extent[0] / cell[0] + 3) * (extent[1] / cell[1] + 3) > 2.0**62:  # keys fit int64; larger cells are safe
        cell *= 2
    cx = np.floor((bx[:, 0] - origin[0]) / cell[0]).astype(np.int64)
    cy = np.floor((bx[:, 1] - origin[1]) / cell[1]).astype(np.int64)
    stride = int(extent[1] / cell[1]) + 3
    key = cx * stride + cy
    order = np.argsort(key, kind="stable")
    key = key[order]
    ranges = [(np.arange(1, len(key) + 1), np.searchsorted(key, key, "right"))]  # same cell: the later ones
    for off in (1, stride - 1, stride, stride + 1):  # the cells above, right-below, right, right-above
        ranges.append((np.searchsorted(key, key + off, "left"), np.searchsorted(key, key + off, "right")))
    return order, ranges


def _group_pairs(bx: np.ndarray, owner: np.ndarray, t: float, order: np.ndarray,
                 ranges: list[tuple[np.ndarray, np.ndarray]]) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """(row a, row b, iou) with IoU > t among the candidate ranges of _grid, at least one
    of a, b an `owner`, computed in chunks of at most _CHUNK pairs."""
    bx, owner = bx[order], owner[order]
    out = []
    for lo, hi in ranges:
        counts = hi - lo
        ends = np.cumsum(counts)
        start = 0
        while start < len(counts):  # rows whose pairs fit one chunk
            stop = max(int(np.searchsorted(ends, (ends[start - 1] if start else 0) + _CHUNK, "right")), start + 1)
            c = counts[start:stop]
            a = np.repeat(np.arange(start, stop), c)
            b = np.arange(int(c.sum())) - np.repeat(np.cumsum(c) - c, c) + np.repeat(lo[start:stop], c)
            start = stop
            useful = owner[a] | owner[b]  # two non-owners meet again in their own level's group
            a, b = a[useful], b[useful]
            iou = paired_iou(bx[a], bx[b])
            hit = iou > t
            if hit.any():
                out.append((order[a[hit]], order[b[hit]], iou[hit]))
    return out


def overlapping_pairs(boxes: np.ndarray, class_ids: np.ndarray, threshold: float,
                      max_pairs: int = MAX_CANDIDATE_PAIRS) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every pair (i < j) of the same class with IoU > threshold: arrays (i, j, iou),
    sorted by (j, i). boxes: (N, 4) finite xyxy with positive width and height.

    O(N log N) time and O(N + chunk) memory, with no N×N matrix: IoU > t needs sizes
    within a factor t of each other and top-left corners within (1 - t)·size, so boxes
    are bucketed by class and size level (factor B = max(1.25, 1/t)) and a grid of that
    level's cell, and IoU is computed only for boxes in neighbouring cells. Raises
    TooManyOverlaps when that would still be more than max_pairs IoUs (near-identical
    distinct boxes by the hundred thousand).
    """
    n = len(boxes)
    empty = (np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0))
    if n < 2 or threshold >= 1:
        return empty
    t = max(float(threshold), 1e-6)
    base = max(1.25, 1.0 / t)  # boxes with IoU > t differ in size by less than a factor 1/t: adjacent levels
    size = np.maximum(np.maximum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]), 1e-9)
    level = np.floor(np.log(size) / np.log(base)).astype(np.int64)
    order = np.lexsort((level, class_ids))  # by class, then size level: each group is one slice
    cls_s, lvl_s = class_ids[order], level[order]
    starts = np.flatnonzero(np.r_[True, (cls_s[1:] != cls_s[:-1]) | (lvl_s[1:] != lvl_s[:-1])])
    ends = np.r_[starts[1:], n]
    groups = []
    computed = 0
    for g, (s, e) in enumerate(zip(starts, ends)):
        # this level's boxes own the group; the next level's (same class) join as guests
        nxt = g + 1 < len(starts) and cls_s[starts[g + 1]] == cls_s[s] and lvl_s[starts[g + 1]] == lvl_s[s] + 1
        stop = ends[g + 1] if nxt else e
        if stop - s < 2:
            continue
        rows = order[s:stop]
        grid = _grid(boxes[rows], t)
        computed += sum(int((hi - lo).sum()) for lo, hi in grid[1])
        if computed > max_pairs:  # counted before any IoU is computed: a refusal is fast
            raise TooManyOverlaps(f"{n} boxes overlap so densely that the duplicate search would compute over "
                                  f"{max_pairs:,} IoUs")
        groups.append((rows, np.arange(stop - s) < e - s, grid))
    found = []
    for rows, owner, (grid_order, ranges) in groups:
        found += [(rows[a], rows[b], v) for a, b, v in _group_pairs(boxes[rows], owner, t, grid_order, ranges)]
    if not found:
        return empty
    a = np.concatenate([f[0] for f in found])
    b = np.concatenate([f[1] for f in found])
    v = np.concatenate([f[2] for f in found])
    i, j = np.minimum(a, b), np.maximum(a, b)
    order = np.lexsort((i, j))
    return i[order], j[order], v[order]


def duplicate_pairs(boxes: np.ndarray, class_ids: np.ndarray, threshold: float) -> list[tuple[int, int, float]]:
    """(i, j, iou) for i < j of the same class with IoU > threshold, in order (by i, then j)."""
    i, j, iou = overlapping_pairs(boxes, class_ids, threshold)
    order = np.lexsort((j, i))
    return [(int(a), int(b), float(c)) for a, b, c in zip(i[order], j[order], iou[order])]


def greedy_duplicates(boxes: np.ndarray, class_ids: np.ndarray, near_iou: float, dup_iou: float,
                      drop_near: bool, drop_dup: bool,
                      max_pairs: int = MAX_CANDIDATE_PAIRS) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Duplicate labels on one image, decided in file order like NMS.

    Box j is compared with the earlier boxes of its class still kept; when the best IoU
    is above near_iou, j is matched with the kept box i of the highest IoU (the earliest
    on ties), and then dropped when that IoU is > dup_iou and drop_dup, or in
    (near_iou, dup_iou] and drop_near. So each box is reported once, whatever the number
    of its copies. Exact copies (same class and coordinates) are grouped first, so a
    million identical lines cost O(N log N); the rest goes through overlapping_pairs
    (TooManyOverlaps past max_pairs). Returns arrays (j, i, iou), sorted by j.
    """
    n = len(boxes)
    best_i, best_v = np.full(n, -1, np.int64), np.zeros(n)
    if n < 2 or near_iou >= 1:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0)
    rep_of = _first_identical(boxes, class_ids)
    reps = np.flatnonzero(rep_of == np.arange(n))
    i, j, iou = overlapping_pairs(boxes[reps], class_ids[reps], near_iou, max_pairs)
    i, j = reps[i], reps[j]
    order = np.lexsort((i, -iou, j))  # per j: best IoU first, then earliest i
    i, j, iou = i[order], j[order], iou[order]
    kept = np.ones(n, bool)
    for start, stop in zip(*_runs(j)):  # only boxes with candidates; in file order
        k = int(j[start])
        for m in range(start, stop):
            if kept[i[m]]:
                best_i[k], best_v[k] = i[m], iou[m]
                kept[k] = not (drop_dup if iou[m] > dup_iou else drop_near)
                break
    copies = np.flatnonzero(rep_of != np.arange(n))
    g = rep_of[copies]
    alive = kept[g]  # a copy of a kept box matches it with IoU 1; of a dropped box, as that box did
    best_i[copies] = np.where(alive, g, best_i[g])
    best_v[copies] = np.where(alive, 1.0, best_v[g])
    kept[copies] = alive & (not (drop_dup if 1.0 > dup_iou else drop_near))
    found = np.flatnonzero(best_i >= 0)
    return found, best_i[found], best_v[found]


def _first_identical(boxes: np.ndarray, class_ids: np.ndarray) -> np.ndarray:
    """(N,) index of the first box with the same class and coordinates, for every box."""
    order = np.lexsort((boxes[:, 3], boxes[:, 2], boxes[:, 1], boxes[:, 0], class_ids))  # stable: earliest first
    s_boxes, s_ids = boxes[order], class_ids[order]
    new = np.r_[True, (s_ids[1:] != s_ids[:-1]) | (s_boxes[1:] != s_boxes[:-1]).any(1)]
    first = order[np.flatnonzero(new)][np.cumsum(new) - 1]  # per sorted row: its group's first index
    out = np.empty(len(boxes), np.int64)
    out[order] = first
    return out


def _runs(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(starts, stops) of the runs of equal consecutive values."""
    if not len(values):
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    starts = np.flatnonzero(np.r_[True, values[1:] != values[:-1]])
    return starts, np.r_[starts[1:], len(values)]


def exif_to_displayed(boxes: np.ndarray, stored: tuple[int, int], orientation: int) -> np.ndarray:
    """Boxes (N, 4) xyxy in the stored frame (h, w) of an image → the frame it is displayed
    in (and read_image returns) after its EXIF orientation (1–8; others: unchanged)."""
    h, w = stored
    x1, y1, x2, y2 = boxes.T
    corners = {  # (x, y) of both corners after display, per orientation
        2: (w - x1, y1, w - x2, y2), 3: (w - x1, h - y1, w - x2, h - y2), 4: (x1, h - y1, x2, h - y2),
        5: (y1, x1, y2, x2), 6: (h - y1, x1, h - y2, x2), 7: (h - y1, w - x1, h - y2, w - x2),
        8: (y1, w - x1, y2, w - x2),
    }.get(orientation, (x1, y1, x2, y2))
    ax, ay, bx, by = corners
    return np.stack([np.minimum(ax, bx), np.minimum(ay, by), np.maximum(ax, bx), np.maximum(ay, by)], 1).reshape(-1, 4)
