"""The training loop end to end on a tiny synthetic dataset: outputs, exact resume,
freezing, the NaN guard, the CLI."""

from __future__ import annotations

import dataclasses

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


def test_validation_and_early_stopping(tmp_path) -> None:
    data = synth_data(tmp_path, n_train=8, n_val=4)
    cfg = small_config(data, tmp_path, epochs=6, val_interval=1, patience=1)
    result = train(cfg)
    maps = [row["mAP@0.5:0.95"] for row in result.metrics]
    # stops at the first validation that does not beat the best so far
    first_bad = next(i for i in range(1, len(maps)) if maps[i] <= max(maps[:i]))
    assert result.stopped_early and result.epochs_done == first_bad + 1
    assert result.best_fitness == max(maps) and "mAP@0.5" in read_metrics(result.run_dir / "metrics.csv")[0]
