"""Anchors reach training: `yolo3 anchors` ends with the exact train command, `train
--anchors` takes that line, and auto-anchor checks anchors scaled to the training imgsz."""

from __future__ import annotations

import dataclasses
import shlex
from pathlib import Path

import numpy as np

from yolo3.cli import build_parser, main
from yolo3.cli.train import train_config_from_args
from yolo3.config import TINY_ANCHORS
from yolo3.data.sample import Sample
from yolo3.train.setup import auto_anchors, model_config_for

from _train_utils import small_config, synth_data


def _samples_with_boxes_of(anchors_416: list[list[list[float]]]) -> list[Sample]:
    """416×416 images whose boxes have exactly the anchors' sizes (3 copies each)."""
    boxes = [[10.0, 10.0, 10.0 + w, 10.0 + h] for scale in anchors_416 for w, h in scale] * 3
    return [Sample(Path("x.jpg"), np.array(boxes), np.zeros(len(boxes), np.int64), image_size=(416, 416))]


def test_auto_anchor_scales_default_anchors_to_the_training_size(tmp_path: Path) -> None:
    cfg = small_config(tmp_path / "none.yaml", tmp_path, imgsz=128)  # model.anchors None: tiny's 416-px COCO ones
    cfg = dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, imgsz=416))
    model_cfg, note = auto_anchors(cfg, model_config_for(cfg, ["a"]), _samples_with_boxes_of(TINY_ANCHORS))
    expected = [[[round(w * 128 / 416, 2), round(h * 128 / 416, 2)] for w, h in s] for s in TINY_ANCHORS]
    # boxes letterboxed to 128 px are exactly the scaled anchors: BPR 1, kept as they are
    assert model_cfg.anchors == expected, note
    assert "scaled ×0.308 to imgsz 128" in note and "refitted" not in note


def test_anchors_command_ends_with_a_train_line_that_train_accepts(tmp_path: Path, capsys) -> None:
    data = synth_data(tmp_path, n_train=8, imgsz=96)
    assert main(["anchors", str(data), "--n", "6", "--per-scale", "3", "--imgsz", "128", "--generations", "10",
                 "--plot", str(tmp_path / "a.png")]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    fitted = [[float(v) for v in pair.split(",")] for line in lines[1:3] for pair in line.strip().split(", ")]
    last = shlex.split(lines[-1].removeprefix("use them: "))
    assert last[:2] == ["yolo3", "train"] and "--anchors" in last and last[last.index("--imgsz") + 1] == "128"
    args = build_parser().parse_args(last[1:])
    cfg = train_config_from_args(args)
    assert cfg.model.arch == "yolov3-tiny" and cfg.imgsz == 128 and cfg.model.imgsz == 128
    got = [pair for scale in cfg.model.anchors for pair in scale]
    assert np.allclose(got, fitted, atol=0.5)  # the report rounds to whole pixels
    assert len(cfg.model.anchors) == 2 and all(len(s) == 3 for s in cfg.model.anchors)


def test_anchors_command_does_not_print_a_train_line_that_train_refuses(tmp_path: Path, capsys) -> None:
    """--n 4 --per-scale 2 printed 'use them: yolo3 train … --anchors' with 4 pairs, which
    train refuses ('4 anchors for yolov3-tiny, which takes 6'); the config YAML takes them."""
    data = synth_data(tmp_path, n_train=8, imgsz=96)
    assert main(["anchors", str(data), "--n", "4", "--per-scale", "2", "--imgsz", "128", "--generations", "0",
                 "--plot", str(tmp_path / "a.png")]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[-2].startswith("in a config YAML: model: {anchors: [[[") and "--anchors '" not in lines[-1]
    assert lines[-1].startswith("use them: in a --config YAML as above") and "--n 6 --per-scale 3" in lines[-1]


def test_train_anchors_count_must_fit_the_architecture(capsys) -> None:
    assert main(["train", "--model", "yolov3", "--anchors", "10,13 16,30", "--data", "x"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("yolo3 train: error: --anchors: 2 anchors for yolov3, which takes 9")
