"""`yolo3 lr-find`: LR range test with a plot (Python API: yolo3.train.lr_find)."""

from __future__ import annotations

import argparse

from yolo3.cli.train import add_config_arguments, config_from_args
from yolo3.cli.options import plot_file, positive_float, positive_int


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("lr-find", help="LR range test: loss against an exponentially growing LR, with a plot")
    add_config_arguments(p)
    p.add_argument("--start-lr", type=positive_float, default=1e-6, help="first LR")
    p.add_argument("--end-lr", type=positive_float, default=1.0, help="last LR")
    p.add_argument("--iterations", type=positive_int, default=100, help="steps between them (exponential)")
    p.add_argument("--out", type=plot_file, default="lr_find.png", help="plot file")
    p.set_defaults(run=_run)


def _run(args: argparse.Namespace) -> int:
    from yolo3.train.diagnostics import lr_find

    result = lr_find(config_from_args(args), args.start_lr, args.end_lr, args.iterations, out=args.out)
    print(f"{len(result.lrs)} iterations, LR {result.lrs[0]:.2e} … {result.lrs[-1]:.2e}")
    print(f"suggested lr0: {result.suggested_lr:.3g} (steepest descent of the smoothed loss); plot: {result.plot}")
    return 0
