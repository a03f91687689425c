"""Validation speed on BCCD test (72 images) at 416 with yolov3-tiny (issue 6).

Measures the time from detections to metrics (everything after the forward pass):
COCO metrics through FastCOCOeval and through stock pycocotools side by side, then the
VOC/threshold/confusion part, then the whole `compute_metrics`. The untrained model's
head biases are raised so every image yields the full 300 detections at conf 0.001 —
the worst case for the evaluator (a trained model gives at most as many).

Run: .venv/bin/python benchmarks/bench_val.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from yolo3.data.formats import load_dataset
from yolo3.eval.coco import coco_metrics
from yolo3.eval.confusion import confusion_matrix
from yolo3.eval.evaluate import VAL_NMS, compute_metrics, run_inference
from yolo3.eval.matching import match_dataset
from yolo3.eval.thresholds import choose_thresholds
from yolo3.eval.voc import voc_metrics
from yolo3.models import create_model

BCCD = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "bccd"


def best_of(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    index = load_dataset(BCCD)
    samples, names = index.splits["test"], index.class_names
    model = create_model("yolov3-tiny", num_classes=len(names), class_names=names, imgsz=416).eval()
    with torch.no_grad():
        for head in model.heads:
            head.conv.bias.add_(2.0)
    t = time.perf_counter()
    dets = run_inference(model, samples, names, 416, 8, VAL_NMS)
    infer = time.perf_counter() - t
    n_det = sum(len(d) for d in dets)
    print(f"images {len(samples)}, GT boxes {sum(len(s) for s in samples)}, detections {n_det} "
          f"({n_det / len(samples):.0f}/image); inference (not counted) {infer:.2f} s")
    coco_fast = best_of(lambda: coco_metrics(samples, dets, names, fast=True), args.repeats)
    coco_stock = best_of(lambda: coco_metrics(samples, dets, names, fast=False), max(1, args.repeats // 2))

    def rest() -> None:
        match = match_dataset(samples, dets, len(names))
        voc_metrics(samples, dets, names, match)
        confusion_matrix(samples, dets, len(names), choose_thresholds(match).thresholds)

    other = best_of(rest, args.repeats)
    total = best_of(lambda: compute_metrics(samples, dets, names, VAL_NMS, 416), args.repeats)
    print(f"COCO metrics, FastCOCOeval:        {coco_fast:.3f} s")
    print(f"COCO metrics, stock pycocotools:   {coco_stock:.3f} s  ({coco_stock / coco_fast:.1f}x slower)")
    print(f"VOC AP + thresholds + confusion:   {other:.3f} s")
    print(f"compute_metrics total (target < 0.5 s): {total:.3f} s  (best of {args.repeats})")


if __name__ == "__main__":
    main()
