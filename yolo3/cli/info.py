"""`yolo3 info`: print a model's layers, parameters and GFLOPs."""

from __future__ import annotations

import argparse

from yolo3.models import list_models
from yolo3.models.summary import info
from yolo3.cli.options import imgsz, positive_float, positive_int


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("info", help="layers, parameters and GFLOPs of a model")
    p.add_argument("--model", default="yolov3", choices=list_models(), help="architecture")
    p.add_argument("--imgsz", type=imgsz, default=416, help="input size for the GFLOPs count")
    p.add_argument("--classes", type=positive_int, default=80, help="number of classes")
    p.add_argument("--width", type=positive_float, default=1.0, help="channel multiplier")
    p.add_argument("--depth", type=positive_float, default=1.0, help="residual-block multiplier")
    p.add_argument("--summary", action="store_true", help="only the totals line")
    p.set_defaults(run=_run)


def _run(args: argparse.Namespace) -> int:
    result = info(args.model, args.imgsz, args.classes, args.width, args.depth)
    print(result.table().splitlines()[-1] if args.summary else result.table())
    return 0
