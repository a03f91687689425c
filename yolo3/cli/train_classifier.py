"""`yolo3 train-classifier`: a crop classifier on a detection dataset's boxes (detect, then classify)."""

from __future__ import annotations

import argparse
import sys

from yolo3.cli.options import nonneg_float, positive_float, positive_int


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "train-classifier",
        help="train a small CNN on the ground-truth crops of a dataset (for detect --classifier)",
        description="Cuts every ground-truth box of the train split with context, trains a small CNN with "
        "class-balanced sampling and augmentation, keeps the epoch with the best val accuracy and writes "
        "a .safetensors file for `yolo3 detect --classifier`.",
    )
    p.add_argument("--data", required=True, help="YOLO data.yaml, COCO .json, VOC root, ...")
    p.add_argument("--out", default="classifier.safetensors", help="classifier file to write")
    p.add_argument("--epochs", type=positive_int, default=30, help="passes over the crops (default: 30)")
    p.add_argument("--minutes", type=positive_float, default=None, help="stop after this much wall time (default: no limit)")
    p.add_argument("--imgsz", type=positive_int, default=64, help="crop side in pixels")
    p.add_argument("--context", type=nonneg_float, default=0.2,
                   help="context padding on each side, as a fraction of the box's longer side")
    p.add_argument("--width", type=positive_int, default=32, help="channels of the first conv stage")
    p.add_argument("--batch-size", type=positive_int, default=64, help="crops per step (default: 64)")
    p.add_argument("--lr", type=positive_float, default=2e-3, help="AdamW learning rate (default: 0.002)")
    p.add_argument("--seed", type=int, default=0, help="seed of sampling, augmentation and init (default: 0)")
    p.set_defaults(run=_run)


def _run(args: argparse.Namespace) -> int:
    from yolo3.train.classifier import train_classifier

    result = train_classifier(args.data, args.out, args.epochs, args.imgsz, args.context, args.width,
                              args.batch_size, args.lr, args.seed, args.minutes)
    acc = "n/a (no val split)" if result.val_accuracy is None else f"{result.val_accuracy:.3f}"
    print(f"{result.path}: {len(result.train_counts)} classes, {sum(result.train_counts.values())} training crops, "
          f"{result.epochs} epochs in {result.seconds:.0f} s; val accuracy {acc}")
    if result.difficult:
        print(f"  left out {result.difficult} difficult / crowd boxes of the train split (as detector training does)")
    if result.val_accuracy is not None:
        for name in result.train_counts:
            value = result.per_class_accuracy.get(name)
            print(f"  {name}: " + ("n/a (no val crops)" if value is None else f"{value:.3f}"))
    unlearned = [name for name, count in result.train_counts.items() if count == 0]
    if unlearned:
        one = len(unlearned) == 1
        print(f"warning: {', '.join(unlearned)}: no training crops, so the classifier never learns "
              f"{'it' if one else 'them'} (it keeps an output for {'it' if one else 'each'}); box some in the train "
              f"split, or drop {'it' if one else 'them'} from the names", file=sys.stderr)
    return 0
