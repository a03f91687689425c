"""Detect-then-classify on BCCD (issue 15): a class-agnostic detector + a crop classifier vs one model.

    python benchmarks/bccd/eval_classify.py agnostic OUT_DIR       # a one-class VOC view of BCCD (links + rewritten XML)
    python benchmarks/bccd/eval_classify.py eval DETECTOR CLASSIFIER   # val metrics of detector + classifier

The view links JPEGImages and ImageSets and rewrites every <name> to "cell" (nothing is copied into the
project). `eval` runs `Detector(..., classifier=...)` over the val split with the evaluation settings of
`yolo3 val` (conf 0.001, NMS IoU 0.6, 300 detections) and prints the same COCO / VOC metrics.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from yolo3.data.formats import load_dataset
from yolo3.eval.evaluate import VAL_NMS, compute_metrics
from yolo3.eval.report import format_result
from yolo3.inference.detector import Detector

DATA = Path("../shared/datasets/bccd")


def agnostic(out: Path) -> None:
    (out / "Annotations").mkdir(parents=True, exist_ok=True)
    for name in ("JPEGImages", "ImageSets"):
        if not (out / name).exists():
            (out / name).symlink_to((DATA / name).resolve())
    for xml in (DATA / "Annotations").glob("*.xml"):
        text = re.sub(r"<name>[^<]*</name>", "<name>cell</name>", xml.read_text(encoding="utf-8"))
        (out / "Annotations" / xml.name).write_text(text, encoding="utf-8")
    (out / "classes.txt").write_text("cell\n", encoding="utf-8")


def evaluate(detector_path: str, classifier_path: str) -> None:
    index = load_dataset(DATA)
    samples = index.splits["val"]
    detector = Detector.load(detector_path, nms=VAL_NMS, classifier=classifier_path, batch_size=8)
    if detector.class_names != list(index.class_names):
        raise SystemExit(f"classifier classes {detector.class_names} != dataset {index.class_names}")
    detections = detector([str(s.image_path) for s in samples])
    print(format_result(compute_metrics(samples, detections, index.class_names, VAL_NMS, detector.imgsz)))


if __name__ == "__main__":
    if sys.argv[1] == "agnostic":
        agnostic(Path(sys.argv[2]))
    else:
        evaluate(sys.argv[2], sys.argv[3])
