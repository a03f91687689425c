"""The `yolo3` command line. Each sub-command lives in its own module here and calls
a plain Python function of the library, so everything the CLI does is scriptable.

A command module defines `register(subparsers)`, adding its parser with
`set_defaults(run=callable(args) -> int)`.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from yolo3 import __version__
from yolo3.cli.options import HelpFormatter
from yolo3.train.guard import TrainingDiverged

# Sub-command modules, in the order `yolo3 --help` lists them.
COMMAND_MODULES = (
    "demo", "info", "synth", "convert", "check_data", "show_batch", "anchors", "train", "lr_find",
    "overfit", "diagnose", "val", "detect", "export", "benchmark", "convert_darknet", "train_classifier", "serve",
)


def build_parser() -> argparse.ArgumentParser:
    """The `yolo3` parser; every sub-parser shows each option's default (HelpFormatter)."""
    parser = argparse.ArgumentParser(prog="yolo3", description="YOLOv3-family object detection.",
                                     formatter_class=HelpFormatter)
    parser.add_argument("--version", action="version", version=f"yolo3 {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(f"yolo3.cli.{name}").register(sub)
    for command in sub.choices.values():
        command.formatter_class = HelpFormatter
    return parser


def main(argv: list[str] | None = None) -> int:
    """Runs one sub-command. User-facing errors (bad files, configs, data: ValueError,
    OSError and the training guard's stop) print one clear line instead of a traceback;
    set YOLO3_DEBUG=1 to see the traceback."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.run(args) or 0)
    except KeyboardInterrupt as err:  # training says what it saved and how to resume
        print(err.args[0] if err.args and err.args[0] else "interrupted", file=sys.stderr)
        return 130
    except (ValueError, OSError, TrainingDiverged) as err:
        if os.environ.get("YOLO3_DEBUG"):
            raise
        print(f"yolo3 {args.command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
