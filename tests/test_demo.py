"""The demo pipeline (`yolo3 demo`) and the training wall-clock budget it relies on."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from yolo3.cli import main as cli_main
from yolo3.data.synth import write_synth_dataset
from yolo3.demo import run_demo
from yolo3.train.schedule import epochs_within_budget


def test_budget_needs_two_epochs_before_estimating() -> None:
    assert epochs_within_budget(600.0, 100.0, [90.0], 1, 50) == 50


def test_budget_hand_worked() -> None:
    # 600 s budget, 130 s spent, epochs after the first took 20 s: 470 // 20 = 23 more.
    assert epochs_within_budget(600.0, 130.0, [90.0, 20.0, 20.0], 3, 100) == 26
    # capped by the configured epochs
    assert epochs_within_budget(600.0, 130.0, [90.0, 20.0, 20.0], 3, 10) == 10
    # only the last 3 (after the first) count: (30 + 30 + 30) / 3 = 30 → 290 // 30 = 9
    assert epochs_within_budget(600.0, 310.0, [90.0, 5.0, 30.0, 30.0, 30.0], 5, 100) == 14
    # over budget: stop now (never fewer than done)
    assert epochs_within_budget(60.0, 80.0, [30.0, 30.0], 2, 100) == 2
    # no budget: the configured epochs
    assert epochs_within_budget(0.0, 80.0, [30.0, 30.0], 2, 100) == 100


def test_train_stops_at_the_budget(tmp_path: Path) -> None:
    from _train_utils import small_config, synth_data

    from yolo3.train import train

    data = synth_data(tmp_path, n_train=8)
    cfg = small_config(data, tmp_path / "runs", epochs=50, time_budget_minutes=0.001)
    result = train(cfg)
    assert result.epochs_done == 2  # two epochs to estimate, then no time left
    assert len(result.metrics) == 2
    from yolo3.config import load_yaml
    from yolo3.train.config import TrainConfig

    saved = load_yaml(TrainConfig, result.run_dir / "config.yaml")
    assert saved.time_budget_minutes == 0.001


@pytest.fixture
def small_dataset(tmp_path: Path) -> Path:
    return write_synth_dataset(tmp_path / "data", n_train=16, n_val=6, n_test=6, imgsz=96, seed=1, max_objects=3)


def test_run_demo_writes_everything(small_dataset: Path, tmp_path: Path) -> None:
    out = tmp_path / "demo"
    result = run_demo(small_dataset, out, minutes=0.001, imgsz=96, progress=False)
    assert result.split == "test"
    payload = json.loads((out / "metrics.json").read_text())
    assert payload["split"] == "test"
    assert payload["epochs"] == 2
    assert payload["metrics"]["mAP@0.5"] == pytest.approx(result.metrics["mAP@0.5"])
    assert 0.0 <= result.metrics["mAP@0.5"] <= 1.0
    assert set(result.per_class_ap50) == {"circle", "square", "triangle", "star", "cross", "hexagon"}
    assert (out / "eval" / "summary.json").is_file()
    assert list((out / "eval").glob("*.png")), "evaluation plots missing"
    assert len(list(result.detections_dir.glob("*.png"))) == 6  # every held-back image, annotated
    assert result.weights.is_file()
    assert (out / "check_data.txt").read_text().startswith("checked 28 images")
    report = result.report()
    assert str(out / "metrics.json") in report and str(result.detections_dir) in report


def test_demo_holding_back_val_does_not_say_the_dataset_has_none(tmp_path: Path) -> None:
    """A dataset with train and val: the demo evaluates on val, so training has none, and
    the run warned "data.yaml has no 'val' split ... (add a val split to choose by mAP)"."""
    data = write_synth_dataset(tmp_path / "data", n_train=8, n_val=4, imgsz=64, seed=1, max_objects=2)
    out = tmp_path / "demo"
    result = run_demo(data, out, minutes=0.001, imgsz=64, progress=False)
    assert result.split == "val"
    log = (out / "train" / "train.log").read_text()
    assert "has no 'val' split" not in log
    assert (f"warning: the demo holds back the 'val' split of {data} for its final evaluation, so training "
            "validates on nothing (a dataset with a 'test' split too keeps 'val' for training): best.safetensors "
            "will be the epoch with the lowest training loss, not the best mAP") in log


def test_cli_demo_missing_data_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "nowhere" / "data.yaml"
    assert cli_main(["demo", "--data", str(missing), "--out", str(tmp_path / "d")]) == 2
    err = capsys.readouterr().err
    assert str(missing) in err and "no such dataset" in err


@pytest.mark.parametrize("mode, decode", [("paper", "paper"), ("v5", "v5"), ("atss", "v5")])
def test_demo_config_pairs_each_assignment_with_a_decode_that_reaches_its_positives(
        tmp_path: Path, mode: str, decode: str) -> None:
    """v5 and ATSS put positives in neighbour cells: only the v5 decode reaches them (YOLOLoss refuses the rest)."""
    from yolo3.demo import demo_config
    from yolo3.losses.yolo_loss import YOLOLoss
    from yolo3.models import create_model

    cfg = demo_config("data.yaml", tmp_path, 64, 1.0, assign_mode=mode)
    assert (cfg.model.xy_mode, cfg.loss.assign_mode) == (decode, mode)
    model = create_model("yolov3-tiny", num_classes=2, width=0.25, imgsz=64, xy_mode=cfg.model.xy_mode)
    YOLOLoss(model, cfg.loss)  # raises for an assignment its decode cannot reach
