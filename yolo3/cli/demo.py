"""`yolo3 demo`: the main job of `make demo` (Python API: yolo3.demo.run_demo)."""

from __future__ import annotations

import argparse
import logging
from yolo3.cli.options import imgsz, positive_float

from yolo3.data.split import SPLITS_FOUND


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="end to end: data, check, anchors, train, evaluate, detect (runs/demo)")
    p.add_argument("--data", default=None,
                   help="data.yaml, COCO .json, Pascal VOC root or folder, LabelMe folder, CVAT XML "
                        "(default: the synthetic shapes dataset)")
    p.add_argument("--out", default="runs/demo", help="folder for everything the demo writes")
    p.add_argument("--minutes", type=positive_float, default=5.0, help="wall-clock budget of training")
    p.add_argument("--imgsz", type=imgsz, default=None, help="input size (default: 256 synthetic, 416 otherwise)")
    p.add_argument("--seed", type=int, default=0, help="seed of data, split and training")
    p.add_argument("--no-progress", action="store_true", help="no per-epoch progress bars")
    p.add_argument("--split-ratio", type=float, default=0.2, metavar="R",
                   help="held-back images: the dataset's test split, else its val split, else this fraction R of "
                        "train (seeded by --seed, stratified by class, listed in OUT/split.json and reused by later "
                        f"runs; 0 = refuse a dataset without val/test); {SPLITS_FOUND} (default 0.2)")
    p.set_defaults(run=_run)


def _run(args: argparse.Namespace) -> int:
    from yolo3.demo import run_demo

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    result = run_demo(args.data, args.out, args.minutes, args.imgsz, args.seed, not args.no_progress,
                      args.split_ratio)
    print()
    print(result.report())
    return 0
