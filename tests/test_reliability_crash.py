"""Crash safety (issue 10): training is SIGKILLed in the middle of an epoch, in the
middle of a checkpoint write, and between the checkpoint and its metrics row; then
resumed with `yolo3 train --resume`. The run must continue from the last complete
checkpoint, metrics.csv must list every epoch exactly once, and every .safetensors
file must load.

The subprocess is the real CLI; a few functions are wrapped (in the child only) to
hold it still at the moment of interest, so the kill lands there deterministically.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from _train_utils import synth_data
from yolo3.cli import main as cli_main
from yolo3.io.checkpoint import load_checkpoint, load_model
from yolo3.train.logging import read_metrics

EPOCHS = 3
CHILD = """
import os, sys, time
import yolo3.io.checkpoint as ck
import yolo3.train.engine as engine
from yolo3.cli import main

mode, kill_epoch = sys.argv[1], int(sys.argv[2])

def hold(marker):
    print(marker, flush=True)
    time.sleep(120)

if mode == "epoch":  # hold in the 2nd step of epoch `kill_epoch`
    real_schedule = engine.apply_schedule
    def apply_schedule(optimizer, it, iters, *args, **kw):
        if it == kill_epoch * iters + 1:
            hold("IN_EPOCH")
        return real_schedule(optimizer, it, iters, *args, **kw)
    engine.apply_schedule = apply_schedule
elif mode == "save":  # hold with a half-written temp file of the `kill_epoch` checkpoint
    real_save = ck.save_file
    count = [0]
    def save_file(tensors, filename, metadata=None):
        real_save(tensors, filename, metadata=metadata)
        count[0] += 1
        if count[0] == kill_epoch + 1:
            with open(filename, "r+b") as f:
                f.truncate(os.path.getsize(filename) // 2)
            hold("IN_SAVE")
    ck.save_file = save_file
elif mode == "csv":  # hold after the checkpoint of `kill_epoch`, before its metrics row
    real_write = engine.MetricsCSV.write
    def write(self, row):
        if row["epoch"] == kill_epoch + 1:  # metrics.csv epochs are 1-based
            hold("BEFORE_CSV")
        return real_write(self, row)
    engine.MetricsCSV.write = write
sys.exit(main(sys.argv[3:]))
"""


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    return synth_data(tmp_path_factory.mktemp("crash"), n_train=8, imgsz=64)


def _train_args(data: Path, project: Path) -> list[str]:
    return ["train", "--data", str(data), "--model", "yolov3-tiny", "--width", "0.25", "--imgsz", "64",
            "--epochs", str(EPOCHS), "--batch-size", "4", "--nbs", "4", "--workers", "0", "--amp", "off",
            "--project", str(project), "--name", "run", "--no-tensorboard", "--no-progress", "--val-interval", "0",
            "--threads", "1"]


def _run_and_kill(mode: str, kill_epoch: int, data: Path, project: Path) -> Path:
    marker = {"epoch": "IN_EPOCH", "save": "IN_SAVE", "csv": "BEFORE_CSV"}[mode]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-c", CHILD, mode, str(kill_epoch), *_train_args(data, project)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    seen = []
    try:
        for line in proc.stdout:
            seen.append(line)
            if line.strip() == marker:
                break
        else:
            pytest.fail(f"the child ended before {marker}:\n{''.join(seen[-30:])}")
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    return project / "run"


def _assert_consistent(run: Path, epochs_done: int) -> None:
    """Every .safetensors loads; last is at `epochs_done - 1`; the CSV has epochs 1..done once (1-based)."""
    weights = run / "weights"
    for path in weights.glob("*.safetensors"):
        load_model(path)
    meta = load_checkpoint(weights / "last.safetensors")[1]
    assert meta["train"]["epoch"] == epochs_done - 1
    assert [r["epoch"] for r in read_metrics(run / "metrics.csv")] == [str(e) for e in range(1, epochs_done + 1)]
    assert all(p.suffix in (".safetensors", ".tmp") for p in weights.iterdir())


@pytest.mark.parametrize("mode, kill_epoch", [("epoch", 1), ("save", 1)])
def test_sigkill_then_resume_continues_from_last_complete_checkpoint(data, tmp_path, mode, kill_epoch) -> None:
    run = _run_and_kill(mode, kill_epoch, data, tmp_path)
    # after the kill: the last complete checkpoint is epoch kill_epoch - 1 and it loads
    assert load_checkpoint(run / "weights" / "last.safetensors")[1]["train"]["epoch"] == kill_epoch - 1
    if mode == "save":
        assert [p.name for p in (run / "weights").glob("*.tmp")], "the half-written temp file should be there"
    assert cli_main(["train", "--resume", str(run)]) == 0
    _assert_consistent(run, EPOCHS)
    log = (run / "train.log").read_text()
    assert f"resumed from {run / 'weights' / 'last.safetensors'} at epoch {kill_epoch + 1}" in log  # 1-based: continues with the killed epoch


def test_sigkill_between_checkpoint_and_metrics_row_loses_no_epoch(data, tmp_path) -> None:
    run = _run_and_kill("csv", 1, data, tmp_path)
    assert cli_main(["train", "--resume", str(run)]) == 0
    _assert_consistent(run, EPOCHS)
