"""`yolo3 demo`: the main job of `make demo` (Python API: yolo3.demo.run_demo)."""

from __future__ import annotations

import argparse
import logging

from yolo3.cli.options import imgsz, positive_float
from yolo3.data.split import SPLITS_FOUND
from yolo3.train.auto import STATIC_DEMO


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="end to end: data, check, anchors, train, evaluate, detect (runs/demo)")
    p.add_argument("--data", default=None,
                   help="data.yaml, COCO .json, Pascal VOC root or folder, LabelMe folder, CVAT XML "
                        "(default: the synthetic shapes dataset)")
    p.add_argument("--out", default="runs/demo", help="folder for everything the demo writes")
    p.add_argument("--minutes", type=positive_float, default=5.0, help="wall-clock budget of training")
    p.add_argument("--imgsz", type=imgsz, default=None,
                   help="input size (default: the images' median long side rounded up to 32, larger when a tenth "
                        "of the boxes would be under 16 px, within [128, 416])")
    p.add_argument("--no-auto", nargs="?", const="all", default="", type=static_settings, metavar="SETTINGS",
                   help="take these settings (comma-separated: assign, mosaic, imgsz, warmup, ema, augment; none given "
                        "= all) from the static demo recipe (v5, Mosaic 0.5, 256 px synthetic / 416 otherwise, 1 "
                        "warmup epoch, EMA decay 0.995, scale 0.3 / translate 0.1 / hsv 0.7, 0.4 jitter) "
                        "instead of choosing them from the data (default: all chosen from the data; see train.log)")
    p.add_argument("--seed", type=int, default=0, help="seed of data, split and training")
    p.add_argument("--no-progress", action="store_true", help="no per-epoch progress bars")
    p.add_argument("--split-ratio", type=float, default=0.2, metavar="R",
                   help="held-back images: the dataset's test split, else its val split, else this fraction R of "
                        "train (seeded by --seed, stratified by class, listed in OUT/split.json and reused by later "
                        f"runs; 0 = refuse a dataset without val/test); {SPLITS_FOUND} (default 0.2)")
    p.set_defaults(run=_run)


def static_settings(text: str) -> tuple[str, ...]:
    """`--no-auto` value → settings of STATIC_DEMO ('all' = every one; '' = none)."""
    if text == "all":
        return STATIC_DEMO
    names = tuple(t.strip() for t in text.split(",") if t.strip())
    unknown = [n for n in names if n not in STATIC_DEMO]
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown setting(s) {', '.join(unknown)}; choose from {', '.join(STATIC_DEMO)}")
    return names


def _run(args: argparse.Namespace) -> int:
    from yolo3.demo import run_demo

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    result = run_demo(args.data, args.out, args.minutes, args.imgsz, args.seed, not args.no_progress,
                      args.split_ratio, static=args.no_auto)
    print()
    print(result.report())
    return 0
