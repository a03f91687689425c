"""`yolo3 val`: COCO/VOC metrics, plots, per-class thresholds of a checkpoint on a split."""

from __future__ import annotations

import argparse
import sys

from yolo3.eval.evaluate import VAL_NMS
from yolo3.eval.report import format_result
from yolo3.inference.postprocess import NMSConfig
from yolo3.inference.preprocess import PREPROCESS_MODES


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("val", help="measure a checkpoint on a dataset split (COCO + VOC metrics, plots)")
    p.add_argument("--weights", required=True, help=".safetensors checkpoint")
    p.add_argument("--data", required=True, help="YOLO data.yaml, COCO .json or Pascal VOC root")
    p.add_argument("--split", default="val", choices=("train", "val", "test"))
    p.add_argument("--imgsz", type=int, default=None, help="network size (default: the checkpoint's)")
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--conf", type=float, default=VAL_NMS.conf_threshold, help="score threshold for mAP")
    p.add_argument("--iou", type=float, default=VAL_NMS.iou_threshold, help="NMS IoU threshold")
    p.add_argument("--max-det", type=int, default=VAL_NMS.max_det, help="detections kept per image")
    p.add_argument("--out", default=None, help="run folder (default: runs/val/exp, exp2, …)")
    p.add_argument("--no-plots", action="store_true", help="skip PR/F1/confusion/image plots")
    p.add_argument("--save-thresholds", action="store_true",
                   help="store the per-class F1-optimal thresholds in the checkpoint (for detect --thresholds auto)")
    p.add_argument("--preprocess", choices=PREPROCESS_MODES, default="yolo3",
                   help="letterbox: yolo3's (default) or darknet's own resize and 0.5 padding (official weights)")
    p.set_defaults(run=_run)


def _run(args: argparse.Namespace) -> int:
    from yolo3.eval.val import val

    nms = NMSConfig(conf_threshold=args.conf, iou_threshold=args.iou, max_det=args.max_det)
    try:
        result, run_dir = val(args.weights, args.data, args.split, args.imgsz, args.batch_size, nms, args.out,
                              not args.no_plots, args.save_thresholds, preprocess=args.preprocess)
    except (ValueError, OSError) as err:  # CheckpointError, DataError, ImageReadError included
        print(f"yolo3 val: error: {err}", file=sys.stderr)
        return 2
    print(format_result(result))
    print(f"\nresults in {run_dir} (summary.json{', plots' if not args.no_plots else ''})")
    if args.save_thresholds:
        print(f"per-class thresholds stored in {args.weights} (use: yolo3 detect --thresholds auto)")
    return 0
