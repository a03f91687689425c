"""The training loop end to end on a tiny synthetic dataset: outputs, exact resume,
freezing, the NaN guard, the CLI."""

from __future__ import annotations

import dataclasses
import logging
import re

import pytest
import torch

from _train_utils import small_config, synth_data
from yolo3.cli import main as cli_main
from yolo3.config import load_yaml
from yolo3.io.checkpoint import load_checkpoint, load_model
from yolo3.train import TrainConfig, train
from yolo3.train.guard import TrainingDiverged
from yolo3.train.logging import read_metrics


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return synth_data(tmp_path_factory.mktemp("synth"), n_train=16)


class Interrupt(Exception):
    pass


def test_run_writes_config_metrics_and_loadable_weights(data, tmp_path) -> None:
    cfg = small_config(data, tmp_path, plots=True)
    result = train(cfg)
    run = result.run_dir
    assert result.epochs_done == 2 and len(result.metrics) == 2
    saved = load_yaml(TrainConfig, run / "config.yaml")
    assert saved.model.num_classes == 6 and saved.epochs == 2 and saved.optim == cfg.optim
    rows = read_metrics(run / "metrics.csv")
    assert [r["epoch"] for r in rows] == ["1", "2"] and all(float(r["train/loss"]) > 0 for r in rows)
    assert (run / "results.png").stat().st_size > 0 and "data check" in (run / "train.log").read_text()
    model, meta = load_model(result.last)
    assert meta["train"]["epoch"] == 1 and model.num_classes == 6
    assert load_model(result.best)[0].num_classes == 6
    # 16 images, batch 4, nominal 8 → accumulate 2: 4 updates over 2 epochs
    assert meta["train"]["ema_updates"] == 4


def test_exist_ok_into_a_finished_run_starts_its_metrics_afresh(data, tmp_path) -> None:
    """A second run with exist_ok into the same folder replaces the first run's
    checkpoints, so metrics.csv must describe the new run only (it got a second header
    and the old rows, and resuming it then failed on the header row)."""
    train(small_config(data, tmp_path, epochs=2))
    again = train(small_config(data, tmp_path, epochs=1, exist_ok=True, plots=True))
    assert again.run_dir == tmp_path / "run"
    lines = (again.run_dir / "metrics.csv").read_text().splitlines()
    assert len(lines) == 2 and lines[0].startswith("epoch,") and lines[1].startswith("1,"), lines
    assert "replaces" in (again.run_dir / "train.log").read_text()
    resumed = train(dataclasses.replace(TrainConfig(), resume=str(again.run_dir)), resume_changes={"epochs": 2})
    assert [r["epoch"] for r in read_metrics(resumed.run_dir / "metrics.csv")] == ["1", "2"]


def test_resume_equals_unbroken_run(data, tmp_path) -> None:
    unbroken = train(small_config(data, tmp_path, name="full", epochs=3))

    def stop_after_first(epoch: int, row: dict) -> None:
        if epoch == 0:
            raise Interrupt

    with pytest.raises(Interrupt):
        train(small_config(data, tmp_path, name="broken", epochs=3), callbacks=[stop_after_first])
    assert load_checkpoint(tmp_path / "broken" / "weights" / "last.safetensors")[1]["train"]["epoch"] == 0
    torch.manual_seed(999)  # the resumed run must not depend on the caller's RNG state
    resumed = train(dataclasses.replace(TrainConfig(), resume=str(tmp_path / "broken")))
    assert resumed.run_dir == tmp_path / "broken" and resumed.epochs_done == 3
    a, _ = load_checkpoint(unbroken.last)
    b, _ = load_checkpoint(resumed.last)
    weights = [k for k in a if k.startswith(("model.", "raw.", "optim."))]
    assert weights and set(a) == set(b)
    for k in weights:
        assert torch.equal(a[k], b[k]), k
    assert [r["epoch"] for r in read_metrics(resumed.run_dir / "metrics.csv")] == ["1", "2", "3"]


def test_freeze_backbone_keeps_it_fixed(data, tmp_path) -> None:
    cfg = small_config(data, tmp_path, epochs=1)
    cfg = dataclasses.replace(cfg, optim=dataclasses.replace(cfg.optim, freeze="backbone"))
    before, _ = load_model_init(cfg)
    result = train(cfg)
    after, _ = load_checkpoint(result.last)
    stem = [k for k in before if k.startswith("stem16.")]
    assert stem and all(torch.equal(before[k], after[f"raw.{k}"]) for k in stem)
    assert not torch.equal(before["heads.0.conv.weight"], after["raw.heads.0.conv.weight"])


def load_model_init(cfg: TrainConfig):
    from yolo3.train.setup import build_train_model, model_config_for, seed_everything

    seed_everything(cfg.seed, False)
    model, _ = build_train_model(model_config_for(cfg, [str(i) for i in range(6)]), None)
    return {k: v.clone() for k, v in model.state_dict().items()}, model


def test_nan_guard_stops_with_message(data, tmp_path) -> None:
    cfg = small_config(data, tmp_path, max_bad_steps=2, epochs=1)
    cfg = dataclasses.replace(cfg, optim=dataclasses.replace(cfg.optim, lr0=1e30, grad_clip=0.0),
                              schedule=dataclasses.replace(cfg.schedule, warmup_epochs=0))
    with pytest.raises(TrainingDiverged, match=r"iteration \d+.*Images: .*train_0000"):
        with pytest.warns(RuntimeWarning):
            train(cfg)


def test_cli_train_and_overfit(data, tmp_path, capsys) -> None:
    code = cli_main(["train", "--data", str(data), "--model", "yolov3-tiny", "--width", "0.25", "--imgsz", "64",
                     "--epochs", "1", "--batch-size", "4", "--workers", "0", "--amp", "off", "--project",
                     str(tmp_path), "--name", "cli", "--no-tensorboard", "--no-progress", "--val-interval", "0"])
    assert code == 0 and (tmp_path / "cli" / "weights" / "last.safetensors").is_file()
    assert "last:" in capsys.readouterr().out
    code = cli_main(["overfit", "--data", str(data), "--width", "0.25", "--imgsz", "64", "--batch-size", "4",
                     "--workers", "0", "--amp", "off", "--steps", "60", "--lr0", "0.01", "--optimizer", "adam"])
    out = capsys.readouterr().out
    assert code == 0 and "PASS" in out


def test_lr_find_suggests_inside_range(data, tmp_path) -> None:
    from yolo3.train import lr_find

    cfg = small_config(data, tmp_path)
    result = lr_find(cfg, start_lr=1e-5, end_lr=10.0, iterations=30, out=tmp_path / "lr.png")
    assert 1e-5 <= result.suggested_lr <= 10.0 and (tmp_path / "lr.png").is_file()
    ratios = [b / a for a, b in zip(result.lrs, result.lrs[1:])]
    assert ratios == pytest.approx([(1e6) ** (1 / 29)] * len(ratios))


def test_lr_find_draws_a_new_epoch_on_each_pass(tmp_path, monkeypatch) -> None:
    """A test longer than one epoch re-created the loader on every pass, so each pass was
    epoch 0 again: the same order and the same augmented images, and a periodic loss."""
    from yolo3.train import diagnostics

    data = synth_data(tmp_path, n_train=8)
    seen: list[tuple[tuple[str, ...], float]] = []
    real_loss = diagnostics._loss

    def recording_loss(model, loss_fn, batch, cfg, amp, device):
        seen.append((tuple(batch.paths), float(batch.images.float().sum())))
        return real_loss(model, loss_fn, batch, cfg, amp, device)

    monkeypatch.setattr(diagnostics, "_loss", recording_loss)
    diagnostics.lr_find(small_config(data, tmp_path), start_lr=1e-6, end_lr=1e-5, iterations=4)
    assert len(seen) == 4  # 8 images, batch 4: two passes of two batches
    assert seen[2:] != seen[:2], "the second pass repeated the first one's batches exactly"


def test_overfit_final_loss_is_measured_after_the_last_step(data, tmp_path) -> None:
    """`overfit --steps 1` printed "FAIL: loss 1.6504 → 1.6504 (100.0% ...) a model that cannot fit
    one batch has a bug": the 'final' loss was the one before the last update, never after it."""
    from yolo3.train.diagnostics import overfit_batch

    result = overfit_batch(small_config(data, tmp_path), steps=1)
    assert len(result.losses) == 2 and result.initial == result.losses[0] and result.final == result.losses[1]
    assert result.final != result.initial  # one SGD step at lr0 0.01 changes the loss


@pytest.mark.parametrize("lrs", [("1", "0.001"), ("0.01", "0.01")])
def test_lr_find_refuses_a_range_that_does_not_grow(lrs, data, tmp_path, capsys) -> None:
    """--start-lr 1 --end-lr 0.001 ran a falling 'range test' and suggested lr0 1."""
    args = ["lr-find", "--data", str(data), "--width", "0.25", "--imgsz", "64", "--workers", "0",
            "--start-lr", lrs[0], "--end-lr", lrs[1], "--iterations", "5", "--out", str(tmp_path / "lr.png")]
    assert cli_main(args) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"yolo3 lr-find: error: --start-lr {float(lrs[0]):g} must be below --end-lr"), err
    assert not (tmp_path / "lr.png").exists()


def test_validation_and_early_stopping(tmp_path) -> None:
    from yolo3.train.early_stop import EarlyStopConfig

    data = synth_data(tmp_path, n_train=8, n_val=4)
    # the plain rule (no smoothing, no trend test, no minimum share; the defaults are in test_train_early_stop.py)
    cfg = small_config(data, tmp_path, epochs=6, val_interval=1, patience=1,
                       early_stop=EarlyStopConfig(smooth=1, trend_t=0.0, min_share=0.0))
    result = train(cfg)
    maps = [row["mAP@0.5:0.95"] for row in result.metrics]
    # stops at the first validation that does not beat the best so far
    first_bad = next(i for i in range(1, len(maps)) if maps[i] <= max(maps[:i]))
    assert result.stopped_early and result.epochs_done == first_bad + 1
    assert result.best_fitness == max(maps) and "mAP@0.5" in read_metrics(result.run_dir / "metrics.csv")[0]


class _FakeClock:
    """Stands in for `time` in the engine: each call moves 1 µs (rates stay finite); the
    test adds each epoch's simulated duration."""

    def __init__(self) -> None:
        self.now = 0.0

    def perf_counter(self) -> float:
        self.now += 1e-6
        return self.now


def test_time_budget_replans_without_raising_the_lr(data, tmp_path, monkeypatch, caplog) -> None:
    """A budgeted run whose epochs take 1/16, 1/13, 1/33, then 1/21 of the budget (a busy
    machine): the epoch count is re-fitted down and up, yet the LR never rises after warmup
    and the run ends inside the budget. Interrupted and resumed, it keeps the plan it had
    reached (the LR continues from where it was, not from a fresh cosine)."""
    from yolo3.train import engine

    clock = _FakeClock()
    monkeypatch.setattr(engine, "time", clock)
    lrs: list[float] = []
    real_apply = engine.apply_schedule

    def recording(*args, **kwargs) -> float:
        lrs.append(real_apply(*args, **kwargs))
        return lrs[-1]

    monkeypatch.setattr(engine, "apply_schedule", recording)
    budget = 60.0  # seconds
    durations = [budget / 16] * 3 + [budget / 13] * 2 + [budget / 33] * 3 + [budget / 21] * 40

    def tick(epoch: int, row: dict) -> None:
        clock.now += durations[epoch]

    iters = 2
    cfg = small_config(data, tmp_path, name="budget", epochs=100, time_budget_minutes=budget / 60,
                       max_steps_per_epoch=iters)
    with caplog.at_level(logging.DEBUG, logger="yolo3.train"):
        result = train(cfg, callbacks=[tick])
    fitted = [int(m.group(1)) for m in re.finditer(r"(\d+) epochs fit", caplog.text)]
    assert any(b < a for a, b in zip(fitted, fitted[1:])) and any(b > a for a, b in zip(fitted, fitted[1:])), fitted
    assert clock.now <= budget, clock.now
    n = result.epochs_done
    assert 8 < n < 100 and len(lrs) == n * iters
    after_warmup = lrs[iters:]  # warmup_epochs = 1
    assert all(b <= a for a, b in zip(after_warmup, after_warmup[1:])), after_warmup
    assert lrs[-1] < 0.1 * cfg.optim.lr0  # the cosine ran (nearly) to its end at the budget
    plan = load_checkpoint(result.last)[1]["train"]["schedule"]
    assert plan["epochs"] == n and plan["total_iters"] == n * iters and 0 < plan["start"] < 1

    def stop_after_six(epoch: int, row: dict) -> None:
        if epoch == 5:
            raise Interrupt

    lrs.clear()
    clock.now = 0.0
    with pytest.raises(Interrupt):
        train(dataclasses.replace(cfg, name="broken"), callbacks=[tick, stop_after_six])
    before = list(lrs)
    saved = load_checkpoint(tmp_path / "broken" / "weights" / "last.safetensors")[1]["train"]["schedule"]
    assert saved["epochs"] < 100  # re-fitted before the interruption
    lrs.clear()

    def slow(epoch: int, row: dict) -> None:  # the resumed run gets the budget again: keep it short
        clock.now += budget / 5

    resumed = train(dataclasses.replace(TrainConfig(), resume=str(tmp_path / "broken")), callbacks=[slow])
    assert resumed.epochs_done > 6 and lrs[0] <= before[-1] and all(b <= a for a, b in zip(lrs, lrs[1:]))


def test_loss_scaler_overflow_is_skipped_not_divergence(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    """fp16 training: when the scaled gradients overflow, GradScaler skips the step and
    halves its scale. That is routine (the first steps of a run do it), so the loop must
    let the scaler finish its step (else the next `unscale_` raises) and must not count it
    as divergence (max_bad_steps=1 would stop the run at the first one). CI has no CUDA, so
    a CPU GradScaler at 2^127 (fp32 ends below 2^128) overflows like fp16's 2^16 does."""
    import warnings

    from yolo3.train import engine

    scalers: list[torch.amp.GradScaler] = []

    def overflowing_scaler(device: torch.device, dtype: torch.dtype | None) -> torch.amp.GradScaler:
        scalers.append(torch.amp.GradScaler("cpu", init_scale=2.0**127))
        return scalers[-1]

    monkeypatch.setattr(engine, "loss_scaler", overflowing_scaler)
    data = synth_data(tmp_path)
    cfg = small_config(data, tmp_path / "runs", epochs=3, nominal_batch_size=4, max_bad_steps=1)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # the guard's "non-finite … step skipped" warning
        result = train(cfg)
    (scaler,) = scalers
    assert 1.0 <= scaler.get_scale() <= 2.0**126  # halved (twice here), never down to the guard's floor
    assert result.epochs_done == 3 and all(torch.isfinite(torch.tensor(r["train/loss"])) for r in result.metrics)
    assert load_checkpoint(result.last)[1]["train"]["scaler"]["scale"] == scaler.get_scale()  # resumes with it
