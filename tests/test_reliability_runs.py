"""A run folder under stress (issue 14, points 2, 5, 12 and 14): SIGKILL between `last`
and `best`, a second process writing the same run, a full disk while saving, and
`--resume` with other options.

The training child is the real CLI with one function wrapped (in the child only) to
hold it still at the moment of interest, as in tests/test_reliability_crash.py.
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
from yolo3.io.checkpoint import read_metadata
from yolo3.train.logging import read_metrics

CHILD = """
import sys, time
import yolo3.train.engine as engine
from yolo3.cli import main

mode, at_epoch = sys.argv[1], int(sys.argv[2])

def hold(marker):
    print(marker, flush=True)
    time.sleep(120)

if mode == "after_last":  # every epoch improves; hold once `last` of `at_epoch` is written, before `best`
    engine.fitness = lambda row: float(row["epoch"])
    real_save = engine.save_train_state
    def save_train_state(path, *args, **kw):
        real_save(path, *args, **kw)
        if args[4]["epoch"] == at_epoch:
            hold("AFTER_LAST")
    engine.save_train_state = save_train_state
elif mode == "in_epoch":  # hold in the 2nd step of epoch `at_epoch`
    real_schedule = engine.apply_schedule
    def apply_schedule(optimizer, it, iters, *args, **kw):
        if it == at_epoch * iters + 1:
            hold("IN_EPOCH")
        return real_schedule(optimizer, it, iters, *args, **kw)
    engine.apply_schedule = apply_schedule
sys.exit(main(sys.argv[3:]))
"""


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    return synth_data(tmp_path_factory.mktemp("runs"), n_train=8, imgsz=64)


def _train_args(data: Path, project: Path, epochs: int) -> list[str]:
    return ["train", "--data", str(data), "--model", "yolov3-tiny", "--width", "0.25", "--imgsz", "64",
            "--epochs", str(epochs), "--batch-size", "4", "--nbs", "4", "--workers", "0", "--amp", "off",
            "--project", str(project), "--name", "run", "--no-tensorboard", "--no-progress", "--val-interval", "0",
            "--threads", "1"]


def _start_and_hold(mode: str, at_epoch: int, args: list[str]) -> subprocess.Popen:
    marker = {"after_last": "AFTER_LAST", "in_epoch": "IN_EPOCH"}[mode]
    proc = subprocess.Popen([sys.executable, "-c", CHILD, mode, str(at_epoch), *args], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    seen = []
    for line in proc.stdout:
        seen.append(line)
        if line.strip() == marker:
            return proc
    proc.kill()
    proc.wait(timeout=30)
    pytest.fail(f"the child ended before {marker}:\n{''.join(seen[-30:])}")


def _kill(proc: subprocess.Popen) -> None:
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL


def _epoch_of(path: Path) -> int:
    return read_metadata(path)["train"]["epoch"]


def test_sigkill_between_last_and_best_is_repaired_on_resume(data, tmp_path) -> None:
    proc = _start_and_hold("after_last", 2, _train_args(data, tmp_path, epochs=3))
    _kill(proc)
    weights = tmp_path / "run" / "weights"
    last, best = weights / "last.safetensors", weights / "best.safetensors"
    # the kill left them inconsistent: last says the best epoch is 2, best still holds epoch 1
    assert read_metadata(last)["train"]["best_epoch"] == 2 and _epoch_of(last) == 2
    assert _epoch_of(best) == 1
    leftover = weights / ".last.safetensors.0badc0de.tmp"  # what a write killed half-way leaves
    leftover.write_bytes(b"half a checkpoint")
    assert cli_main(["train", "--resume", str(tmp_path / "run")]) == 0
    assert _epoch_of(best) == 2 and best.read_bytes() == last.read_bytes()
    assert not list(weights.glob("*.tmp")) and not list(weights.glob(".*.tmp"))


def test_a_second_writer_of_a_run_folder_is_refused(data, tmp_path, capsys) -> None:
    args = _train_args(data, tmp_path, epochs=3)
    proc = _start_and_hold("in_epoch", 1, args)  # a real second process holds the run
    try:
        run = tmp_path / "run"
        csv_before = (run / "metrics.csv").read_bytes()
        last_before = (run / "weights" / "last.safetensors").read_bytes()
        assert cli_main(["train", "--resume", str(run)]) == 2
        err = capsys.readouterr().err
        assert err.startswith(f"yolo3 train: error: {run}") and f"pid {proc.pid}" in err, err
        assert len(err.strip().splitlines()) == 1
        assert cli_main([*args, "--exist-ok"]) == 2
        assert f"pid {proc.pid}" in capsys.readouterr().err
        assert (run / "metrics.csv").read_bytes() == csv_before
        assert (run / "weights" / "last.safetensors").read_bytes() == last_before
    finally:
        _kill(proc)
    # the lock died with its process: the run resumes and completes
    assert cli_main(["train", "--resume", str(run)]) == 0
    assert [r["epoch"] for r in read_metrics(run / "metrics.csv")] == ["1", "2", "3"]  # 1-based, as the bar


def test_resume_applies_safe_options_and_refuses_the_others(data, tmp_path, capsys) -> None:
    assert cli_main(_train_args(data, tmp_path, epochs=1)) == 0
    run = tmp_path / "run"
    last = run / "weights" / "last.safetensors"
    before = last.read_bytes()
    for option in (["--lr0", "0.5"], ["--batch-size", "2"], ["--model", "yolov3"], ["--no-ema"]):
        assert cli_main(["train", "--resume", str(run), *option]) == 2, option
        line = capsys.readouterr().err.strip()
        assert line.startswith("yolo3 train: error: ") and option[0] in line and "--epochs" in line, line
    assert cli_main(["train", "--resume", str(run), "--epochs", "1"]) == 2
    err = capsys.readouterr().err
    assert "epochs=1" in err and "already done 1 epoch" in err, err
    assert last.read_bytes() == before  # nothing was touched by the refused runs
    log_before = (run / "train.log").read_text()
    assert cli_main(["train", "--resume", str(run), "--epochs", "3", "--workers", "0", "--no-progress"]) == 0
    assert _epoch_of(last) == 2 and read_metadata(last)["config"]["epochs"] == 3
    assert [r["epoch"] for r in read_metrics(run / "metrics.csv")] == ["1", "2", "3"]  # 1-based, as the bar
    resumed_log = (run / "train.log").read_text()[len(log_before):]
    assert "resumed from" in resumed_log and "random init" not in resumed_log, resumed_log
    assert "epochs: 1 → 3" in resumed_log, resumed_log


def test_resume_of_a_finished_run_says_so_and_how_to_train_longer(data, tmp_path, caplog) -> None:
    """--resume of a run that did all its epochs used to say only 'resumed from … at
    epoch 3' and train nothing. It still trains nothing (resume also finishes a run
    killed after its last save) but warns and names the fix."""
    from yolo3.io.checkpoint import load_checkpoint, save_checkpoint

    assert cli_main(_train_args(data, tmp_path, epochs=2)) == 0
    run = tmp_path / "run"
    last = run / "weights" / "last.safetensors"
    before = last.read_bytes(), (run / "metrics.csv").read_bytes()
    caplog.clear()
    assert cli_main(["train", "--resume", str(run)]) == 0
    expected = f"{run} has finished: all 2 planned epoch(s) are done"
    warned = [r.getMessage() for r in caplog.records if r.levelname == "WARNING" and expected in r.getMessage()]
    assert len(warned) == 1 and f"--resume {run} --epochs 3" in warned[0], caplog.text
    assert expected in (run / "train.log").read_text()
    assert (last.read_bytes(), (run / "metrics.csv").read_bytes()) == before
    # a run whose time budget fitted fewer epochs than configured has finished when those are done
    tensors, meta = load_checkpoint(last)
    meta["train"]["epoch"] = 0
    meta["train"]["schedule"]["epochs"] = 1
    save_checkpoint(last, tensors, meta)
    caplog.clear()
    assert cli_main(["train", "--resume", str(run), "--time-budget", "5"]) == 0
    assert "all 1 planned epoch(s) are done" in caplog.text and "--epochs 2" in caplog.text


def test_resume_from_an_older_or_a_loose_checkpoint_is_refused(data, tmp_path, capsys) -> None:
    """--resume RUN/weights/best.safetensors (an earlier epoch) used to continue from it,
    overwrite last.safetensors and cut metrics.csv back, losing the later epochs; a
    checkpoint outside a run's weights/ folder had config.yaml and train.log written into
    its grandparent folder, then failed on metrics.csv."""
    import shutil

    from yolo3.io.checkpoint import load_checkpoint, save_checkpoint

    assert cli_main(_train_args(data, tmp_path, epochs=3)) == 0
    run = tmp_path / "run"
    weights = run / "weights"
    tensors, meta = load_checkpoint(weights / "last.safetensors")
    meta["train"]["epoch"] = 0  # as best.safetensors is when epoch 1 was the best one
    save_checkpoint(weights / "best.safetensors", tensors, meta)
    before = {p: p.read_bytes() for p in (weights / "last.safetensors", run / "metrics.csv", run / "train.log")}
    assert cli_main(["train", "--resume", str(weights / "best.safetensors"), "--epochs", "5"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"yolo3 train: error: {weights / 'best.safetensors'}: holds epoch 1 but "
                          f"{weights / 'last.safetensors'} holds epoch 3"), err
    assert f"--weights {weights / 'best.safetensors'}" in err
    assert {p: p.read_bytes() for p in before} == before
    loose = tmp_path / "keep" / "sub" / "ckpt.safetensors"
    loose.parent.mkdir(parents=True)
    shutil.copy(weights / "last.safetensors", loose)
    assert cli_main(["train", "--resume", str(loose), "--epochs", "5"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"yolo3 train: error: {loose}: not inside a run folder's weights/"), err
    assert sorted(p.name for p in (tmp_path / "keep").iterdir()) == ["sub"]  # nothing written around it


def test_resume_with_a_moved_dataset_says_where_to_fix_it(data, tmp_path, capsys) -> None:
    """--data is refused with --resume, and the moved dataset only gave 'X: no such file or
    folder', so there was no way forward in sight."""
    import shutil

    moved = tmp_path / "copy"
    shutil.copytree(data.parent, moved)
    args = _train_args(moved / data.name, tmp_path, epochs=1)
    assert cli_main(args) == 0
    run = tmp_path / "run"
    shutil.move(moved, tmp_path / "elsewhere")
    assert cli_main(["train", "--resume", str(run), "--epochs", "2"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"yolo3 train: error: {run / 'config.yaml'}: the run's dataset data: {moved / data.name} "
                          "is not there") and f"set data: to where it is now in {run / 'config.yaml'}" in err, err
    config = run / "config.yaml"
    config.write_text(config.read_text().replace(str(moved), str(tmp_path / "elsewhere")))
    assert cli_main(["train", "--resume", str(run), "--epochs", "2"]) == 0


# Set inside the child, not with preexec_fn: a Python preexec_fn after fork() in this
# multi-threaded test process (torch, OpenVINO thread pools) is unsafe and crashed the run.
RUN_CLI_WITH_SMALL_DISK = (
    "import resource, runpy, signal, sys\n"
    "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # writes past the limit fail with EFBIG, like a full disk\n"
    "resource.setrlimit(resource.RLIMIT_FSIZE, (200_000, 200_000))\n"
    "sys.argv = ['yolo3', *sys.argv[1:]]\n"
    "runpy.run_module('yolo3', run_name='__main__')\n")


def test_a_full_disk_while_saving_a_checkpoint_is_one_line(data, tmp_path) -> None:
    proc = subprocess.run([sys.executable, "-c", RUN_CLI_WITH_SMALL_DISK, *_train_args(data, tmp_path, epochs=1)],
                          capture_output=True, text=True, timeout=300)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2, proc.stderr[-3000:]
    assert lines[-1].startswith("yolo3 train: error: ") and "last.safetensors" in lines[-1], lines
    assert "Traceback" not in proc.stderr
    weights = tmp_path / "run" / "weights"
    assert not list(weights.iterdir())  # no half-written checkpoint, no temp file


def test_resume_bounds_the_saved_model_config_before_building(tmp_path, capsys) -> None:
    import dataclasses
    import time

    import torch

    from yolo3.config import ModelConfig, save_yaml
    from yolo3.io.checkpoint import save_checkpoint
    from yolo3.train.config import TrainConfig

    run = tmp_path / "run"
    save_checkpoint(run / "weights" / "last.safetensors", {"rng.torch": torch.zeros(1)}, {"train": {"epoch": 0}})
    hostile = dataclasses.replace(TrainConfig(), model=ModelConfig(arch="yolov3", depth=1e5), epochs=3)
    save_yaml(hostile, run / "config.yaml")
    start = time.perf_counter()
    assert cli_main(["train", "--resume", str(run)]) == 2
    line = capsys.readouterr().err.strip()
    assert time.perf_counter() - start < 10
    assert line.startswith(f"yolo3 train: error: {run / 'config.yaml'}:model.depth=100000.0") and "allowed" in line


def test_every_refused_resume_option_is_named_by_its_real_flag() -> None:
    import argparse

    from yolo3.cli import build_parser
    from yolo3.cli.train import RESUME_OPTIONS, resume_changes_from_args

    parser = build_parser()
    subparsers = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for action in subparsers.choices["train"]._actions:
        if not action.option_strings or action.dest in ("help", "resume") or action.dest in RESUME_OPTIONS:
            continue
        flag = action.option_strings[0]
        valid = {"--imgsz": "64", "--anchors": "10,14 23,27 37,58 81,82 135,169 344,319"}  # pass their validators
        value = [] if action.nargs == 0 else [str(action.choices[0]) if action.choices else valid.get(flag, "1")]
        args = parser.parse_args(["train", "--resume", "RUN", flag, *value])
        with pytest.raises(ValueError, match=f"so {flag} cannot be given"):
            resume_changes_from_args(args)
