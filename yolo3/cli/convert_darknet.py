"""`yolo3 convert-darknet`: darknet .cfg + .weights ⇄ yolo3 safetensors checkpoint.

    yolo3 convert-darknet yolov3.cfg yolov3.weights --out yolov3.safetensors [--names coco.names]
    yolo3 convert-darknet model.safetensors --out model.weights [--cfg-out model.cfg] [--names-out model.names]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from yolo3.darknet.bn import BN_MODES
from yolo3.darknet import DarknetCfgError, DarknetWeightsError, convert_darknet, export_darknet
from yolo3.io.checkpoint import CheckpointError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "convert-darknet",
        help="darknet .cfg + .weights <-> yolo3 .safetensors",
        description="Two inputs (CFG WEIGHTS) convert darknet files to a yolo3 checkpoint; one input "
        "(a .safetensors checkpoint) writes darknet .weights and .cfg.",
    )
    p.add_argument("inputs", nargs="+", metavar="FILE", help="CFG WEIGHTS, or CHECKPOINT")
    p.add_argument("--out", required=True, help="output .safetensors (from darknet) or .weights (to darknet)")
    p.add_argument("--names", help="darknet .names file with the class names, from darknet only (default: the COCO names for an 80-class cfg, else the class ids)")
    p.add_argument("--cfg-out", help="output .cfg (to darknet only; default: --out with suffix .cfg)")
    p.add_argument("--names-out", help="output .names, the class names one per line (to darknet only, when the "
                   "checkpoint has names; default: --out with suffix .names)")
    p.add_argument("--bn", choices=BN_MODES, default="darknet-gpu",
                   help="BatchNorm formula of the converted model (from darknet only): darknet-gpu "
                   "(x-mean)/sqrt(var+1e-5), as cuDNN and training (default), or darknet-cpu "
                   "(x-mean)/(sqrt(var)+1e-6), to reproduce darknet's CPU build exactly")
    p.set_defaults(run=_run)


def _same_file(a: str | Path, b: str | Path) -> bool:
    """True when two paths name one file (by resolved path, or the same inode via links)."""
    a, b = Path(a), Path(b)
    if a.resolve() == b.resolve():
        return True
    return a.exists() and b.exists() and a.samefile(b)


def check_outputs(inputs: list[str], outputs: dict[str, str]) -> None:
    """Refuses an output ({flag: path}) that is one of the inputs or another output: the
    write would destroy it (the user's cfg, weights or checkpoint) or the other output."""
    flags = list(outputs)
    for i, flag in enumerate(flags):
        path = outputs[flag]
        for source in inputs:
            if _same_file(path, source):
                raise ValueError(f"{flag} {path} is also an input: writing it would destroy that file; "
                                 "choose another output path")
        for other in flags[i + 1:]:
            if _same_file(path, outputs[other]):
                raise ValueError(f"{flag} and {other} are both {path}: one would overwrite the other; "
                                 "give them different paths")


def _run(args: argparse.Namespace) -> int:
    try:
        if len(args.inputs) == 2:
            check_outputs(args.inputs, {"--out": args.out})
            cfg = convert_darknet(args.inputs[0], args.inputs[1], args.out, args.names, args.bn)
            if args.names is None and cfg.class_names is not None:
                print(f"names: the {len(cfg.class_names)} COCO class names shipped with yolo3 (no --names given)")
            print(f"{args.out}: {cfg.arch} (width {cfg.width:g}, depth {cfg.depth:g}), {cfg.num_classes} classes, "
                  f"imgsz {cfg.imgsz}")
        elif len(args.inputs) == 1:
            cfg_out = args.cfg_out or str(Path(args.out).with_suffix(".cfg"))
            names_out = args.names_out or str(Path(args.out).with_suffix(".names"))
            check_outputs(args.inputs, {"--out": args.out, "--cfg-out": cfg_out, "--names-out": names_out})
            cfg = export_darknet(args.inputs[0], cfg_out, args.out, names_out)
            written = f"{cfg_out}, {args.out}" + (f", {names_out}" if cfg.class_names else "")
            print(f"{written}: {cfg.arch}, {cfg.num_classes} classes"
                  + ("" if cfg.class_names else " (no class names in the checkpoint: no .names written)"))
        else:
            raise ValueError(f"{len(args.inputs)} inputs: convert-darknet takes CFG WEIGHTS (to yolo3) or one "
                             "CHECKPOINT (to darknet)")
    except (DarknetCfgError, DarknetWeightsError, CheckpointError, ValueError, OSError) as err:
        print(f"yolo3 convert-darknet: error: {err}", file=sys.stderr)
        return 2
    return 0
