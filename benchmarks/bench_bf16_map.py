"""bf16 vs fp32 accuracy of the deployed CPU path on BCCD test (issue 7's condition:
mAP within 0.3 points of fp32). Same checkpoint, same images, same NMS (the evaluation
defaults: conf 0.001, IoU 0.6, 300 detections); only `Detector.load(precision=…)` and
the backend change. Usage (repo root, after `bash benchmarks/bccd/run_final.sh`):

    .venv/bin/python benchmarks/bench_bf16_map.py --weights runs/bccd/weights/best.safetensors
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from yolo3.data.formats import load_dataset
from yolo3.data.validate import CheckPolicy, check_dataset
from yolo3.eval.coco import coco_metrics
from yolo3.eval.result import VAL_NMS
from yolo3.export import export_checkpoint
from yolo3.inference.detector import Detector


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--weights", default="runs/bccd/weights/best.safetensors")
    ap.add_argument("--data", default="../shared/datasets/bccd")
    ap.add_argument("--split", default="test")
    args = ap.parse_args()
    index = load_dataset(args.data)
    samples = check_dataset(index, CheckPolicy()).splits[args.split]
    onnx_path = Path(args.weights).with_suffix(".onnx")
    export_checkpoint(args.weights, "onnx", onnx_path)
    rows = []
    for label, path, precision in (("torch fp32", args.weights, "fp32"), ("torch bf16", args.weights, "bf16"),
                                   ("onnxruntime fp32", onnx_path, "fp32")):
        detector = Detector.load(path, precision=precision, threads=2, nms=VAL_NMS)
        start = time.perf_counter()
        dets = detector([s.image_path for s in samples])
        seconds = time.perf_counter() - start
        m = coco_metrics(samples, dets, index.class_names)
        rows.append((label, m["mAP@0.5:0.95"], m["mAP@0.5"], seconds))
    print(f"BCCD {args.split} ({len(samples)} images), {args.weights}, eval NMS (conf 0.001, IoU 0.6, 300 dets)")
    print("| path | mAP@0.5:0.95 | mAP@0.5 | Δ mAP@0.5:0.95 vs fp32 (points) | Δ mAP@0.5 (points) | wall s |")
    print("|---|---|---|---|---|---|")
    base = rows[0]
    for label, a, a50, s in rows:
        print(f"| {label} | {a:.4f} | {a50:.4f} | {100 * (a - base[1]):+.2f} | {100 * (a50 - base[2]):+.2f} | {s:.1f} |")


if __name__ == "__main__":
    main()
