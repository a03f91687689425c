"""Non-finite numbers in training (issue 10): a NaN loss, a NaN image, NaN target
boxes. The guard must skip the step and name the iteration and images, stop with a
clear message after `max_bad_steps` failures in a row, and nothing may be saved from a
poisoned state. (tests/test_train_units.py::test_guard_skips_then_stops covers the
guard alone; tests/test_train_engine.py::test_nan_guard_stops_with_message an
exploding learning rate.)"""

from __future__ import annotations

import dataclasses
import hashlib
import warnings
from pathlib import Path

import pytest
import torch

from _train_utils import small_config, synth_data
from yolo3.io.checkpoint import load_checkpoint
from yolo3.losses.yolo_loss import YOLOLoss
from yolo3.train import train
from yolo3.train.guard import TrainingDiverged
from yolo3.train.logging import read_metrics

# 8 images, batch 4 = nominal batch: 2 optimizer steps per epoch, iterations 0..3 over 2 epochs.


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    return synth_data(tmp_path_factory.mktemp("nan"), n_train=8, imgsz=64)


def _config(data: Path, project: Path, **changes):
    cfg = small_config(data, project, epochs=2, batch_size=4, nominal_batch_size=4, max_bad_steps=2, **changes)
    return dataclasses.replace(cfg, augment=None)


def _poison_loss(monkeypatch, calls: set[int]) -> None:
    """The loss of the given iterations (0-based call count) becomes NaN."""
    real = YOLOLoss.forward
    count = [0]

    def forward(self, outputs, targets):
        total, terms = real(self, outputs, targets)
        k, count[0] = count[0], count[0] + 1
        return (total * float("nan"), terms) if k in calls else (total, terms)

    monkeypatch.setattr(YOLOLoss, "forward", forward)


def _all_finite(path: Path) -> bool:
    tensors, _ = load_checkpoint(path)
    return all(bool(torch.isfinite(v).all()) for v in tensors.values() if v.is_floating_point())


def test_one_nan_loss_is_skipped_and_reported(data, tmp_path, monkeypatch) -> None:
    _poison_loss(monkeypatch, {1})
    with pytest.warns(RuntimeWarning, match=r"iteration 1; step skipped \[1/2 in a row\].*Images: .*train_000"):
        result = train(_config(data, tmp_path))
    assert result.epochs_done == 2
    meta = load_checkpoint(result.last)[1]
    assert meta["train"]["ema_updates"] == 3  # 4 steps, 1 skipped
    assert _all_finite(result.last) and _all_finite(result.best)
    losses = [float(r["train/loss"]) for r in read_metrics(result.run_dir / "metrics.csv")]
    assert all(0 < v < float("inf") for v in losses)  # the skipped step is not averaged in


def test_isolated_nan_losses_do_not_stop_the_run(data, tmp_path, monkeypatch) -> None:
    _poison_loss(monkeypatch, {1, 3})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        result = train(_config(data, tmp_path))
    assert result.epochs_done == 2 and load_checkpoint(result.last)[1]["train"]["ema_updates"] == 2


def test_nan_in_a_row_stops_and_keeps_the_last_clean_checkpoint(data, tmp_path, monkeypatch) -> None:
    _poison_loss(monkeypatch, {2, 3})  # both steps of epoch 1
    saved: dict[int, str] = {}

    def remember(epoch: int, row: dict) -> None:
        saved[epoch] = hashlib.sha256((tmp_path / "run" / "weights" / "last.safetensors").read_bytes()).hexdigest()

    with pytest.warns(RuntimeWarning, match="iteration 2"):
        with pytest.raises(TrainingDiverged, match=r"iteration 3.*\[2/2 in a row\].*Training stopped: lower optim\.lr0"):
            train(_config(data, tmp_path), callbacks=[remember])
    last = tmp_path / "run" / "weights" / "last.safetensors"
    assert list(saved) == [0]  # epoch 1 never reached its checkpoint
    assert hashlib.sha256(last.read_bytes()).hexdigest() == saved[0] and _all_finite(last)
    assert load_checkpoint(last)[1]["train"]["epoch"] == 0
    assert [r["epoch"] for r in read_metrics(tmp_path / "run" / "metrics.csv")] == ["1"]


def test_nan_image_is_skipped_and_the_weights_stay_finite(data, tmp_path, monkeypatch) -> None:
    from yolo3.train import engine

    real_build = engine.build_train_model
    count = [0]

    def poison_input(module, args):
        k, count[0] = count[0], count[0] + 1
        if k == 1 and module.training:
            x = args[0].clone()
            x[0, :, :4, :4] = float("nan")
            return (x,)
        return None

    def build(*a, **kw):
        model, note = real_build(*a, **kw)
        model.register_forward_pre_hook(poison_input)
        return model, note

    monkeypatch.setattr(engine, "build_train_model", build)
    with pytest.warns(RuntimeWarning, match=r"non-finite loss/gradient \(nan\) at iteration 1"):
        result = train(_config(data, tmp_path))
    assert load_checkpoint(result.last)[1]["train"]["ema_updates"] == 3 and _all_finite(result.last)


def test_nan_target_boxes_are_skipped_not_crashing(data, tmp_path, monkeypatch) -> None:
    import yolo3.data.loader as loader

    real_collate = loader.collate
    count = [0]

    def collate(items):
        batch = real_collate(items)
        k, count[0] = count[0], count[0] + 1
        if k == 1 and len(batch.targets):
            batch.targets[0, 2:] = float("nan")
        return batch

    monkeypatch.setattr(loader, "collate", collate)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            result = train(_config(data, tmp_path))
    except ValueError as err:  # acceptable: a clear error about the non-finite target
        assert "finite" in str(err) or "NaN" in str(err), err
        return
    messages = [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)]
    assert result.epochs_done == 2 and _all_finite(result.last)
    # or the guard skips the step: never a bare crash, never NaN weights
    assert all("iteration 1" in m for m in messages if "non-finite" in m)
