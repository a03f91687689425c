"""Early stopping (issue 18): the smoothed, trend-aware rule with a minimum share of the
run on hand-made fitness sequences, its config, and in the training loop: the minimum
share (also under a time budget) and the history surviving interruption and resume."""

from __future__ import annotations

import dataclasses
import logging
import math
import random

import numpy as np
import pytest

from _train_utils import small_config, synth_data
from yolo3.config import ConfigError, from_dict, load_yaml
from yolo3.io.checkpoint import load_checkpoint, save_checkpoint
from yolo3.train import TrainConfig, train
from yolo3.train.early_stop import EarlyStopConfig, decide, history_from_metrics, smoothed, trend_t
from yolo3.train.logging import read_metrics
from yolo3.train.presets import load_preset

PLAIN = EarlyStopConfig(smooth=1, trend_t=0.0, min_share=0.0)  # the rule before issue 18


def first_stop(history: list[float], patience: int, cfg: EarlyStopConfig, planned: int | None = None) -> int | None:
    """0-based index of the validation after which `decide` stops (one validation per
    epoch, `planned` epochs; default: as many as values), or None."""
    planned = planned or len(history)
    for i in range(len(history)):
        if decide(history[:i + 1], patience, cfg, i + 1, planned).stop:
            return i
    return None


# -- the pieces ----------------------------------------------------------------------------
def test_smoothed_is_the_trailing_mean() -> None:
    assert smoothed([1.0, 3.0, 5.0, 7.0], 2) == [1.0, 2.0, 4.0, 6.0]
    assert smoothed([1.0, 3.0, 5.0, 7.0], 3) == [1.0, 2.0, 3.0, 5.0]
    assert smoothed([0.2, 0.4], 1) == [0.2, 0.4]


def test_trend_t_by_hand_and_against_scipy() -> None:
    # y = 1, 2, 4 at x = 0, 1, 2: slope 3/2, residuals 1/6, -1/3, 1/6, SE = sqrt((1/6) / 1 / 2) → t = 3·√3
    assert trend_t([1.0, 2.0, 4.0]) == pytest.approx(3 * math.sqrt(3), rel=1e-12)
    assert trend_t([1.0, 2.0, 3.0, 4.0]) == math.inf  # exactly on a rising line
    assert trend_t([0.1, 0.2, 0.3, 0.4]) > 1e12  # on it up to rounding
    assert trend_t([3.0, 2.0, 1.0]) == -math.inf
    assert trend_t([0.5] * 6) == 0.0
    assert math.isnan(trend_t([0.1, 0.2]))
    stats = pytest.importorskip("scipy.stats")
    rng = np.random.default_rng(0)
    for _ in range(5):
        y = rng.normal(0.4, 0.02, 15) + 0.001 * np.arange(15)
        ref = stats.linregress(np.arange(15), y)
        assert trend_t(list(y)) == pytest.approx(ref.slope / ref.stderr, rel=1e-9)


def test_config_checks_and_old_configs_load(tmp_path) -> None:
    assert from_dict(TrainConfig, {"patience": 5}).early_stop == EarlyStopConfig()  # a config from before
    assert load_preset("bccd").early_stop == EarlyStopConfig(smooth=5, trend_t=1.0, min_share=0.5)
    bad = tmp_path / "bad.yaml"
    bad.write_text("patience: 5\nearly_stop:\n  smooth: 0\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"bad\.yaml.*early_stop\.smooth must be >= 1"):
        load_yaml(TrainConfig, bad)
    for kwargs in ({"min_share": 1.0}, {"min_share": -0.1}, {"trend_t": math.nan}):
        with pytest.raises(ConfigError, match="early_stop"):
            EarlyStopConfig(**kwargs)


# -- the rule on hand-made sequences -------------------------------------------------------
def test_rising_noisy_sequences_never_stop_but_the_plain_rule_does() -> None:
    """A lucky validation (+0.06) on a noisy rise of 0.004 per validation: the plain rule
    waits `patience` validations for that value to be beaten, and stops the rising run;
    the default rule keeps going to the end (60 validations, past min_share)."""
    plain_stops = 0
    for seed in range(20):
        rng = random.Random(seed)
        history = [0.30 + 0.004 * i + rng.gauss(0.0, 0.01) for i in range(60)]
        history[10] += 0.06
        assert first_stop(history, 10, EarlyStopConfig()) is None, seed
        plain_stops += first_stop(history, 10, PLAIN) is not None
    assert plain_stops >= 10


def test_a_plateau_stops_exactly_patience_validations_after_the_smoothed_peak() -> None:
    # rises to 0.5 at index 4, then flat: the 5-mean first reaches its maximum 0.5 at index 8
    history = [0.1, 0.2, 0.3, 0.4] + [0.5] * 20
    assert first_stop(history, 4, EarlyStopConfig(smooth=5, trend_t=1.0, min_share=0.0)) == 8 + 4
    assert first_stop(history, 4, PLAIN) == 4 + 4  # the single best: 0.5 at index 4
    verdict = decide(history[:13], 4, EarlyStopConfig(smooth=5, min_share=0.0), 13, 13)
    assert verdict.stop and verdict.since_best == 4 and verdict.best_index == 8 and verdict.t == 0.0


def test_a_declining_noisy_sequence_stops_when_its_patience_runs_out() -> None:
    for seed in range(10):
        rng = random.Random(seed)
        history = [0.5 - 0.003 * i + rng.gauss(0.0, 0.01) for i in range(80)]
        means = np.convolve(history, np.ones(5) / 5)[:len(history)]  # trailing 5-mean, short windows at the start
        means[:4] = np.cumsum(history[:4]) / np.arange(1, 5)
        peak = int(np.argmax(means))
        assert first_stop(history, 12, EarlyStopConfig(min_share=0.0)) == peak + 12, seed


def test_min_share_of_the_planned_epochs_is_honoured() -> None:
    history = [0.5 - 0.01 * i for i in range(100)]  # worse every validation: stops as soon as allowed
    cfg = EarlyStopConfig(min_share=0.5)
    assert first_stop(history, 5, cfg, planned=100) == 49  # epoch 50 of 100
    assert first_stop(history, 5, cfg, planned=60) == 29  # a budget that fits 60 epochs: epoch 30
    assert first_stop(history, 5, cfg, planned=8) == 5  # the patience comes later than half the run
    verdict = decide(history[:40], 5, cfg, 40, 100)
    assert not verdict.stop and "40% of the 100 planned epochs" in verdict.reason


def test_a_dip_and_a_climb_back_below_the_old_best_keeps_going() -> None:
    """After a drop the fitness climbs back steadily (with a wiggle) but stays under its old
    best: no better value for `patience` validations, yet the trend test holds the run."""
    history = [0.1, 0.2, 0.3, 0.4, 0.5] + [0.3 + 0.01 * i + 0.005 * (-1) ** i for i in range(19)]  # < 0.5
    cfg = EarlyStopConfig(smooth=1, trend_t=1.0, min_share=0.0)
    assert decide(history, 10, cfg, 24, 24).since_best == 19
    assert first_stop(history, 10, cfg) is None
    assert first_stop(history, 10, dataclasses.replace(cfg, trend_t=0.0)) == 4 + 10


def test_the_plain_settings_are_the_old_rule() -> None:
    """smooth 1, trend_t 0, min_share 0: a counter of validations since the last strictly
    better value, reset on improvement (the engine's rule before issue 18)."""
    for seed in range(20):
        rng = random.Random(seed)
        history = [round(rng.uniform(0.0, 1.0), 2) for _ in range(40)]  # ties happen
        best, bad, expected = -math.inf, 0, None
        for i, value in enumerate(history):
            best, bad = (value, 0) if value > best else (best, bad + 1)
            if bad >= 3:
                expected = i
                break
        assert first_stop(history, 3, PLAIN) == expected, seed


def test_patience_zero_never_stops() -> None:
    history = [0.5 - 0.01 * i for i in range(50)]
    assert first_stop(history, 0, EarlyStopConfig(min_share=0.0)) is None
    assert first_stop(history, 0, PLAIN) is None


def test_history_from_metrics_rows() -> None:
    rows = [{"epoch": "1", "fitness": "-3.5", "mAP@0.5:0.95": ""}, {"epoch": "2", "fitness": "0.125", "mAP@0.5:0.95": "0.125"},
            {"epoch": "3", "fitness": "-2.5"}, {"epoch": "4", "fitness": "0.25", "mAP@0.5:0.95": "0.25"}]
    assert history_from_metrics(rows, validated_only=True) == [0.125, 0.25]
    assert history_from_metrics(rows, validated_only=False) == [-3.5, 0.125, -2.5, 0.25]


# -- in the training loop -----------------------------------------------------------------
@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return synth_data(tmp_path_factory.mktemp("stop"), n_train=8, n_val=4)


class Interrupt(Exception):
    pass


def _plain_stop_epoch(maps: list[float], min_epoch: int) -> int | None:
    """1-based epoch of the first validation (one per epoch) at or after `min_epoch` that
    does not beat the best before it (the plain rule with patience 1), or None."""
    for e in range(max(min_epoch, 2), len(maps) + 1):
        if maps[e - 1] <= max(maps[:e - 1]):
            return e
    return None


def test_engine_waits_for_the_minimum_share(data, tmp_path, caplog) -> None:
    cfg = small_config(data, tmp_path, epochs=6, val_interval=1, patience=1,
                       early_stop=EarlyStopConfig(smooth=1, trend_t=0.0, min_share=0.5))
    with caplog.at_level(logging.INFO, logger="yolo3.train"):
        result = train(cfg)
    maps = [row["mAP@0.5:0.95"] for row in result.metrics]
    expected = _plain_stop_epoch(maps, min_epoch=3)  # 3 of 6 epochs = min_share
    assert result.stopped_early == (expected is not None)
    assert result.epochs_done == (expected or 6)
    if _plain_stop_epoch(maps, 2) == 2:  # the plain rule would have stopped at epoch 2
        assert "epoch 2: no early stop yet:" in caplog.text and "33% of the 6 planned epochs" in caplog.text
    meta = load_checkpoint(result.last)[1]["train"]
    assert meta["fitness_history"] == [row["fitness"] for row in result.metrics]  # exact floats


def test_patience_acts_on_the_training_loss_when_validation_is_off(data, tmp_path) -> None:
    """With a val split but --val-interval 0, best is chosen by training loss (as without a
    val split) but no epoch was counted for early stopping: --patience was silently ignored."""
    cfg = small_config(data, tmp_path, epochs=6, val_interval=0, patience=1,
                       early_stop=EarlyStopConfig(smooth=1, trend_t=0.0, min_share=0.0))
    result = train(cfg)
    fits = [row["fitness"] for row in result.metrics]
    assert all("mAP@0.5:0.95" not in row for row in result.metrics)
    assert load_checkpoint(result.last)[1]["train"]["fitness_history"] == fits  # every epoch counted
    expected = _plain_stop_epoch(fits, min_epoch=2)
    assert result.stopped_early == (expected is not None) and result.epochs_done == (expected or 6)


class _Clock:
    """Stands in for `time` in the engine: 1 µs per call, plus what the test adds."""

    def __init__(self) -> None:
        self.now = 0.0

    def perf_counter(self) -> float:
        self.now += 1e-6
        return self.now


def test_engine_under_a_time_budget_never_stops_in_its_first_half(data, tmp_path, monkeypatch) -> None:
    """Epochs of 1/12 of the budget: the plan shrinks from 100 epochs to those that fit,
    and the plain rule (patience 1) may only stop once half of that plan is done."""
    from yolo3.train import engine

    clock = _Clock()
    monkeypatch.setattr(engine, "time", clock)
    budget = 60.0  # seconds

    def tick(epoch: int, row: dict) -> None:
        clock.now += budget / 12

    cfg = small_config(data, tmp_path, epochs=100, val_interval=1, patience=1, max_steps_per_epoch=1,
                       time_budget_minutes=budget / 60,
                       early_stop=EarlyStopConfig(smooth=1, trend_t=0.0, min_share=0.5))
    result = train(cfg, callbacks=[tick])
    planned = load_checkpoint(result.last)[1]["train"]["schedule"]["epochs"]
    assert 6 <= planned < 13  # re-fitted to the budget
    maps = [row["mAP@0.5:0.95"] for row in result.metrics]
    expected = _plain_stop_epoch(maps, min_epoch=math.ceil(planned / 2))
    assert result.epochs_done == (expected or planned) and result.stopped_early == (expected is not None)


def _resume_case(data, tmp_path, name: str, drop_history: bool):
    """An unbroken run and the same run interrupted after epoch 2 and resumed (with the
    checkpoint's fitness history removed when `drop_history`, as an older yolo3 wrote it)."""
    cfg = small_config(data, tmp_path, epochs=8, val_interval=1, patience=3,
                       early_stop=EarlyStopConfig(smooth=2, trend_t=0.0, min_share=0.0))
    unbroken = train(dataclasses.replace(cfg, name=f"{name}-full"))

    def stop_after_second(epoch: int, row: dict) -> None:
        if epoch == 1:
            raise Interrupt

    with pytest.raises(Interrupt):
        train(dataclasses.replace(cfg, name=name), callbacks=[stop_after_second])
    last = tmp_path / name / "weights" / "last.safetensors"
    if drop_history:
        tensors, meta = load_checkpoint(last)
        del meta["train"]["fitness_history"]
        save_checkpoint(last, tensors, meta)
    resumed = train(dataclasses.replace(TrainConfig(), resume=str(tmp_path / name)))
    return unbroken, resumed


@pytest.mark.parametrize("drop_history", [False, True], ids=["saved", "rebuilt-from-csv"])
def test_resumed_run_stops_where_the_unbroken_one_does(data, tmp_path, drop_history) -> None:
    unbroken, resumed = _resume_case(data, tmp_path, "broken", drop_history)
    maps = [row["mAP@0.5:0.95"] for row in unbroken.metrics]
    # independent of the rule's code: the 2-mean's first maximum, then 3 validations
    means = [maps[0]] + [(a + b) / 2 for a, b in zip(maps, maps[1:])]
    peak = means.index(max(means))
    assert unbroken.stopped_early == (peak + 3 < 8) and unbroken.epochs_done == min(peak + 4, 8)
    assert resumed.stopped_early == unbroken.stopped_early and resumed.epochs_done == unbroken.epochs_done
    full = load_checkpoint(unbroken.last)[1]["train"]["fitness_history"]
    again = load_checkpoint(resumed.last)[1]["train"]["fitness_history"]
    assert full == [row["fitness"] for row in unbroken.metrics]
    # rebuilt from metrics.csv: the first two values as the CSV holds them (6 significant digits)
    expected = [float(f"{v:.6g}") for v in full[:2]] + full[2:] if drop_history else full
    assert again == expected
    rows = read_metrics(resumed.run_dir / "metrics.csv")
    assert [r["epoch"] for r in rows] == [str(e) for e in range(1, unbroken.epochs_done + 1)]
