"""Defaults chosen from the data (yolo3/train/auto.py, issue 18 part 2): each rule on
hand-made training splits whose statistics are known, `keep`, and the CLI/demo wiring."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np
import pytest

from yolo3.data.sample import Sample
from yolo3.train.auto import (
    AUTO_SETTINGS,
    CROWDED_BOXES_PER_IMAGE,
    EMA_SHARE,
    LIGHT_AUGMENT,
    LIGHT_AUGMENT_BUDGET_S_PER_IMAGE,
    LIGHT_AUGMENT_MAX_PASSES,
    MAX_WARMUP_SHARE,
    MIN_BOX_INPUT_PX,
    MIN_WARMUP_UPDATES,
    auto_config,
    auto_imgsz,
    profile_data,
)
from yolo3.train.config import AveragingConfig, OptimConfig, TrainConfig


def split(n_images: int, boxes_per_image: int, size: tuple[int, int] = (480, 640), side: float = 40.0,
          seed: int = 0) -> list[Sample]:
    """n_images samples of `size` (h, w), each with boxes of side `side`·U(0.5, 1.5) px."""
    rng = np.random.default_rng(seed)
    samples = []
    for i in range(n_images):
        s = side * rng.uniform(0.5, 1.5, (boxes_per_image, 2))
        xy = rng.uniform(0, min(size) - s.max(), (boxes_per_image, 2))
        samples.append(Sample(Path(f"/nowhere/{i}.jpg"), np.concatenate([xy, xy + s], 1),
                              np.zeros(boxes_per_image, np.int64), image_size=size))
    return samples


def test_profile_counts_and_percentiles_by_hand() -> None:
    boxes = [[0, 0, 10, 40], [0, 0, 30, 30], [5, 5, 25, 25]]  # sqrt(w·h): 20, 30, 20
    train = [Sample(Path("/a.jpg"), boxes[:2], [0, 0], image_size=(100, 200)),
             Sample(Path("/b.jpg"), boxes[2:], [1], image_size=(300, 100)),
             Sample(Path("/c.jpg"), np.zeros((0, 4)), [], image_size=(50, 400))]
    p = profile_data(train)
    assert (p.images, p.boxes) == (3, 3)
    assert p.boxes_per_image == pytest.approx(1.0)
    assert p.long_side == 300  # median of 200, 300, 400
    # relative sides 20/200, 30/200, 20/300 = 0.1, 0.15, 0.0667 → 10th percentile (linear) 0.0733
    assert p.box_side_p10 == pytest.approx(np.percentile([0.1, 0.15, 20 / 300], 10))
    assert not p.crowded


@pytest.mark.parametrize("long_side, expected", [(100, 128), (256, 256), (300, 320), (416, 416), (640, 416)])
def test_imgsz_is_the_native_side_rounded_up_within_bounds(long_side: int, expected: int) -> None:
    big = long_side // 4  # a box a quarter of the image: over 16 px at every size here
    p = profile_data([Sample(Path("/a.jpg"), [[0, 0, big, big]], [0], image_size=(long_side // 2, long_side))])
    assert auto_imgsz(p) == expected


@pytest.mark.parametrize("long_side, box, expected", [
    (256, 11, 384),  # 11/256 of the side: 16 px needs 372.4 px → 384 (the synthetic sets' 10th percentile)
    (256, 16, 256),  # 16 px already at the native size
    (256, 15, 288),  # 16·256/15 = 273.1 → 288
    (320, 11, 416),  # 465.5 px wanted: at most 416
    (640, 81, 416),  # BCCD: 81-px boxes need only 126.4 px; 640 → at most 416
    (64, 8, 128),  # 128 exactly: 16·64/8
])
def test_imgsz_upscales_until_the_small_boxes_reach_16_px(long_side: int, box: int, expected: int) -> None:
    assert MIN_BOX_INPUT_PX == 16
    # twenty boxes of side `box`: the 10th percentile is exactly `box`
    boxes = [[0, 0, box, box]] * 20
    p = profile_data([Sample(Path("/a.jpg"), boxes, [0] * 20, image_size=(long_side, long_side))])
    assert p.box_side_p10 == pytest.approx(box / long_side)
    assert auto_imgsz(p) == expected


def test_imgsz_choice_says_why_it_upscaled() -> None:
    small = split(12, 3, size=(256, 256), side=12.0)  # ~6-18 px boxes on 256-px images
    cfg, choices = auto_config(TrainConfig(), small)
    (imgsz,) = [c for c in choices if c.setting == "imgsz"]
    assert cfg.imgsz == imgsz.value > 256 and "upscaled" in imgsz.reason
    assert auto_config(TrainConfig(), split(12, 3, size=(256, 256), side=60.0))[0].imgsz == 256
    # 64-px images with large boxes: 128 is the size floor, not an upscale for the boxes
    floor_cfg, floor_choices = auto_config(TrainConfig(), split(12, 3, size=(64, 64), side=30.0))
    (floor,) = [c for c in floor_choices if c.setting == "imgsz"]
    assert floor_cfg.imgsz == 128 and "upscaled" not in floor.reason


def test_crowded_data_gets_atss_and_no_mosaic() -> None:
    crowded = split(12, math.ceil(CROWDED_BOXES_PER_IMAGE))
    cfg, choices = auto_config(TrainConfig(), crowded)
    assert (cfg.loss.assign_mode, cfg.loss.atss_topk, cfg.model.xy_mode) == ("atss", 9, "v5")
    assert cfg.augment is not None and cfg.augment.mosaic == 0.0
    lines = "\n".join(c.line() for c in choices)
    assert "assignment = atss" in lines and f"{CROWDED_BOXES_PER_IMAGE:g}" in lines


def test_sparse_data_gets_v5_and_half_mosaic() -> None:
    sparse = split(12, math.floor(CROWDED_BOXES_PER_IMAGE) - 1)
    cfg, _ = auto_config(TrainConfig(), sparse)
    assert (cfg.loss.assign_mode, cfg.model.xy_mode) == ("v5", "v5")
    assert cfg.augment is not None and cfg.augment.mosaic == 0.5


def test_anchors_are_fitted_at_the_chosen_size() -> None:
    # 640-px images, boxes of ~40 px: at imgsz 416 they are ~26 px, so the fitted anchors are near 26
    cfg, choices = auto_config(TrainConfig(), split(20, 10, side=40.0))
    assert cfg.imgsz == 416 and cfg.model.imgsz == 416
    anchors = np.array(cfg.model.anchors, float).reshape(-1, 2)
    assert anchors.shape == (6, 2)  # yolov3-tiny: 2 scales × 3
    assert 13 <= np.median(anchors) <= 39  # 40·U(0.5, 1.5)·416/640
    assert not cfg.auto_anchor  # fitted already: no second check
    assert any(c.setting == "anchors" and c.value == "fitted" for c in choices)


def test_too_few_boxes_keep_the_configured_anchors() -> None:
    cfg, choices = auto_config(TrainConfig(), split(2, 2))  # 4 boxes, 6 anchors
    assert cfg.model.anchors is None and cfg.auto_anchor
    assert any(c.setting == "anchors" and "too few boxes" in c.reason for c in choices)


@pytest.mark.parametrize("images, batch, nbs, warmup", [(400, 8, 8, 1.0), (205, 16, 16, 2.0), (150, 8, 8, 2.0),
                                                        (64, 8, 64, float(MIN_WARMUP_UPDATES))])
def test_warmup_covers_at_least_the_minimum_updates(images: int, batch: int, nbs: int, warmup: float) -> None:
    # updates per epoch: ceil(ceil(images / batch) / round(nbs / batch)): 50, 13, 19, 1
    base = TrainConfig(batch_size=batch, nominal_batch_size=nbs, epochs=300)  # long: the 10% cap is 30 epochs
    cfg, _ = auto_config(base, split(images, 1, side=30.0))
    assert cfg.schedule.warmup_epochs == warmup


def test_warmup_is_at_most_a_tenth_of_the_run() -> None:
    # 64 images, batch 8, nominal batch 64: 1 update per epoch would ask for 20 warmup epochs
    tiny = TrainConfig(batch_size=8, nominal_batch_size=64, epochs=30)
    cfg, choices = auto_config(tiny, split(64, 1, side=30.0))
    assert MAX_WARMUP_SHARE == 0.1 and cfg.schedule.warmup_epochs == pytest.approx(3.0)
    assert any(c.setting == "warmup" and "at most 10% of the 30 epochs" in c.reason for c in choices)
    two = auto_config(TrainConfig(batch_size=8, nominal_batch_size=8, epochs=2), split(400, 1, side=30.0))[0]
    assert two.schedule.warmup_epochs == pytest.approx(0.2)  # 50 updates per epoch: 10 warmup updates


def test_kept_settings_are_left_alone() -> None:
    base = TrainConfig(imgsz=320)
    crowded = split(12, 10)
    cfg, choices = auto_config(base, crowded, keep=AUTO_SETTINGS)
    assert cfg.loss == base.loss and cfg.augment == base.augment and cfg.imgsz == 320
    assert cfg.model.anchors is None and cfg.schedule == base.schedule and cfg.averaging == base.averaging
    assert sum("kept: given, not chosen from the data" in c.reason for c in choices) == len(AUTO_SETTINGS) == 7
    with pytest.raises(ValueError, match="unknown settings"):
        auto_config(base, crowded, keep=("lr",))


def test_an_anchor_free_head_keeps_its_assignment_and_has_no_anchors_to_fit() -> None:
    from yolo3.config import ModelConfig
    from yolo3.losses.yolo_loss import LossConfig

    base = TrainConfig(model=ModelConfig(arch="yolov3-tiny", xy_mode="ltrb"), loss=LossConfig(assign_mode="atss"))
    cfg, _ = auto_config(base, split(12, 2))  # sparse: would be v5 with anchors
    assert (cfg.loss.assign_mode, cfg.model.xy_mode, cfg.model.anchors) == ("atss", "ltrb", None)


def test_ema_half_life_is_a_share_of_the_run() -> None:
    cfg, choices = auto_config(TrainConfig(), split(12, 2))
    assert cfg.averaging.ema and cfg.averaging.ema_share == EMA_SHARE
    assert any(c.setting == "ema" and "half-life" in c.value for c in choices)
    off = TrainConfig(averaging=AveragingConfig(ema=False))
    assert auto_config(off, split(12, 2))[0].averaging == off.averaging


@pytest.mark.parametrize("epochs, minutes, images, light", [
    (LIGHT_AUGMENT_MAX_PASSES - 1, 0.0, 50, True), (LIGHT_AUGMENT_MAX_PASSES, 0.0, 50, False),
    (100, 5.0, 1600, True), (100, 5.0, 205, True), (100, 5.0, 100, False), (100, 60.0, 205, False),
    (LIGHT_AUGMENT_MAX_PASSES - 1, 60.0, 205, True)])  # a budget cannot add epochs beyond `epochs`
def test_runs_that_see_each_image_few_times_get_light_jitter(epochs: int, minutes: float, images: int,
                                                             light: bool) -> None:
    # 5 min: 0.19, 1.46 and 3.0 s per image (4, 27 and 65 epochs measured); 60 min for 205: 17.6 s
    assert LIGHT_AUGMENT_BUDGET_S_PER_IMAGE == 2.5
    base = TrainConfig(epochs=epochs, time_budget_minutes=minutes)  # scale 0.5, translate 0.1, hsv 0.7/0.4
    assert base.augment is not None
    cfg, choices = auto_config(base, split(images, 1, side=30.0))
    assert cfg.augment is not None
    jitter = {k: getattr(cfg.augment, k) for k in LIGHT_AUGMENT}
    assert jitter == (LIGHT_AUGMENT if light else {k: getattr(base.augment, k) for k in LIGHT_AUGMENT})
    assert cfg.augment.hsv_h == base.augment.hsv_h and cfg.augment.flip_lr == base.augment.flip_lr
    assert any(c.setting == "augment" and ("too few times" in c.reason) == light for c in choices)


def test_light_jitter_is_a_ceiling() -> None:
    lighter = TrainConfig(epochs=10, augment=dataclasses.replace(TrainConfig().augment, scale=0.0, hsv_s=0.5))
    cfg, _ = auto_config(lighter, split(20, 1, side=30.0))
    assert (cfg.augment.scale, cfg.augment.hsv_s, cfg.augment.translate) == (0.0, 0.35, 0.05)


def test_no_augmentation_stays_off() -> None:
    cfg, choices = auto_config(TrainConfig(augment=None), split(12, 10))
    assert cfg.augment is None
    assert any(c.setting == "mosaic" and "augmentation is off" in c.reason for c in choices)


def test_small_objects_are_warned_about() -> None:
    tiny_boxes = split(10, 3, size=(2000, 2000), side=10.0)  # ~2 px at 416
    _, choices = auto_config(TrainConfig(), tiny_boxes)
    assert any(c.setting == "warning" and "--imgsz" in c.reason for c in choices)


def test_cli_train_auto_writes_its_choices_and_keeps_given_options(tmp_path: Path) -> None:
    from yolo3.cli import main as cli_main
    from yolo3.config import load_yaml
    from yolo3.data.synth import write_synth_dataset

    data = write_synth_dataset(tmp_path / "data", n_train=8, n_val=2, imgsz=96, seed=2, max_objects=3)
    args = ["train", "--data", str(data), "--auto", "--width", "0.25", "--imgsz", "64", "--epochs", "1",
            "--batch-size", "4", "--nbs", "4", "--workers", "0", "--project", str(tmp_path / "runs"), "--name", "a",
            "--no-tensorboard", "--no-progress", "--val-interval", "0"]
    assert cli_main(args) == 0
    run = tmp_path / "runs" / "a"
    saved = load_yaml(TrainConfig, run / "config.yaml")
    assert saved.imgsz == 64  # given: kept
    assert saved.loss.assign_mode == "v5" and saved.augment is not None and saved.augment.mosaic == 0.5
    assert saved.model.anchors is not None and saved.model.imgsz == 64
    log = (run / "train.log").read_text()
    assert "auto: assignment = v5" in log and "auto: imgsz = 64 (kept: given, not chosen from the data)" in log


def test_demo_static_recipe_is_one_flag_away(tmp_path: Path) -> None:
    from yolo3.data.synth import write_synth_dataset
    from yolo3.demo import run_demo
    from yolo3.train.auto import STATIC_DEMO

    data = write_synth_dataset(tmp_path / "data", n_train=8, n_val=2, n_test=2, imgsz=96, seed=3, max_objects=2)
    auto = run_demo(data, tmp_path / "auto", minutes=0.001, progress=False)
    static = run_demo(data, tmp_path / "static", minutes=0.001, progress=False, static=STATIC_DEMO)
    auto_log = (auto.weights.parents[1] / "train.log").read_text()
    static_log = (static.weights.parents[1] / "train.log").read_text()
    assert "auto: imgsz = 128 (median long side 96 px" in auto_log  # rounded up to 32, at least 128
    assert "auto: imgsz = 416 (kept" in static_log  # the static recipe's size for a user's data


def test_the_log_names_the_model_and_optimizer_it_did_not_choose() -> None:
    cfg = TrainConfig(optim=OptimConfig(name="sgd", lr0=0.01), batch_size=4)
    out, choices = auto_config(cfg, split(12, 2))
    (optimizer,) = [c for c in choices if c.setting == "optimizer"]
    assert optimizer.value == "sgd lr0 0.01, batch 4" and "from the config" in optimizer.reason
    (model,) = [c for c in choices if c.setting == "model"]
    assert model.value == f"{cfg.model.arch} ×{cfg.model.width:g}" and "from the config" in model.reason
    assert (out.optim, out.batch_size) == (cfg.optim, 4)  # said, never changed
