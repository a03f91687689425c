"""`yolo3 detect`: detections on images, folders, globs and videos (SPEC §8)."""

from __future__ import annotations

import argparse
import json
import sys

from yolo3.inference.detector import Detector
from yolo3.inference.postprocess import NMSConfig
from yolo3.inference.preprocess import PREPROCESS_MODES
from yolo3.inference.run import detect_sources
from yolo3.inference.tta import TTAConfig

METHODS = ("class_aware", "agnostic", "diou", "soft")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("detect", help="detect objects in images, folders, globs or videos")
    p.add_argument("sources", nargs="+", metavar="SOURCE", help="image/video files, folders or globs")
    p.add_argument("--weights", required=True, help=".safetensors checkpoint or exported .onnx")
    p.add_argument("--out", default="runs/detect", help="output folder")
    p.add_argument("--imgsz", type=int, default=None, help="network size (default: the checkpoint's)")
    p.add_argument("--conf", type=float, default=0.25, help="score threshold (obj × cls)")
    p.add_argument("--iou", type=float, default=0.45, help="NMS IoU threshold")
    p.add_argument("--max-det", type=int, default=300)
    p.add_argument("--nms", choices=METHODS, default="class_aware", help="NMS variant")
    p.add_argument("--classes", nargs="+", default=None, help="only these class ids or names")
    p.add_argument("--roi", default=None,
                   help="region of interest: a mask image file, or JSON polygons '[[[x,y],...], ...]'")
    p.add_argument("--thresholds", default=None,
                   help="per-class thresholds: 'auto' (from the checkpoint) or comma-separated floats")
    p.add_argument("--tta", action="store_true", help="test-time augmentation (flip + scales, merged)")
    p.add_argument("--precision", choices=("fp32", "bf16"), default="fp32")
    p.add_argument("--threads", type=int, default=None, help="intra-op threads (default: usable cores)")
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--trust-pickle", action="store_true",
                   help="allow a pickled .pt/.pth (read with weights_only=True); only for files you trust")
    p.add_argument("--recursive", action="store_true", help="search folders recursively")
    p.add_argument("--no-images", action="store_true", help="do not write annotated images/videos")
    p.add_argument("--no-txt", action="store_true", help="do not write YOLO txt files")
    p.add_argument("--no-json", action="store_true", help="do not write predictions.json")
    p.add_argument("--classifier", default=None,
                   help="crop classifier from `yolo3 train-classifier`: re-label each detection by its crop "
                   "(score = objectness x classifier probability; --classes name the classifier's classes)")
    p.add_argument("--preprocess", choices=PREPROCESS_MODES, default="yolo3",
                   help="letterbox: yolo3's (default) or darknet's own resize and 0.5 padding (official weights)")
    p.set_defaults(run=_run)


def _run(args: argparse.Namespace) -> int:
    nms = NMSConfig(conf_threshold=args.conf, iou_threshold=args.iou, max_det=args.max_det, method=args.nms)
    try:
        detector = Detector.load(args.weights, precision=args.precision, trust_pickle=args.trust_pickle,
                                 threads=args.threads, imgsz=args.imgsz, nms=nms, batch_size=args.batch_size,
                                 preprocess=args.preprocess, classifier=args.classifier)
        thresholds = args.thresholds
        if thresholds is not None and thresholds != "auto":
            thresholds = [float(v) for v in thresholds.split(",")]
        roi = args.roi
        if roi is not None and roi.lstrip().startswith("["):
            roi = json.loads(roi)
        summary = detect_sources(
            detector, args.sources, args.out, classes=args.classes, roi=roi, thresholds=thresholds,
            tta=TTAConfig() if args.tta else None, save_images=not args.no_images, save_txt=not args.no_txt,
            save_json=not args.no_json, recursive=args.recursive,
        )
    except (ValueError, OSError) as err:
        print(f"yolo3 detect: error: {err}", file=sys.stderr)
        return 2
    print(f"{summary.images} images, {summary.videos} videos ({summary.frames} frames): "
          f"{summary.detections} detections in {summary.seconds:.1f} s → {summary.out_dir}")
    if summary.skipped:
        print(f"skipped {len(summary.skipped)} unreadable image(s):", *summary.skipped, sep="\n  ")
    return 0
