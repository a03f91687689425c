"""pycocotools' COCOeval with a vectorised per-image matching step (bbox only).

Stock `COCOeval.evaluateImg` runs a Python triple loop (IoU thresholds × detections ×
ground truths) once per image, category and area range; on 72 images with ~300
detections each that loop alone takes about a second. `FastCOCOeval` keeps everything
else of pycocotools — `_prepare`, `computeIoU` (its C code), `accumulate`, `summarize`
— and replaces only `evaluate` by one that builds the *same* `evalImgs` list:

- a detection can only match a ground truth with IoU ≥ 0.5 (the lowest threshold), so
  detections with no such ground truth are unmatched at every threshold and area range
  and skip the loop entirely;
- the remaining detections are matched greedily in score order as pycocotools does,
  vectorised over all 10 IoU thresholds and 4 area ranges at once, with the same rules:
  highest IoU wins, ties go to the later ground truth, a non-ignored ground truth is
  preferred over an ignored one, each ground truth is matched once.

Images with crowd ground truth (which may be matched many times) use the stock
`evaluateImg`, so the result equals pycocotools' in every case; tests check all 12
numbers against the stock class.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
from pycocotools.cocoeval import COCOeval


class FastCOCOeval(COCOeval):
    """Drop-in `COCOeval(cocoGt, cocoDt, "bbox")` whose `evaluate()` is vectorised."""

    def __init__(self, coco_gt: Any, coco_dt: Any, iou_type: str = "bbox") -> None:
        if iou_type != "bbox":
            raise ValueError(f"FastCOCOeval supports iouType 'bbox' only, not {iou_type!r}")
        super().__init__(coco_gt, coco_dt, iou_type)

    def evaluate(self) -> None:
        """Fills `self.evalImgs` exactly as `COCOeval.evaluate` would, without printing."""
        p = self.params
        if not p.useCats:
            raise ValueError("FastCOCOeval needs params.useCats = 1")
        p.imgIds = list(np.unique(p.imgIds))
        p.catIds = list(np.unique(p.catIds))
        p.maxDets = sorted(p.maxDets)
        self.params = p
        self._prepare()
        self.ious = {(i, c): self.computeIoU(i, c) for i in p.imgIds for c in p.catIds}
        max_det = p.maxDets[-1]
        n_area, n_img = len(p.areaRng), len(p.imgIds)
        evals: list[Any] = [None] * (len(p.catIds) * n_area * n_img)
        for k, cat in enumerate(p.catIds):
            for i, img in enumerate(p.imgIds):
                per_area = self._evaluate_pair(img, cat, max_det)
                for a in range(n_area):
                    evals[(k * n_area + a) * n_img + i] = per_area[a]
        self.evalImgs = evals
        self._paramsEval = copy.deepcopy(self.params)

    def _evaluate_pair(self, img: Any, cat: Any, max_det: int) -> list[dict[str, Any] | None]:
        """evalImg dicts of one (image, category) for every area range, in `areaRng` order."""
        p = self.params
        gt, dt = self._gts[img, cat], self._dts[img, cat]
        if not gt and not dt:
            return [None] * len(p.areaRng)
        if any(g["iscrowd"] for g in gt):
            return [self.evaluateImg(img, cat, rng, max_det) for rng in p.areaRng]
        order = np.argsort([-d["score"] for d in dt], kind="mergesort")[:max_det]
        dt = [dt[j] for j in order]
        thr = np.minimum(np.asarray(p.iouThrs, dtype=np.float64), 1 - 1e-10)  # (T,)
        rng = np.asarray(p.areaRng, dtype=np.float64)  # (A, 2)
        g_area = np.array([g["area"] for g in gt], dtype=np.float64)
        d_area = np.array([d["area"] for d in dt], dtype=np.float64)
        g_base = np.array([bool(g["ignore"]) for g in gt], dtype=bool)
        g_ig = g_base[None] | (g_area[None] < rng[:, :1]) | (g_area[None] > rng[:, 1:])  # (A, G)
        d_out = (d_area[None] < rng[:, :1]) | (d_area[None] > rng[:, 1:])  # (A, D)
        n_a, n_t, n_g, n_d = len(rng), len(thr), len(gt), len(dt)
        match = np.full((n_a, n_t, n_d), -1, dtype=np.int64)  # index of the matched gt
        ious = self.ious[img, cat]
        if n_g and n_d:
            _greedy_match(np.asarray(ious, dtype=np.float64), thr, g_ig, match)
        matched = match >= 0
        g_ids = np.array([g["id"] for g in gt], dtype=np.float64)
        d_ids = np.array([d["id"] for d in dt], dtype=np.float64)
        d_scores = [d["score"] for d in dt]
        out = []
        for a in range(n_a):
            m = match[a]
            dtm = np.where(matched[a], g_ids[np.maximum(m, 0)] if n_g else 0.0, 0.0)
            dt_ig = np.where(matched[a], g_ig[a][np.maximum(m, 0)] if n_g else False, False)
            dt_ig = dt_ig | (~matched[a] & d_out[a][None])
            gtm = np.zeros((n_t, n_g))
            t_idx, d_idx = np.nonzero(matched[a])
            gtm[t_idx, m[t_idx, d_idx]] = d_ids[d_idx]
            g_order = np.argsort(g_ig[a].astype(np.int64), kind="mergesort")
            out.append({
                "image_id": img,
                "category_id": cat,
                "aRng": p.areaRng[a],
                "maxDet": max_det,
                "dtIds": [d["id"] for d in dt],
                "gtIds": [gt[j]["id"] for j in g_order],
                "dtMatches": dtm,
                "gtMatches": gtm[:, g_order],
                "dtScores": d_scores,
                "gtIgnore": g_ig[a][g_order].astype(np.int64),
                "dtIgnore": dt_ig,
            })
        return out


def _greedy_match(ious: np.ndarray, thr: np.ndarray, g_ig: np.ndarray, match: np.ndarray) -> None:
    """pycocotools' greedy matching for every (area range, IoU threshold) at once.

    ious: (D, G) with detections sorted by score (highest first), ground truths in their
    original order; thr: (T,); g_ig: (A, G) ignore flags per area range. Writes the
    matched ground-truth index (or -1) into `match` (A, T, D).
    """
    n_g = ious.shape[1]
    taken = np.zeros(match.shape[:2] + (n_g,), dtype=bool)  # (A, T, G)
    keep = ~g_ig[:, None, :]
    for d in np.nonzero((ious >= thr.min()).any(axis=1))[0]:
        row = ious[d]
        free = ~taken & (row[None, :] >= thr[:, None])[None]  # (A, T, G)
        regular = free & keep
        cand = np.where(regular.any(axis=2, keepdims=True), regular, free)
        found = cand.any(axis=2)  # (A, T)
        if not found.any():
            continue
        scored = np.where(cand, row[None, None, :], -1.0)
        best = n_g - 1 - np.argmax(scored[:, :, ::-1], axis=2)  # last index among equal maxima
        a_idx, t_idx = np.nonzero(found)
        g_idx = best[a_idx, t_idx]
        match[a_idx, t_idx, d] = g_idx
        taken[a_idx, t_idx, g_idx] = True
