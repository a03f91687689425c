"""Helpers for the evaluation tests: random ground truth/detections and a reference
COCO evaluation written directly against pycocotools (files + loadRes + COCOeval)."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import numpy as np
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from yolo3.data.sample import Sample
from yolo3.inference.results import Detections

H, W = 480, 640


def random_case(rng: np.random.Generator, n_images: int, num_classes: int, max_gt: int = 8, max_det: int = 40,
                tie_scores: bool = False) -> tuple[list[Sample], list[Detections]]:
    """GT boxes of all COCO size classes; detections near GT (jittered) plus random ones."""
    samples, dets = [], []
    for i in range(n_images):
        n = int(rng.integers(0, max_gt + 1))
        side = rng.choice([rng.uniform(4, 30), rng.uniform(33, 95), rng.uniform(100, 300)], size=n) if n else np.zeros(0)
        wh = np.stack([side * rng.uniform(0.6, 1.4, n), side * rng.uniform(0.6, 1.4, n)], 1) if n else np.zeros((0, 2))
        xy = rng.uniform(0, 1, (n, 2)) * np.maximum([W, H] - wh, 1)
        gt = np.concatenate([xy, xy + wh], 1)
        cls = rng.integers(0, num_classes, n)
        samples.append(Sample(Path(f"img{i}.jpg"), gt, cls, image_id=i, image_size=(H, W)))
        m = int(rng.integers(0, max_det + 1))
        near = rng.integers(0, max(n, 1), m)
        size = np.tile(wh[near], 2) if n else np.full((m, 4), 20.0)
        jitter = rng.normal(0, 0.15, (m, 4)) * size
        boxes = (gt[near] if n else rng.uniform(0, 400, (m, 4))) + jitter
        rand = rng.uniform(0, 1, m) < 0.3
        boxes[rand] = np.sort(rng.uniform(0, [W, H, W, H], (int(rand.sum()), 4)).reshape(-1, 2, 2), axis=1).reshape(-1, 4)
        boxes[:, 2:] = np.maximum(boxes[:, 2:], boxes[:, :2] + 1)
        dcls = np.where(rng.uniform(0, 1, m) < 0.8, cls[near] if n else 0, rng.integers(0, num_classes, m))
        scores = rng.choice([0.3, 0.5, 0.7], m) if tie_scores else rng.uniform(0.001, 1, m)
        dets.append(Detections(boxes.astype(np.float32), scores.astype(np.float32), dcls.astype(np.int64),
                               [str(c) for c in range(num_classes)], (H, W), f"img{i}.jpg"))
    return samples, dets


def reference_coco_stats(samples: list[Sample], dets: list[Detections], num_classes: int, tmp: Path,
                         cat_ids: list[int] | None = None) -> np.ndarray:
    """The 12 COCOeval.stats computed by stock pycocotools from JSON files."""
    images = [{"id": 100 + i, "width": W, "height": H} for i in range(len(samples))]
    anns = []
    for i, s in enumerate(samples):
        for box, c in zip(s.boxes, s.class_ids):
            x, y, w, h = float(box[0]), float(box[1]), float(box[2] - box[0]), float(box[3] - box[1])
            anns.append({"id": len(anns) + 1, "image_id": 100 + i, "category_id": int(c) + 7,
                         "bbox": [x, y, w, h], "area": w * h, "iscrowd": 0})
    gt_file = tmp / "gt.json"
    gt_file.write_text(json.dumps({"images": images, "annotations": anns,
                                   "categories": [{"id": c + 7, "name": str(c)} for c in range(num_classes)]}))
    results = []
    for i, d in enumerate(dets):
        for box, score, c in zip(d.boxes.astype(np.float64), d.scores.astype(np.float64), d.class_ids):
            results.append({"image_id": 100 + i, "category_id": int(c) + 7, "score": float(score),
                            "bbox": [float(box[0]), float(box[1]), float(box[2] - box[0]), float(box[3] - box[1])]})
    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt = COCO(str(gt_file))
        evaluator = COCOeval(coco_gt, coco_gt.loadRes(results), "bbox")
        if cat_ids is not None:
            evaluator.params.catIds = [c + 7 for c in cat_ids]
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    return np.asarray(evaluator.stats)
