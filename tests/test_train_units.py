"""Pure parts of the training engine: parameter groups, schedule, EMA/SWA, guard,
sharding, multi-scale, CSV. Each value is worked out by hand or by a closed form."""

from __future__ import annotations

import math
import warnings

import pytest
import torch
from torch import nn

from yolo3.models import create_model
from yolo3.train.config import OptimConfig, ScheduleConfig
from yolo3.train.distributed import epoch_indices
from yolo3.train.ema import SWA, ModelEMA
from yolo3.train.guard import NonFiniteGuard, TrainingDiverged
from yolo3.train.logging import MetricsCSV, read_metrics
from yolo3.train.optim import build_optimizer, freeze_backbone, param_groups
from yolo3.train.schedule import (
    SchedulePlan, apply_schedule, epochs_within_budget, lr_factor, schedule_at, warmup_iters,
)
from yolo3.train.setup import multiscale_size, resize_batch


def tiny() -> nn.Module:
    return create_model("yolov3-tiny", num_classes=3, width=0.25)


@pytest.mark.parametrize("arch", ["yolov3-tiny", "yolov3"])
def test_param_groups_exclude_bn_and_bias_from_decay(arch: str) -> None:
    model = create_model(arch, num_classes=3, width=0.125, depth=0.33)
    groups = param_groups(model, weight_decay=5e-4)
    decayed = {id(p) for g in groups if g["weight_decay"] > 0 for p in g["params"]}
    free = {id(p) for g in groups if g["weight_decay"] == 0 for p in g["params"]}
    bn_params = {id(p) for m in model.modules() if isinstance(m, nn.BatchNorm2d) for p in m.parameters()}
    biases = {id(p) for n, p in model.named_parameters() if n.endswith(".bias")}
    conv_weights = {id(m.weight) for m in model.modules() if isinstance(m, nn.Conv2d)}
    assert bn_params and biases and bn_params | biases == free
    assert decayed == conv_weights
    assert len(decayed) + len(free) == len(list(model.parameters()))
    assert all(g["weight_decay"] == 5e-4 for g in groups if g["name"].endswith("/weight"))
    # heads' biases carry the prior; they are in a bias group (for the bias warmup)
    head_bias = model.heads[0].conv.bias
    assert any(g["is_bias"] and any(p is head_bias for p in g["params"]) for g in groups)


@pytest.mark.parametrize("name,cls", [("sgd", torch.optim.SGD), ("adam", torch.optim.Adam),
                                      ("adamw", torch.optim.AdamW), ("rmsprop", torch.optim.RMSprop)])
def test_build_optimizer_kinds(name: str, cls: type) -> None:
    opt = build_optimizer(tiny(), OptimConfig(name=name, lr0=0.02))
    assert isinstance(opt, cls)
    assert all(g["lr"] == pytest.approx(0.02) for g in opt.param_groups)


def test_backbone_lr_scale_and_freeze() -> None:
    model = tiny()
    opt = build_optimizer(model, OptimConfig(lr0=0.01, backbone_lr_scale=0.1))
    by_name = {g["name"]: g for g in opt.param_groups}
    assert by_name["backbone/weight"]["lr"] == pytest.approx(0.001)
    assert by_name["head/weight"]["lr"] == pytest.approx(0.01)
    n_frozen = freeze_backbone(model)
    groups = param_groups(model, 5e-4)
    assert n_frozen > 0 and not any(g["name"].startswith("backbone") for g in groups)


def test_warmup_is_linear_and_bias_lr_falls() -> None:
    cfg = ScheduleConfig(kind="constant", warmup_epochs=1.0, warmup_bias_lr=0.1, warmup_momentum=0.8)
    assert warmup_iters(cfg, 10) == 10
    # iteration 5 of 10 warmup iterations, target lr 0.01, momentum 0.9
    lr_w, lr_b, mom = schedule_at(5, 10, 3, cfg, lr0=0.01, momentum=0.9)
    assert lr_w == pytest.approx(0.005)
    assert lr_b == pytest.approx(0.1 + 0.5 * (0.01 - 0.1))
    assert mom == pytest.approx(0.85)
    assert schedule_at(10, 10, 3, cfg, 0.01, 0.9) == pytest.approx((0.01, 0.01, 0.9))


def test_schedule_shapes() -> None:
    cos = ScheduleConfig(kind="cosine", final_lr_ratio=0.01)
    assert lr_factor(0.0, cos) == pytest.approx(1.0)
    assert lr_factor(0.5, cos) == pytest.approx(0.01 + 0.99 * 0.5)
    assert lr_factor(1.0, cos) == pytest.approx(0.01)
    lin = ScheduleConfig(kind="linear", final_lr_ratio=0.1)
    assert lr_factor(0.25, lin) == pytest.approx(1 - 0.9 * 0.25)
    step = ScheduleConfig(kind="step", milestones=[0.5, 0.75], gamma=0.1)
    assert [lr_factor(p, step) for p in (0.49, 0.5, 0.8)] == pytest.approx([1.0, 0.1, 0.01])
    one = ScheduleConfig(kind="onecycle", onecycle_pct=0.3, final_lr_ratio=0.01)
    assert lr_factor(0.0, one) == pytest.approx(1 / 25)
    assert lr_factor(0.3, one) == pytest.approx(1.0)
    assert lr_factor(1.0, one) == pytest.approx(0.01)
    assert max(lr_factor(p / 100, one) for p in range(101)) == pytest.approx(1.0)


def test_apply_schedule_sets_groups() -> None:
    model = tiny()
    opt = build_optimizer(model, OptimConfig(name="adam", lr0=0.001, momentum=0.9, backbone_lr_scale=0.5))
    cfg = ScheduleConfig(kind="cosine", warmup_epochs=0)
    lr = apply_schedule(opt, 50, 10, 10, cfg, 0.001, 0.9)
    assert lr == pytest.approx(0.001 * (0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * 0.5))))
    for g in opt.param_groups:
        assert g["lr"] == pytest.approx(lr * g["lr_scale"])
        assert g["betas"][0] == pytest.approx(0.9)


def test_ema_follows_closed_form() -> None:
    model = nn.Linear(1, 1, bias=False)
    nn.init.zeros_(model.weight)
    ema = ModelEMA(model, decay=0.9, tau=2.0)
    expected = 0.0
    for step in range(1, 6):
        with torch.no_grad():
            model.weight.fill_(float(step))
        ema.update(model)
        d = 0.9 * (1 - math.exp(-step / 2.0))
        expected = d * expected + (1 - d) * step
        assert ema.module.weight.item() == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize("share", [0.12, 0.3])
def test_ema_share_averages_the_same_fraction_of_any_run_length(share: float) -> None:
    # weights w_k = k/T over a run of T updates; with a half-life of share·k the average
    # weighs update k ∝ k^(a − 1), a = ln 2 / share, so in the limit it ends at a / (a + 1)
    a = math.log(2) / share
    model = nn.Linear(1, 1, bias=False)
    for total in (100, 1000):
        ema = ModelEMA(model, decay=0.9999, tau=2000.0, share=share)  # decay and tau unused
        for k in range(1, total + 1):
            with torch.no_grad():
                model.weight.fill_(k / total)
            ema.update(model)
        assert ema.module.weight.item() == pytest.approx(a / (a + 1), abs=0.01)
    assert ema.decay_at(1) == pytest.approx(0.5 ** (1 / share))  # the first update: almost the weights


def test_swa_is_equal_average() -> None:
    model = nn.Linear(2, 1)
    swa = SWA(model)
    snaps = []
    for k in range(4):
        with torch.no_grad():
            model.weight.normal_()
        snaps.append(model.weight.detach().clone())
        swa.update(model)
    torch.testing.assert_close(swa.module.weight, torch.stack(snaps).mean(0))


def test_guard_skips_then_stops() -> None:
    guard = NonFiniteGuard(max_consecutive=3)
    assert guard.check(torch.tensor(1.0), 0, ["a.jpg"])
    with pytest.warns(RuntimeWarning, match=r"iteration 1.*bad\.jpg"):
        assert not guard.check(torch.tensor(float("nan")), 1, ["bad.jpg"])
    assert guard.check(2.0, 2, ["a.jpg"])  # a finite step resets the run of failures
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        guard.check(math.inf, 3, ["x.jpg"])
        guard.check(math.inf, 4, ["x.jpg"])
    with pytest.raises(TrainingDiverged, match=r"iteration 5.*y\.jpg.*lower optim\.lr0"):
        guard.check(math.inf, 5, ["y.jpg"])


def test_epoch_indices_shard_and_reshuffle() -> None:
    n = 11
    shards = [epoch_indices(n, 3, seed=1, rank=r, world_size=2) for r in range(2)]
    assert len(shards[0]) == len(shards[1]) == 6  # padded to a multiple of world_size
    assert set(shards[0]) | set(shards[1]) == set(range(n))
    assert epoch_indices(n, 3, 1) == epoch_indices(n, 3, 1)
    assert epoch_indices(n, 3, 1) != epoch_indices(n, 4, 1)
    assert sorted(epoch_indices(n, 4, 1)) == list(range(n))


def test_multiscale_size_and_resize() -> None:
    sizes = {multiscale_size(320, 0.5, 0, it) for it in range(200)}
    assert all(s % 32 == 0 and 160 <= s <= 480 for s in sizes) and len(sizes) > 5
    assert multiscale_size(320, 0.5, 0, 17) == multiscale_size(320, 0.5, 0, 17)
    images = torch.rand(1, 3, 64, 64)
    targets = torch.tensor([[0, 1, 8.0, 16.0, 32.0, 48.0]])
    out, t = resize_batch(images, targets, 96)
    assert out.shape == (1, 3, 96, 96)
    torch.testing.assert_close(t, torch.tensor([[0, 1, 12.0, 24.0, 48.0, 72.0]]))


def test_metrics_csv_grows_columns_and_truncates_on_resume(tmp_path) -> None:
    path = tmp_path / "metrics.csv"
    csv = MetricsCSV(path)
    csv.write({"epoch": 1, "train/loss": 2.0})
    csv.write({"epoch": 2, "train/loss": 1.5, "mAP@0.5": 0.25})
    rows = read_metrics(path)
    assert [r["mAP@0.5"] for r in rows] == ["", "0.25"]
    MetricsCSV(path, resume_epoch=1)  # one epoch done: its row stays
    assert [r["epoch"] for r in read_metrics(path)] == ["1"]


def test_schedule_plan_is_exact_until_replanned_then_continuous() -> None:
    fresh = SchedulePlan(100)
    assert [fresh.at(it) for it in (0, 25, 100, 150)] == [0.0, 0.25, 1.0, 1.0]
    # bitwise the plain it / total (so runs without a budget and their resumes are unchanged)
    assert all(fresh.at(it) == it / 100 for it in range(101))
    # at iteration 40 (progress 0.4) the run learns it will end at 60: the 0.6 left goes in 20 iterations
    shorter = fresh.replan(40, 60)
    assert shorter.at(40) == pytest.approx(0.4) and shorter.at(50) == pytest.approx(0.7)
    assert shorter.at(60) == pytest.approx(1.0)
    # then at 50 that it will end at 150: 0.3 left over 100 iterations — slower, never back
    longer = shorter.replan(50, 150)
    assert longer.at(50) == pytest.approx(0.7) and longer.at(100) == pytest.approx(0.85)
    assert SchedulePlan.from_dict(longer.to_dict()) == longer
    assert fresh.replan(40, 100) is fresh


def test_budget_replanning_never_raises_the_lr_after_warmup() -> None:
    """The same speed jumps through the pure functions the engine uses: the plan-based LR is
    non-increasing after warmup, while the old rule (it / current total) went back up."""
    cfg = ScheduleConfig(kind="cosine", warmup_epochs=1.0, final_lr_ratio=0.01)
    ipe, budget = 10, 600.0
    durations = [budget / 16] * 3 + [budget / 13] * 2 + [budget / 33] * 3 + [budget / 21] * 30
    plan, epochs, elapsed, seconds, done = SchedulePlan(ipe * 100), 100, 0.0, [], 0
    new_lrs, old_lrs, totals = [], [], []
    while done < epochs:
        for it in range(done * ipe, (done + 1) * ipe):
            new_lrs.append(schedule_at(it, ipe, epochs, cfg, 0.01, 0.9, plan)[0])
            old_lrs.append(schedule_at(it, ipe, epochs, cfg, 0.01, 0.9)[0])
        elapsed += durations[done]
        seconds.append(durations[done])
        done += 1
        total = epochs_within_budget(budget, elapsed, seconds, done, 100)
        if len(seconds) >= 2 and total != epochs:
            plan, epochs = plan.replan(done * ipe, total * ipe), total
            totals.append(total)
    assert any(b > a for a, b in zip(totals, totals[1:])) and any(b < a for a, b in zip(totals, totals[1:]))
    after = new_lrs[ipe:]
    assert all(b <= a for a, b in zip(after, after[1:]))
    assert any(b > a * 1.01 for a, b in zip(old_lrs[ipe:], old_lrs[ipe + 1:]))  # the bug this replaces
    assert elapsed <= budget
