"""`yolo3 detect`: detections on images, folders, globs and videos (SPEC §8)."""

from __future__ import annotations

import argparse
import sys

from yolo3.inference.choose import BACKENDS, PRECISIONS
from yolo3.inference.detector import Detector
from yolo3.inference.device import DEVICE_HELP
from yolo3.inference.postprocess import NMS_METHODS, NMSConfig
from yolo3.inference.run import detect_sources
from yolo3.io.runs import numbered_out, release_if_empty
from yolo3.io.text import parse_json_text
from yolo3.cli.options import (add_preprocess_argument, add_tta_arguments, fraction, imgsz, positive_int, thresholds,
                               tta_config)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("detect", aliases=["predict"], help="detect objects in images, folders, globs or videos")
    p.add_argument("sources", nargs="+", metavar="SOURCE", help="image/video files, folders or globs")
    p.add_argument("--weights", required=True, help=".safetensors checkpoint, exported .onnx or OpenVINO folder")
    p.add_argument("--out", default="runs/detect",
                   help="output folder; when it exists a new numbered one (runs/detect2, …) is made, never overwritten")
    p.add_argument("--imgsz", type=imgsz, default=None, help="network size (default: the checkpoint's)")
    p.add_argument("--conf", type=fraction, default=0.25, help="score threshold (obj × cls)")
    p.add_argument("--iou", type=fraction, default=0.45, help="NMS IoU threshold")
    p.add_argument("--max-det", type=positive_int, default=300, help="detections kept per image")
    p.add_argument("--nms", choices=NMS_METHODS, default="class_aware", help="NMS variant")
    p.add_argument("--classes", nargs="+", default=None, help="only these class ids or names (default: all)")
    p.add_argument("--roi", default=None,
                   help="region of interest: a mask image file, or JSON polygons '[[[x,y],...], ...]' (default: whole image)")
    p.add_argument("--thresholds", type=thresholds, default=None,
                   help="per-class thresholds: 'auto' (from the checkpoint) or comma-separated floats (default: --conf for all)")
    add_tta_arguments(p)
    p.add_argument("--precision", choices=PRECISIONS, default=None,
                   help="fp32, bf16, fp16 (CUDA only), or int8 (a model quantised by `yolo3 export --precision int8`) "
                        "(default: the OpenVINO export's own, else fp32)")
    p.add_argument("--backend", choices=BACKENDS, default="auto",
                   help="engine; auto = the fastest installed for this file, precision and device")
    p.add_argument("--device", default="cpu", help=DEVICE_HELP)
    p.add_argument("--threads", type=positive_int, default=None, help="intra-op threads (default: usable cores)")
    p.add_argument("--batch-size", type=positive_int, default=8, help="images per forward pass")
    p.add_argument("--trust-pickle", action="store_true",
                   help="allow a pickled .pt/.pth (read with weights_only=True); only for files you trust")
    p.add_argument("--recursive", action="store_true", help="search folders recursively")
    p.add_argument("--no-images", action="store_true", help="do not write annotated images/videos")
    p.add_argument("--no-txt", action="store_true", help="do not write YOLO txt files")
    p.add_argument("--no-json", action="store_true", help="do not write predictions.json")
    p.add_argument("--classifier", default=None,
                   help="crop classifier from `yolo3 train-classifier`: re-label each detection by its crop "
                   "(score = objectness x classifier probability; --classes name the classifier's classes) (default: none)")
    add_preprocess_argument(p)
    p.set_defaults(run=_run)


def _run(args: argparse.Namespace) -> int:
    nms = NMSConfig(conf_threshold=args.conf, iou_threshold=args.iou, max_det=args.max_det, method=args.nms)
    out = None
    try:
        detector = Detector.load(args.weights, device=args.device, precision=args.precision,
                                 trust_pickle=args.trust_pickle, threads=args.threads, imgsz=args.imgsz, nms=nms,
                                 batch_size=args.batch_size, backend=args.backend, preprocess=args.preprocess,
                                 classifier=args.classifier)
        print(f"backend: {detector.backend_name} {detector.precision} ({detector.backend_note})")
        roi = args.roi
        if roi is not None and roi.lstrip().startswith("["):
            roi = parse_json_text(roi, "--roi", "polygons '[[[x,y],...], ...]' in original pixels")
        out = numbered_out(args.out)
        summary = detect_sources(
            detector, args.sources, out, classes=args.classes, roi=roi, thresholds=args.thresholds,
            tta=tta_config(args), save_images=not args.no_images, save_txt=not args.no_txt,
            save_json=not args.no_json, recursive=args.recursive,
        )
    except (ValueError, OSError, ImportError) as err:  # ImportError: an optional backend not installed
        release_if_empty(out)
        print(f"yolo3 detect: error: {err}", file=sys.stderr)
        return 2
    print(f"{summary.images} images, {summary.videos} videos ({summary.frames} frames): "
          f"{summary.detections} detections in {summary.seconds:.1f} s → {summary.out_dir}")
    if summary.json_path is not None:
        rule = ("the checkpoint's category_ids" if detector.category_ids is not None
                else "class index + 1 (as `yolo3 convert --to coco` numbers classes)")
        print(f"{summary.json_path}: COCO results, category_id = {rule}; labels/*.txt hold class indices")
    if summary.skipped:
        what = "input(s)" if summary.skipped_videos else "image(s)"
        print(f"skipped {len(summary.skipped)} unreadable {what}:", *summary.skipped, sep="\n  ")
        if summary.images == 0 and summary.videos == 0:  # nothing ran: a failure, whatever was written
            print(f"yolo3 detect: error: none of the {len(summary.skipped)} inputs could be read (listed above); "
                  "fix or replace them and run again", file=sys.stderr)
            return 2
    return 0
