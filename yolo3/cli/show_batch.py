"""`yolo3 show-batch`: save a grid of augmented training samples with their boxes."""

from __future__ import annotations

import argparse

from yolo3.config import load_yaml
from yolo3.data.augment.config import AugmentConfig
from yolo3.data.visualize import show_batch
from yolo3.cli.options import imgsz, positive_int


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("show-batch", help="save a grid of augmented samples with boxes drawn")
    p.add_argument("data", help="data.yaml, COCO .json / folder, or VOC root")
    p.add_argument("--out", default="batch.jpg", help="image file to write")
    p.add_argument("--imgsz", type=imgsz, default=416, help="input size, a multiple of 32")
    p.add_argument("-n", type=positive_int, default=16, help="number of samples")
    p.add_argument("--split", default="train", help="dataset split to draw from")
    p.add_argument("--augment", help="YAML file of AugmentConfig fields (default: the training defaults)")
    p.add_argument("--no-augment", action="store_true", help="letterbox only")
    p.add_argument("--seed", type=int, default=0, help="seed of the sample choice and augmentation")
    p.add_argument("--epoch", type=positive_int, default=1, help="training epoch (1-based, as train's bar) whose augmentation to show")
    p.set_defaults(run=_run)


def _run(args: argparse.Namespace) -> int:
    cfg = AugmentConfig.off() if args.no_augment else (
        load_yaml(AugmentConfig, args.augment) if args.augment else AugmentConfig())
    path = show_batch(args.data, args.out, args.imgsz, args.n, args.split, cfg, args.seed, args.epoch - 1)
    print(f"wrote {path}")
    return 0
