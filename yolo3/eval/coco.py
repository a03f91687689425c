"""COCO metrics (SPEC §7.1) computed by pycocotools from exact COCO-format data.

Ground truth: one COCO image per Sample (id = position + 1, so ids never collide and
are never 0), one annotation per box with `bbox = [x, y, w, h]` in original pixels,
`area` = the COCO file's own (its segmentation's, which the small/medium/large ranges
use), else w·h; `iscrowd` = the sample's crowd flag (COCO's own `iscrowd`: pycocotools then
ignores the region as it does on the original file; VOC `difficult` is honoured by the
VOC metrics only).
Detections keep their float boxes and scores unrounded. Categories are class index + 1.
The 12 numbers of `COCOeval.summarize` come back under unambiguous names; -1 means
pycocotools has nothing to average (no ground truth in that group) and prints as n/a.
"""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from yolo3.data.sample import Sample
from yolo3.eval.cocoeval_fast import FastCOCOeval
from yolo3.inference.results import Detections
from yolo3.io.checkpoint import atomic_write

# Names of COCOeval.stats, in its order.
COCO_METRIC_NAMES = (
    "mAP@0.5:0.95", "mAP@0.5", "mAP@0.75", "APs", "APm", "APl",
    "AR@1", "AR@10", "AR@100", "ARs", "ARm", "ARl",
)


def _image_size(sample: Sample, det: Detections | None) -> tuple[int, int]:
    """(h, w) of a sample: from the annotation, the detections, or the image header."""
    if sample.image_size:
        return sample.image_size
    if det is not None and det.image_size[0] and det.image_size[1]:
        return det.image_size
    with Image.open(sample.image_path) as img:
        return img.height, img.width


def coco_ground_truth(
    samples: list[Sample], class_names: list[str], detections: list[Detections] | None = None
) -> dict[str, Any]:
    """Samples → a COCO ground-truth dict (images, annotations, categories)."""
    images, anns = [], []
    for i, s in enumerate(samples):
        h, w = _image_size(s, detections[i] if detections else None)
        images.append({"id": i + 1, "width": int(w), "height": int(h), "file_name": str(s.image_path)})
        areas = s.areas.tolist() if s.areas is not None else [None] * len(s)
        for (x1, y1, x2, y2), cls, crowd, area in zip(s.boxes.tolist(), s.class_ids.tolist(), s.crowd.tolist(), areas):
            if not 0 <= cls < len(class_names):
                raise ValueError(f"{s.annotation_path or s.image_path}: class id {cls} outside 0..{len(class_names) - 1}")
            bw, bh = x2 - x1, y2 - y1
            anns.append({"id": len(anns) + 1, "image_id": i + 1, "category_id": cls + 1,
                         "bbox": [x1, y1, bw, bh], "area": area if area is not None else bw * bh,
                         "iscrowd": int(crowd)})
    cats = [{"id": k + 1, "name": n} for k, n in enumerate(class_names)]
    return {"images": images, "annotations": anns, "categories": cats}


def coco_results(detections: list[Detections], max_per_class: int = 100) -> list[dict[str, Any]]:
    """Detections → COCO results (image_id = position + 1, category_id = class + 1).

    Only the `max_per_class` best per image and class are kept: COCOeval never looks
    past them (its maxDets[-1] applies per image and category), so this changes no
    number but saves work. Order among kept ones is preserved (ties stay as given).
    """
    out = []
    for i, det in enumerate(detections):
        boxes = np.asarray(det.boxes, dtype=np.float64).reshape(-1, 4)
        scores = np.asarray(det.scores, dtype=np.float64).reshape(-1)
        classes = np.asarray(det.class_ids, dtype=np.int64).reshape(-1)
        keep = np.ones(len(scores), dtype=bool)
        for cls in np.unique(classes):
            idx = np.nonzero(classes == cls)[0]
            if len(idx) > max_per_class:
                ranked = idx[np.argsort(-scores[idx], kind="mergesort")]
                keep[ranked[max_per_class:]] = False
        xywh = np.concatenate([boxes[:, :2], boxes[:, 2:] - boxes[:, :2]], axis=1)
        for (x, y, w, h), score, cls in zip(xywh[keep].tolist(), scores[keep].tolist(), classes[keep].tolist()):
            out.append({"image_id": i + 1, "category_id": cls + 1, "bbox": [x, y, w, h], "score": score})
    return out


def run_cocoeval(gt: dict[str, Any], results: list[dict[str, Any]], fast: bool = True) -> COCOeval:
    """Runs (Fast)COCOeval evaluate + accumulate + summarize silently; returns the evaluator.

    Empty results are valid (pycocotools' loadRes cannot take them, so the result set
    is built directly as loadRes would).
    """
    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt = COCO()
        coco_gt.dataset = gt
        coco_gt.createIndex()
        if results:
            coco_dt = coco_gt.loadRes(results)
        else:
            coco_dt = COCO()
            coco_dt.dataset = {"images": list(gt["images"]), "categories": list(gt["categories"]), "annotations": []}
            coco_dt.createIndex()
        evaluator = (FastCOCOeval if fast else COCOeval)(coco_gt, coco_dt, "bbox")
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    return evaluator


def per_class_ap(evaluator: COCOeval) -> tuple[np.ndarray, np.ndarray]:
    """(AP@0.5:0.95, AP@0.5) per category from COCOeval's precision array (-1: no GT).

    precision has shape (T IoU thresholds, R recall points, K, A areas, M maxDets);
    area 'all' and maxDets 100 are the last-axis choices of the headline AP.
    """
    prec = evaluator.eval["precision"][:, :, :, 0, -1]  # (T, R, K)
    ap, ap50 = [], []
    for k in range(prec.shape[2]):
        p_all, p50 = prec[:, :, k], prec[0, :, k]
        ap.append(float(p_all[p_all > -1].mean()) if (p_all > -1).any() else -1.0)
        ap50.append(float(p50[p50 > -1].mean()) if (p50 > -1).any() else -1.0)
    return np.array(ap), np.array(ap50)


def coco_metrics(
    samples: list[Sample], detections: list[Detections], class_names: list[str], fast: bool = True
) -> dict[str, float]:
    """The 12 COCO numbers plus per-class `AP@0.5:0.95/<name>` and `AP@0.5/<name>`.

    samples[i] and detections[i] are the same image; boxes in original pixels.
    """
    if len(samples) != len(detections):
        raise ValueError(f"{len(samples)} samples but {len(detections)} detection lists; they must pair up")
    gt = coco_ground_truth(samples, class_names, detections)
    evaluator = run_cocoeval(gt, coco_results(detections), fast)
    metrics = {name: float(v) for name, v in zip(COCO_METRIC_NAMES, evaluator.stats)}
    ap, ap50 = per_class_ap(evaluator)
    for name, a, a50 in zip(class_names, ap, ap50):
        metrics[f"AP@0.5:0.95/{name}"] = float(a)
        metrics[f"AP@0.5/{name}"] = float(a50)
    return metrics


def write_coco_json(samples: list[Sample], detections: list[Detections], class_names: list[str],
                    out_dir: str | Path) -> tuple[Path, Path]:
    """Writes what `coco_metrics` scores: out_dir/predictions.json (COCO results) and
    out_dir/ground_truth.json (COCO dataset), with the same ids (image = position + 1,
    category = class index + 1, as `yolo3 convert --to coco` numbers YOLO/VOC classes).
    pycocotools on these two files gives the same numbers as `yolo3 val`."""
    out = Path(out_dir)
    gt_path, pred_path = out / "ground_truth.json", out / "predictions.json"
    for path, doc in ((gt_path, coco_ground_truth(samples, class_names, detections)),
                      (pred_path, coco_results(detections))):  # atomically: no half JSON on a full disk
        text = json.dumps(doc)
        atomic_write(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))
    return pred_path, gt_path
