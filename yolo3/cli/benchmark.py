"""`yolo3 benchmark`: backend × precision — ms/image, images/s, mAP, file size — in one run."""

from __future__ import annotations

import argparse
import sys

from yolo3.cli.options import imgsz, positive_int


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("benchmark", help="table of backend × precision: speed, mAP and file size on this machine")
    p.add_argument("--weights", required=True, help=".safetensors checkpoint (all rows), .onnx or OpenVINO folder")
    p.add_argument("--data", default=None,
                   help="dataset: timing images and mAP on --split, int8 calibration on train (default: no mAP)")
    p.add_argument("--split", default="val", choices=("train", "val", "test"), help="split whose mAP is measured")
    p.add_argument("--imgsz", type=imgsz, default=None, help="network size (default: the model's)")
    p.add_argument("--batch", type=positive_int, default=8, help="batch size of the images/s column")
    p.add_argument("--rounds", type=positive_int, default=10, help="timed calls per row (median), interleaved")
    p.add_argument("--threads", type=positive_int, default=None, help="intra-op threads (default: usable cores)")
    p.add_argument("--no-int8", action="store_true", help="skip the int8 row (quantisation takes a while)")
    p.add_argument("--calib-images", type=positive_int, default=300, help="int8 calibration images (default: 300)")
    p.add_argument("--max-val-images", type=positive_int, default=None,
                   help="measure mAP on at most this many images (default: the whole split)")
    p.set_defaults(run=_run)


def _run(args: argparse.Namespace) -> int:
    from yolo3.eval.benchmark import benchmark

    try:
        table = benchmark(args.weights, args.data, args.imgsz, args.batch, args.rounds, args.threads, args.split,
                          not args.no_int8, args.calib_images, args.max_val_images, log=print)
    except (ValueError, OSError, ImportError) as err:
        print(f"yolo3 benchmark: error: {err}", file=sys.stderr)
        return 2
    print(table.format())
    return 0
