"""`yolo3 val`: COCO/VOC metrics, plots, per-class thresholds of a checkpoint on a split."""

from __future__ import annotations

import argparse
import sys

from yolo3.eval.result import VAL_NMS
from yolo3.eval.store import check_thresholds_target, save_thresholds
from yolo3.eval.report import format_result
from yolo3.inference.choose import BACKENDS, PRECISIONS
from yolo3.inference.device import DEVICE_HELP
from yolo3.inference.postprocess import NMSConfig
from yolo3.cli.options import add_preprocess_argument, add_tta_arguments, fraction, imgsz, positive_int, tta_config


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("val", help="measure a checkpoint on a dataset split (COCO + VOC metrics, plots)")
    p.add_argument("--weights", required=True, help=".safetensors checkpoint, exported .onnx or OpenVINO folder")
    p.add_argument("--data", required=True, help="YOLO data.yaml, COCO .json or Pascal VOC root")
    p.add_argument("--split", default="val", choices=("train", "val", "test"), help="split to evaluate")
    p.add_argument("--imgsz", type=imgsz, default=None, help="network size (default: the checkpoint's)")
    p.add_argument("--batch-size", type=positive_int, default=8, help="images per forward pass")
    p.add_argument("--conf", type=fraction, default=VAL_NMS.conf_threshold, help="score threshold for mAP")
    p.add_argument("--iou", type=fraction, default=VAL_NMS.iou_threshold, help="NMS IoU threshold")
    p.add_argument("--max-det", type=positive_int, default=VAL_NMS.max_det, help="detections kept per image")
    p.add_argument("--out", default=None,
                   help="run folder, numbered OUT2, OUT3, … when it exists (default: runs/val, runs/val2, …)")
    p.add_argument("--no-plots", action="store_true", help="skip PR/F1/confusion/image plots")
    p.add_argument("--save-thresholds", action="store_true",
                   help="store the per-class F1-optimal thresholds (for detect --thresholds auto) in a copy of the "
                   "checkpoint in the run folder; refused when they are degenerate (< 0.01)")
    p.add_argument("--in-place", action="store_true",
                   help="with --save-thresholds: rewrite --weights itself instead of a copy")
    p.add_argument("--save-json", action="store_true",
                   help="write predictions.json (COCO results) and ground_truth.json (what they were scored "
                   "against) to the run folder")
    p.add_argument("--backend", choices=BACKENDS, default="auto",
                   help="engine; auto = the fastest installed for this file, precision and device")
    p.add_argument("--precision", choices=PRECISIONS, default=None,
                   help="fp32, bf16, fp16 (CUDA only) or int8 (a quantised OpenVINO export) (default: the export's own, else fp32)")
    p.add_argument("--device", default="cpu", help=DEVICE_HELP)
    p.add_argument("--threads", type=positive_int, default=None, help="intra-op threads (default: usable cores)")
    add_preprocess_argument(p)
    add_tta_arguments(p)
    p.set_defaults(run=_run)


def _run(args: argparse.Namespace) -> int:
    from yolo3.eval.val import val

    nms = NMSConfig(conf_threshold=args.conf, iou_threshold=args.iou, max_det=args.max_det)
    try:
        if args.in_place and not args.save_thresholds:
            raise ValueError("--in-place only applies with --save-thresholds")
        if args.save_thresholds:  # before evaluating: an export has no place to store them
            check_thresholds_target(args.weights)
        result, run_dir = val(args.weights, args.data, args.split, args.imgsz, args.batch_size, nms, args.out,
                              not args.no_plots, save_json=args.save_json, backend=args.backend,
                              precision=args.precision, device=args.device, threads=args.threads, log=print,
                              preprocess=args.preprocess, tta=tta_config(args))
    except (ValueError, OSError, ImportError) as err:  # CheckpointError, DataError, ImageReadError included
        print(f"yolo3 val: error: {err}", file=sys.stderr)
        return 2
    print(format_result(result))
    extra = (", plots" if not args.no_plots else "") + (", predictions.json, ground_truth.json" if args.save_json else "")
    print(f"\nresults in {run_dir} (summary.json{extra})")
    if args.save_thresholds:
        try:
            path = save_thresholds(args.weights, result.class_thresholds, result.class_names, run_dir, args.in_place,
                                   result.thresholds.fallback.tolist())
        except (ValueError, OSError) as err:
            print(f"yolo3 val: error: {err}", file=sys.stderr)
            return 2
        print(f"per-class thresholds stored in {path} (use: yolo3 detect --weights {path} --thresholds auto)")
    return 0
