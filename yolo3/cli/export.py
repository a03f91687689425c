"""`yolo3 export`: a checkpoint → ONNX or TorchScript (model + decode, dynamic batch)."""

from __future__ import annotations

import argparse
import sys

from yolo3.export.from_checkpoint import SUFFIX, export_checkpoint
from yolo3.cli.options import imgsz, positive_int


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export", help="export a checkpoint to ONNX or TorchScript")
    p.add_argument("--weights", required=True, help=".safetensors checkpoint")
    p.add_argument("--format", choices=tuple(SUFFIX), default="onnx", help="output format")
    p.add_argument("--out", default=None, help="output file (default: next to the weights)")
    p.add_argument("--imgsz", type=imgsz, default=None, help="example input size (default: the checkpoint's)")
    p.add_argument("--opset", type=positive_int, default=17, help="ONNX opset")
    p.add_argument("--trust-pickle", action="store_true", help="allow a pickled .pt/.pth you trust")
    p.set_defaults(run=_run)


def _run(args: argparse.Namespace) -> int:
    try:
        path = export_checkpoint(args.weights, args.format, args.out, args.imgsz, args.opset, args.trust_pickle)
    except (ValueError, OSError) as err:
        print(f"yolo3 export: error: {err}", file=sys.stderr)
        return 2
    print(f"exported {args.weights} → {path}")
    return 0

