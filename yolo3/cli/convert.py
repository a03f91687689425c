"""`yolo3 convert`: convert a dataset between YOLO, COCO, Pascal VOC, LabelMe and CVAT (lossless between the first three; see each reader for what LabelMe/CVAT shapes become)."""

from __future__ import annotations

import argparse

from yolo3.data.convert import convert_dataset
from yolo3.data.formats import FORMATS  # yolo, coco, voc, labelme, cvat


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("convert", help="convert a dataset between yolo, coco, voc, labelme and cvat")
    p.add_argument("src", help="data.yaml, COCO .json / folder, or VOC root")
    p.add_argument("out", help="output folder: new or empty (see --force), never inside or around the source")
    p.add_argument("--from", dest="source", choices=FORMATS, help="source format (checked; default: detected)")
    p.add_argument("--to", required=True, choices=FORMATS, help="output format")
    p.add_argument("--images", default="copy", choices=("copy", "link", "none"),
                   help="copy image files, symlink them, or write labels only (default: copy)")
    p.add_argument("--force", action="store_true",
                   help="write into an output folder that already holds files (same names are replaced)")
    p.add_argument("--allow-outside-root", action="store_true",
                   help="let a data.yaml read folders outside its own folder tree (its `path` or split entries)")
    p.set_defaults(run=_run)


def _run(args: argparse.Namespace) -> int:
    result = convert_dataset(args.src, args.out, args.to, args.source, args.images, force=args.force,
                             allow_outside_root=args.allow_outside_root)
    for note in result.notes:
        print(f"note: {note}")
    for split, summary in result.written.items():
        print(summary.format(split))
    images = {"copy": "images copied", "link": "images linked", "none": "labels only"}[args.images]
    print(f"wrote {result.path} ({args.to}, {images})")
    return 0
