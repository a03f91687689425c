"""`yolo3 convert`: convert a dataset between YOLO, COCO and Pascal VOC (lossless)."""

from __future__ import annotations

import argparse
import sys

from yolo3.data.convert import convert_dataset
from yolo3.data.findings import DataError

FORMATS = ("yolo", "coco", "voc")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("convert", help="convert a dataset between yolo, coco and voc")
    p.add_argument("src", help="data.yaml, COCO .json / folder, or VOC root")
    p.add_argument("out", help="output folder")
    p.add_argument("--from", dest="source", choices=FORMATS, help="source format (checked; default: detected)")
    p.add_argument("--to", required=True, choices=FORMATS, help="output format")
    p.add_argument("--images", default="copy", choices=("copy", "link", "none"),
                   help="copy image files, symlink them, or write labels only")
    p.set_defaults(run=_run)


def _run(args: argparse.Namespace) -> int:
    try:
        path, notes = convert_dataset(args.src, args.out, args.to, args.source, args.images)
    except DataError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    for note in notes:
        print(f"note: {note}")
    print(f"wrote {path}")
    return 0
