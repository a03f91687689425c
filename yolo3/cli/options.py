"""Argument types shared by every command: numbers are checked where they enter.

Each validator turns the option's text into a value or raises
`argparse.ArgumentTypeError` with one line saying what is allowed, so argparse prints
`yolo3 COMMAND: error: argument --imgsz: …` and exits 2 before anything runs. The
same functions take numbers (the `yolo3.YOLO` facade checks its keywords with them).

Input size rule (one rule for train, val, detect, export, show-batch): a size that is
not a positive multiple of the network stride (32) is refused, naming the nearest
valid sizes — never silently rounded, so the size in a run's config is the size typed.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import TYPE_CHECKING

from yolo3.config import imgsz_problem
from yolo3.io.runs import file_in_the_way

if TYPE_CHECKING:
    from yolo3.inference.tta import TTAConfig

__all__ = ["add_tta_arguments", "anchor_list", "finite_float", "fraction", "imgsz", "imgsz_problem", "nonneg_float",
           "nonneg_int", "plot_file", "positive_float", "positive_int", "thresholds", "tta_config", "HelpFormatter"]


def _number(text: object, kind: type) -> float:
    """int(text) / float(text) with a one-line error."""
    try:
        value = kind(text)
    except (TypeError, ValueError):
        noun = "an integer" if kind is int else "a number"
        raise argparse.ArgumentTypeError(f"{text!r} is not {noun}") from None
    if kind is float and not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{text!r} is not a finite number")
    return value


def imgsz(text: object) -> int:
    """Network input size in pixels: a positive multiple of 32."""
    value = int(_number(text, int))
    problem = imgsz_problem(value)
    if problem:
        raise argparse.ArgumentTypeError(problem)
    return value


def positive_int(text: object) -> int:
    """An integer >= 1 (batch sizes, epochs, counts)."""
    value = int(_number(text, int))
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} must be at least 1")
    return value


def nonneg_int(text: object) -> int:
    """An integer >= 0 (0 usually means off / all)."""
    value = int(_number(text, int))
    if value < 0:
        raise argparse.ArgumentTypeError(f"{value} must be 0 or more")
    return value


def finite_float(text: object) -> float:
    """Any finite number (no nan, no inf)."""
    return float(_number(text, float))


def positive_float(text: object) -> float:
    """A finite number > 0 (learning rates, thresholds of ratios)."""
    value = float(_number(text, float))
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{value:g} must be greater than 0")
    return value


def nonneg_float(text: object) -> float:
    """A finite number >= 0."""
    value = float(_number(text, float))
    if value < 0:
        raise argparse.ArgumentTypeError(f"{value:g} must be 0 or more")
    return value


def fraction(text: object) -> float:
    """A finite number in [0, 1] (scores, IoU thresholds)."""
    value = float(_number(text, float))
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"{value:g} must be between 0 and 1")
    return value


def thresholds(text: object) -> str | list[float]:
    """'auto' or comma-separated per-class scores in [0, 1] (their count is checked against the model's classes)."""
    value = str(text).strip()
    if value == "auto":
        return value
    return [fraction(v.strip()) for v in value.split(",")]


def anchor_list(text: object) -> list[list[float]]:
    """'w,h w,h …' (input pixels, as `yolo3 anchors` prints them) → [[w, h], …]."""
    pairs = []
    for item in str(text).replace(";", " ").split():
        parts = item.split(",")
        if len(parts) != 2:
            raise argparse.ArgumentTypeError(f"{item!r} is not w,h; give anchors as 'w,h w,h …' (e.g. '10,13 16,30')")
        w, h = (positive_float(v) for v in parts)
        pairs.append([w, h])
    if not pairs:
        raise argparse.ArgumentTypeError("no anchors given; use 'w,h w,h …'")
    return pairs


PLOT_SUFFIXES = (".png", ".jpg", ".jpeg", ".pdf", ".svg")


def plot_file(text: object) -> Path:
    """A plot file to write: one of PLOT_SUFFIXES, under no path component that is a file
    (checked before the work whose result it plots)."""
    path = Path(str(text))
    if path.suffix.lower() not in PLOT_SUFFIXES:
        raise argparse.ArgumentTypeError(f"{path}: a plot is written as {', '.join(PLOT_SUFFIXES[:-1])} or "
                                         f"{PLOT_SUFFIXES[-1]}, not {path.suffix or 'no suffix'!r}")
    blocking = file_in_the_way(path, itself=False)
    if blocking is not None:
        raise argparse.ArgumentTypeError(f"{path}: {blocking} is a file, not a folder; choose another path")
    return path


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Every option's help ends with its default: argparse's '(default: X)', '(default:
    off)' for a flag, and no addition when the help text already says its default
    (e.g. 'default: the checkpoint's' for an option whose value None means that)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if "default" in text.lower() or action.default is argparse.SUPPRESS or action.required:
            return text
        if isinstance(action, (argparse._StoreTrueAction, argparse._StoreFalseAction)):
            return f"{text} (default: {'on' if action.default else 'off'})"
        if action.option_strings or action.nargs in (argparse.OPTIONAL, argparse.ZERO_OR_MORE):
            return f"{text} (default: %(default)s)"
        return text


def add_preprocess_argument(parser: argparse.ArgumentParser) -> None:
    """detect's, val's and serve's --preprocess (the letterbox the model is fed)."""
    from yolo3.inference.preprocess import PREPROCESS_MODES

    parser.add_argument("--preprocess", choices=PREPROCESS_MODES, default="yolo3",
                        help="letterbox: yolo3's (default) or darknet's own resize and 0.5 padding (official weights)")


def add_tta_arguments(parser: argparse.ArgumentParser) -> None:
    """detect's and val's test-time augmentation switches (`tta_config` reads them)."""
    parser.add_argument("--tta", action="store_true",
                        help="test-time augmentation: each image at --tta-scales, each also flipped left-right, "
                        "boxes of all views merged (score-weighted)")
    parser.add_argument("--tta-scales", type=positive_float, nargs="+", default=None, metavar="S",
                        help="view sizes relative to --imgsz, each rounded to a multiple of 32; implies --tta "
                        "(default: 1 0.83 0.67; small objects gain from a view above 1, e.g. 1 1.17 0.83)")


def tta_config(args: argparse.Namespace) -> TTAConfig | None:
    """The TTAConfig the switches ask for, or None without --tta / --tta-scales."""
    from yolo3.inference.tta import TTAConfig

    if args.tta_scales is not None:
        return TTAConfig(scales=tuple(args.tta_scales))
    return TTAConfig() if args.tta else None
