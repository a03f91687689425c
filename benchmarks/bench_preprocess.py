"""The pieces of yolo3's pre- and post-processing, timed one by one (issue 16: read +
letterbox + post-processing ≤ 3 ms for yolov3-tiny).

For one image: `read_image` (file → RGB array) and its parts (`cv2.imdecode`, a Pillow
header read), `letterbox_batch` (RGB array → (1, 3, S, S) float) and its parts (the
INTER_AREA / INTER_LINEAR resize, the uint8 → float conversion), and the post-processing
of a yolov3-tiny output (80 classes, no candidate at conf 0.25: thresholds, NMS, mapping
back), each the median of `--runs` calls, per OpenCV thread count in `--cv-threads`. The
first block of a process runs slower (JPEG decode 1.6 vs 0.6 ms on the AMD EPYC): repeat a
thread count and read the later blocks.

Usage (repo root): PYTHONPATH=. .venv/bin/python benchmarks/bench_preprocess.py
    [--image ../shared/datasets/bccd/JPEGImages/BloodImage_00000.jpg] [--imgsz 416] [--runs 200]
    [--cv-threads 1 2 1 2]
"""

from __future__ import annotations

import argparse
import io
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import torch
from PIL import Image

from yolo3.data.image_io import read_image
from yolo3.data.letterbox import letterbox_info
from yolo3.inference.backends import TorchBackend
from yolo3.inference.postprocess import NMSConfig, candidates, select
from yolo3.inference.predict import detections_from_network
from yolo3.inference.preprocess import letterbox_batch, uint8_to_float
from yolo3.models import create_model

sys.path.insert(0, str(Path(__file__).parent))
from bench_infer import timed  # noqa: E402

DEFAULT_IMAGE = Path(__file__).resolve().parents[2] / "shared/datasets/bccd/JPEGImages/BloodImage_00000.jpg"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--image", type=Path, default=DEFAULT_IMAGE)
    parser.add_argument("--imgsz", type=int, default=416)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--cv-threads", type=int, nargs="+", default=[2, 1], help="OpenCV thread counts, in order")
    args = parser.parse_args()
    cpu = subprocess.run(["sh", "-c", "lscpu | grep 'Model name'"], capture_output=True, text=True).stdout.strip()
    data = np.frombuffer(args.image.read_bytes(), np.uint8)
    image = read_image(args.image)
    info = letterbox_info(image.shape[:2], args.imgsz)
    size = (int(round(image.shape[1] * info.scale[0])), int(round(image.shape[0] * info.scale[1])))
    canvas = np.full((1, args.imgsz, args.imgsz, 3), 114, np.uint8)
    batch, infos = letterbox_batch([image], args.imgsz)
    torch.manual_seed(0)
    preds = TorchBackend(create_model("yolov3-tiny", num_classes=80, imgsz=args.imgsz).eval())(batch)
    nms = NMSConfig(conf_threshold=0.25, iou_threshold=0.45)
    names = [str(i) for i in range(80)]

    def post() -> None:
        boxes, scores, labels = candidates(preds[0], nms)
        keep, kept = select(boxes, scores, labels, nms)
        detections_from_network(boxes[keep], kept, labels[keep], infos[0], names, "x")

    pieces: dict[str, Callable[[], object]] = {
        "read_image": lambda: read_image(args.image),
        "imdecode": lambda: cv2.imdecode(data, cv2.IMREAD_COLOR_RGB),
        "Pillow header": lambda: Image.open(io.BytesIO(data)).size,
        "letterbox_batch": lambda: letterbox_batch([image], args.imgsz),
        "resize INTER_AREA": lambda: cv2.resize(image, size, interpolation=cv2.INTER_AREA),
        "resize INTER_LINEAR": lambda: cv2.resize(image, size, interpolation=cv2.INTER_LINEAR),
        "uint8 → float": lambda: uint8_to_float(canvas),
        "post-processing": post,
    }
    print(f"{cpu}; {args.image.name} {image.shape[1]}×{image.shape[0]} → {size[0]}×{size[1]} in {args.imgsz}²; "
          f"median of {args.runs} calls, ms; {len(candidates(preds[0], nms)[1])} candidates at conf 0.25")
    print("| OpenCV threads | " + " | ".join(pieces) + " |")
    print("|---" * (len(pieces) + 1) + "|")
    for threads in args.cv_threads:
        cv2.setNumThreads(threads)
        print(f"| {threads} | " + " | ".join(f"{timed(fn, args.runs) * 1e3:.3f}" for fn in pieces.values()) + " |")


if __name__ == "__main__":
    main()
