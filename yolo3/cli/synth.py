"""`yolo3 synth`: write the synthetic shapes dataset (YOLO format with data.yaml)."""

from __future__ import annotations

import argparse
from pathlib import Path

from yolo3.data.synth import SHAPES, THIN_SHAPES, write_synth_dataset
from yolo3.cli.options import nonneg_int, positive_int


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("synth", help=f"write a synthetic shapes dataset ({', '.join(SHAPES)})")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--n-train", type=nonneg_int, default=200, help="training images")
    p.add_argument("--n-val", type=nonneg_int, default=50, help="validation images")
    p.add_argument("--n-test", type=nonneg_int, default=0, help="test images")
    p.add_argument("--imgsz", type=positive_int, default=256, help="image side in pixels")
    p.add_argument("--max-objects", type=positive_int, default=6, help="shapes per image at most")
    p.add_argument("--seed", type=int, default=0, help="seed of shapes, colours and positions")
    p.add_argument("--thin", action="store_true",
                   help=f"add thin, elongated, variable classes ({', '.join(THIN_SHAPES)}) to the shapes")
    p.set_defaults(run=_run)


def _check_out(out: Path) -> None:
    """Refuses an `out` that is a file or a folder holding files: a new dataset written there
    would mix with an earlier one (stale images and labels) or replace the user's files."""
    if out.exists() and not out.is_dir():
        raise ValueError(f"{out}: is a file, not a folder; choose another --out")
    held = sorted(p.name for p in out.iterdir()) if out.is_dir() else []
    if held:
        shown = ", ".join(held[:5]) + (", ..." if len(held) > 5 else "")
        raise ValueError(f"{out}: exists and is not empty ({shown}), and a new dataset written there would mix "
                         "with or replace those files; choose another --out")


def _run(args: argparse.Namespace) -> int:
    _check_out(Path(args.out))
    path = write_synth_dataset(args.out, args.n_train, args.n_val, args.n_test, args.imgsz, args.seed,
                               args.max_objects, args.thin)
    print(f"wrote {path}")
    return 0
