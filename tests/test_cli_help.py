"""The command line explains itself: every option of every command has help text that
shows its default, `--version` and the `predict` alias work, and numbers are checked
where they enter (one line, `yolo3 COMMAND: error: …`, exit 2)."""

from __future__ import annotations

import argparse
import math

import numpy as np
import pytest

from yolo3 import __version__
from yolo3.cli import build_parser, main
from yolo3.cli.options import imgsz_problem
from yolo3.config import ConfigError, ModelConfig
from yolo3.data.sample import Sample
from yolo3.eval.evaluate import evaluate
from yolo3.inference.detector import Detector
from yolo3.inference.postprocess import NMSConfig
from yolo3.models import create_model
from yolo3.train.config import TrainConfig


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def test_every_option_of_every_command_has_help_and_shows_its_default() -> None:
    """Each option's printed help text says its default; 'default: None' does not count
    (the text must say what leaving it out means); required options need no default."""
    problems = []
    for name, sub in _subparsers(build_parser()).items():
        formatter = sub._get_formatter()
        for action in sub._actions:
            if isinstance(action, (argparse._HelpAction, argparse._VersionAction)):
                continue
            label = action.option_strings[-1] if action.option_strings else action.dest
            if not action.help:
                problems.append(f"{name} {label}: no help")
                continue
            if not action.option_strings or action.required:
                continue
            text = formatter._expand_help(action)
            if "default" not in text.lower() or "(default: None)" in text:
                problems.append(f"{name} {label}: default not shown ({text!r})")
    assert not problems, "\n".join(problems)


def test_help_of_every_command_renders(capsys) -> None:
    for name in _subparsers(build_parser()):
        with pytest.raises(SystemExit) as exit_:
            main([name, "--help"])
        assert exit_.value.code == 0
        assert "(default: " in capsys.readouterr().out or name in {"convert-darknet"}


def test_version_and_predict_alias(capsys) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.strip() == f"yolo3 {__version__}"
    subs = _subparsers(build_parser())
    assert subs["predict"] is subs["detect"]


def test_imgsz_rule_names_the_nearest_valid_sizes() -> None:
    assert imgsz_problem(256) is None and imgsz_problem(32) is None
    assert "nearest valid: 224 or 256" in imgsz_problem(250)
    assert "nearest valid: 32" in imgsz_problem(0)
    assert "nearest valid: 32" in imgsz_problem(-64)
    assert "nearest valid: 32 or 64" in imgsz_problem(33)


BAD_NUMBERS = [
    (["train", "--imgsz", "250"], "--imgsz", "224 or 256"),
    (["val", "--weights", "w.safetensors", "--data", "d", "--imgsz", "250"], "--imgsz", "224 or 256"),
    (["detect", "x.jpg", "--weights", "w.safetensors", "--imgsz", "250"], "--imgsz", "224 or 256"),
    (["predict", "x.jpg", "--weights", "w.safetensors", "--imgsz", "0"], "--imgsz", "nearest valid: 32"),
    (["export", "--weights", "w.safetensors", "--imgsz", "250"], "--imgsz", "224 or 256"),
    (["show-batch", "d", "--imgsz", "100"], "--imgsz", "96 or 128"),
    (["anchors", "d", "--imgsz", "100"], "--imgsz", "96 or 128"),
    (["train", "--lr0", "nan"], "--lr0", "not a finite number"),
    (["train", "--lr0", "0"], "--lr0", "greater than 0"),
    (["train", "--epochs", "0"], "--epochs", "at least 1"),
    (["detect", "x.jpg", "--weights", "w", "--conf", "nan"], "--conf", "not a finite number"),
    (["detect", "x.jpg", "--weights", "w", "--conf", "1.5"], "--conf", "between 0 and 1"),
    (["detect", "x.jpg", "--weights", "w", "--max-det", "-1"], "--max-det", "at least 1"),
    (["detect", "x.jpg", "--weights", "w", "--batch-size", "0"], "--batch-size", "at least 1"),
    (["val", "--weights", "w", "--data", "d", "--batch-size", "0"], "--batch-size", "at least 1"),
    (["val", "--weights", "w", "--data", "d", "--iou", "inf"], "--iou", "not a finite number"),
    (["val", "--weights", "w", "--data", "d", "--max-det", "-1"], "--max-det", "at least 1"),
    (["serve", "--weights", "w", "--max-batch", "0"], "--max-batch", "at least 1"),
    (["serve", "--weights", "w", "--conf", "nan"], "--conf", "not a finite number"),
]


@pytest.mark.parametrize("argv,option,message", BAD_NUMBERS, ids=[" ".join(a[0:1] + a[-2:]) for a, _, _ in BAD_NUMBERS])
def test_bad_numbers_are_one_line_errors_with_exit_2(argv, option, message, capsys) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    command = {"predict": "detect"}.get(argv[0], argv[0])  # an alias reports under its command's name
    assert err.startswith(f"yolo3 {command}: error: argument {option}"), err
    assert message in err and "Traceback" not in err


def test_library_entry_points_check_the_same_numbers(tmp_path) -> None:
    """The Python API refuses what the CLI refuses (no tensor-size or range() tracebacks)."""
    with pytest.raises(ValueError, match="imgsz: 250 is not a positive multiple of 32.*224 or 256"):
        Detector(backend=None, class_names=["a"], imgsz=250)
    with pytest.raises(ValueError, match="batch_size 0: must be at least 1"):
        Detector(backend=None, class_names=["a"], imgsz=256, batch_size=0)
    for bad in (math.nan, 1.5, -0.1):
        with pytest.raises(ValueError, match="conf_threshold"):
            NMSConfig(conf_threshold=bad)
    with pytest.raises(ValueError, match="max_det"):
        NMSConfig(max_det=-1)
    with pytest.raises(ValueError, match="method"):
        NMSConfig(method="fast")
    with pytest.raises(ConfigError, match="nearest valid: 224 or 256"):
        TrainConfig(imgsz=250)
    with pytest.raises(ConfigError, match="nearest valid: 32"):
        ModelConfig(imgsz=0)
    model = create_model("yolov3-tiny", num_classes=1, width=0.25, imgsz=64)
    sample = Sample(tmp_path / "x.png", np.zeros((0, 4)), np.zeros(0, np.int64))
    with pytest.raises(ValueError, match="batch_size 0"):
        evaluate(model, [sample], ["a"], 64, batch_size=0)
    with pytest.raises(ValueError, match="imgsz 250 must be a multiple of the largest stride 32.*224 or 256"):
        evaluate(model, [sample], ["a"], 250)
