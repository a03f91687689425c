"""What training tells its user: the run folder first, a warning when best cannot be
chosen by mAP, one validation line per validation, loss per image (= box + obj + cls),
epochs 1-based in metrics.csv, and on Ctrl-C what was saved and the exact resume command."""

from __future__ import annotations

import logging
import shlex
from pathlib import Path

import pytest

from yolo3.cli import main
from yolo3.train import train
from yolo3.train.logging import read_metrics

from _train_utils import small_config, synth_data


def test_start_lines_validation_lines_and_per_image_loss(tmp_path: Path, caplog) -> None:
    data = synth_data(tmp_path, n_train=8, n_val=4, imgsz=64)
    cfg = small_config(data, tmp_path, epochs=2, val_interval=1)
    with caplog.at_level(logging.INFO, logger="yolo3.train"):
        result = train(cfg)
    messages = [r.getMessage() for r in caplog.records]
    assert messages[0] == f"run folder: {result.run_dir}"
    vals = [m for m in messages if " val: " in m]
    rows = read_metrics(result.run_dir / "metrics.csv")
    assert [r["epoch"] for r in rows] == ["1", "2"]  # as the bar counts
    assert vals == [f"epoch {i + 1}/2 val: mAP@0.5 {float(r['mAP@0.5']):.4f}  mAP@0.5:0.95 {float(r['mAP@0.5:0.95']):.4f}"
                    for i, r in enumerate(rows)]
    assert not any("no 'val' split" in m for m in messages)
    for r in rows:  # the loss column is per image, the sum of the terms it shows
        terms = float(r["train/box"]) + float(r["train/obj"]) + float(r["train/cls"])
        assert float(r["train/loss"]) == pytest.approx(terms, rel=1e-4)


def test_no_val_split_warns_that_best_is_by_training_loss(tmp_path: Path, caplog) -> None:
    data = synth_data(tmp_path, n_train=8, n_val=0, imgsz=64)
    with caplog.at_level(logging.INFO, logger="yolo3.train"):
        result = train(small_config(data, tmp_path, epochs=1, val_interval=1))
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any(f"{data} has no 'val' split: best.safetensors will be the epoch with the lowest training loss" in w
               for w in warnings)
    assert "no 'val' split" in (result.run_dir / "train.log").read_text()


def test_a_training_split_without_any_box_is_refused_naming_the_dataset(tmp_path: Path, capsys) -> None:
    """Images whose label files are all empty (or misplaced) used to stop with 'no boxes
    to measure anchor fitness on' (auto-anchor), or train on nothing with it off."""
    data = synth_data(tmp_path, n_train=4, n_val=2, imgsz=64)
    for label in (data.parent / "labels").rglob("*.txt"):
        label.write_text("")
    args = ["train", "--data", str(data), "--width", "0.25", "--imgsz", "64", "--epochs", "1", "--workers", "0",
            "--project", str(tmp_path / "runs"), "--no-progress", "--no-tensorboard"]
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"yolo3 train: error: {data}: none of the 4 training images has a box"), err
    assert "check-data" in err and len(err.splitlines()) == 1
    assert not (tmp_path / "runs").exists()  # refused before a run folder was made


def test_a_run_that_fails_to_start_leaves_no_folder_behind(tmp_path: Path, capsys) -> None:
    """A bad --weights (or amp fp16 on the CPU) failed after the run folder was made: each
    attempt left runs/NAME, NAME2, … holding only .lock and an empty weights/, and the
    corrected rerun went to a numbered folder."""
    data = synth_data(tmp_path, n_train=4, imgsz=64)
    (tmp_path / "bad.weights").write_bytes(b"not weights")
    base = ["train", "--data", str(data), "--width", "0.25", "--imgsz", "64", "--epochs", "1", "--workers", "0",
            "--project", str(tmp_path / "runs"), "--no-progress", "--no-tensorboard"]
    assert main([*base, "--name", "exp", "--weights", str(tmp_path / "bad.weights")]) == 2
    assert main([*base, "--name", "exp", "--amp", "fp16"]) == 2
    capsys.readouterr()
    assert not list((tmp_path / "runs").iterdir())
    kept = tmp_path / "runs" / "kept"
    (kept / "weights").mkdir(parents=True)
    (kept / "notes.txt").write_text("mine")
    assert main([*base, "--name", "kept", "--exist-ok", "--amp", "fp16"]) == 2  # a folder it did not make stays
    assert (kept / "notes.txt").read_text() == "mine" and (kept / "weights").is_dir()
    assert main([*base, "--name", "exp", "--amp", "off"]) == 0
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == ["exp", "kept"]


def test_ctrl_c_says_what_was_saved_and_the_resume_command_works(tmp_path: Path) -> None:
    data = synth_data(tmp_path, n_train=8, imgsz=64)

    def interrupt(epoch: int, row: dict) -> None:
        if epoch == 1:  # after the second epoch's checkpoint
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt) as err:
        train(small_config(data, tmp_path, epochs=3), callbacks=[interrupt])
    run = tmp_path / "run"
    lines = str(err.value.args[0]).splitlines()
    assert lines[0] == f"interrupted: {run / 'weights' / 'last.safetensors'} holds epoch 2 (the last complete one)"
    assert lines[-1] == f"resume with: yolo3 train --resume {run}"
    assert main(shlex.split(lines[-1].removeprefix("resume with: "))[1:]) == 0
    assert [r["epoch"] for r in read_metrics(run / "metrics.csv")] == ["1", "2", "3"]


def test_cli_prints_the_interrupt_message_and_exits_130(monkeypatch, capsys) -> None:
    import yolo3.train

    def fake_train(cfg):
        raise KeyboardInterrupt("interrupted: x holds epoch 4 (the last complete one)\nresume with: yolo3 train --resume x")

    monkeypatch.setattr(yolo3.train, "train", fake_train)
    assert main(["train", "--data", "d.yaml"]) == 130
    assert capsys.readouterr().err.splitlines()[-1] == "resume with: yolo3 train --resume x"
