"""`yolo3 export`: a checkpoint → ONNX, TorchScript or OpenVINO (fp32, bf16, int8)."""

from __future__ import annotations

import argparse
import sys

from yolo3.export.from_checkpoint import SUFFIX, export_checkpoint
from yolo3.cli.options import imgsz, nonneg_float, positive_int
from yolo3.export.quantize import QuantizeConfig
from yolo3.inference.device import DEVICE_HELP


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export", help="export a checkpoint to ONNX, TorchScript or OpenVINO (fp32/bf16/int8)")
    p.add_argument("--weights", required=True, help=".safetensors checkpoint")
    p.add_argument("--format", choices=tuple(SUFFIX), default="onnx", help="output format")
    p.add_argument("--out", default=None,
                   help="output file, or folder for openvino (default: next to the weights, <stem>_openvino/)")
    p.add_argument("--imgsz", type=imgsz, default=None, help="example input size (default: the checkpoint's)")
    p.add_argument("--opset", type=positive_int, default=17, help="ONNX opset")
    p.add_argument("--trust-pickle", action="store_true", help="allow a pickled .pt/.pth you trust")
    p.add_argument("--precision", choices=("fp32", "bf16", "int8"), default="fp32",
                   help="openvino: bf16 runs the fp32 weights in bf16; int8 quantises with NNCF (needs --data)")
    p.add_argument("--data", default=None, help="int8: dataset whose train images calibrate and val split is measured (default: none; "
                   "needed for int8)")
    p.add_argument("--calib-images", type=positive_int, default=300, help="int8: calibration images (default: 300)")
    p.add_argument("--max-drop", type=nonneg_float, default=1.0,
                   help="int8: allowed mAP@0.5:0.95 loss in points before a warning (default 1.0)")
    p.add_argument("--accuracy-aware", action="store_true",
                   help="int8: keep the most sensitive layers in fp32 until the drop is within --max-drop")
    p.add_argument("--device", default="cpu", help=f"device to trace on: {DEVICE_HELP}")
    p.set_defaults(run=_run)


def _log(text: str) -> None:
    """Progress and the fp32-vs-int8 table on stdout; an over-the-limit warning also on stderr."""
    print(text)
    for line in text.splitlines():
        if line.startswith("WARNING"):
            print(f"yolo3 export: {line}", file=sys.stderr)


def quantize_config(args: argparse.Namespace) -> QuantizeConfig | None:
    """The int8 calibration settings of parsed export options (None unless --precision int8);
    ValueError when --data and --precision do not go together."""
    if args.data is not None and args.precision != "int8":
        raise ValueError("--data calibrates int8 only; add --precision int8 (or drop --data)")
    if args.precision != "int8" or args.format != "openvino":  # int8 in another format: export_checkpoint says why
        return None
    if args.data is None:
        raise ValueError("--precision int8 needs --data DATASET (images to calibrate on)")
    return QuantizeConfig(args.data, args.calib_images, max_drop=args.max_drop, accuracy_aware=args.accuracy_aware)


def _run(args: argparse.Namespace) -> int:
    try:
        path = export_checkpoint(args.weights, args.format, args.out, args.imgsz, args.opset, args.trust_pickle,
                                 args.precision, args.device, quantize_config(args), log=_log)
    except (ValueError, OSError, ImportError) as err:  # ImportError: OpenVINO/NNCF not installed
        print(f"yolo3 export: error: {err}", file=sys.stderr)
        return 2
    print(f"exported {args.weights} → {path}")
    return 0
