"""Activation / dying-unit statistics and the numerical gradient check."""

from __future__ import annotations

import torch

from yolo3.losses.yolo_loss import LossConfig, YOLOLoss
from yolo3.models import create_model
from yolo3.train.probes import activation_stats, gradient_check


def test_activation_stats_match_a_hand_computation() -> None:
    model = create_model("yolov3-tiny", num_classes=2, width=0.25).eval()
    images = torch.rand(2, 3, 64, 64)
    rows = activation_stats(model, images)
    assert len(rows) == 11  # the activated conv blocks of yolov3-tiny (13 convs − 2 linear heads)
    with torch.no_grad():
        block = model.stem16[0]  # the first block recomputed by hand: conv → BN → leaky ReLU
        first = torch.nn.functional.leaky_relu(block.bn(block.conv(images)), 0.1)
    assert abs(rows[0].mean - float(first.mean())) < 1e-6
    assert abs(rows[0].std - float(first.std())) < 1e-6
    assert abs(rows[0].negative_share - float((first < 0).float().mean())) < 1e-6


def test_dying_channels_are_counted() -> None:
    model = create_model("yolov3-tiny", num_classes=2, width=0.25).eval()
    block = model.stem16[0]
    with torch.no_grad():
        block.bn.bias[:4] = -1e3  # 4 of 8 channels negative everywhere
    rows = activation_stats(model, torch.rand(2, 3, 64, 64))
    assert rows[0].channels == 8 and rows[0].dying_channels == 0.5


def test_gradient_check_agrees_for_the_yolo_loss_and_catches_a_broken_backward() -> None:
    model = create_model("yolov3-tiny", num_classes=2, width=0.25)
    images = torch.rand(2, 3, 64, 64, dtype=torch.float64)
    targets = torch.tensor([[0, 1, 8.0, 10.0, 40.0, 50.0], [1, 0, 20.0, 5.0, 60.0, 30.0]], dtype=torch.float64)

    def loss_of(net):
        return YOLOLoss(net, LossConfig(box_loss="giou"))(net(images), targets)[0]

    checks = gradient_check(model, loss_of, samples=6)
    assert len(checks) == 6
    assert all(c.agrees(rtol=1e-4) for c in checks), checks
    # the round-off allowance stays far below the gradients the check must judge
    assert all(0 < c.atol < 1e-7 for c in checks), checks

    def broken(net):  # a backward that doubles every gradient: the check must see it
        out = net(images)
        doubled = [o + (o - o.detach()) for o in out]
        return YOLOLoss(net, LossConfig(box_loss="giou"))(doubled, targets)[0]

    bad = gradient_check(model, broken, samples=6)
    assert all(abs(c.relative_error - 0.5) < 1e-3 for c in bad if abs(c.numeric) > 1e-6)
    assert not any(c.agrees(rtol=1e-4) for c in bad if abs(c.numeric) > 1e-6)


def test_gradient_check_tolerates_finite_difference_roundoff_on_a_tiny_gradient() -> None:
    """L = 1000 + 1e-9·w: the true slope 1e-9 is below the round-off of a central difference
    of a loss near 1000 (u·1000/ε ≈ 1e-7), so numeric and analytic differ by ~100 % in
    relative terms while agreeing within the bound; a slope off by 1e-5 still fails."""
    from yolo3.train.probes import FLOAT64_UNIT_ROUNDOFF, ROUNDOFF_GROWTH

    net = torch.nn.Linear(1, 1, bias=False)

    def loss_of(m):
        return 1000.0 + 1e-9 * m.weight.sum()

    (check,) = gradient_check(net, loss_of, samples=1, eps=1e-6)
    assert check.analytic == 1e-9
    loss = 1000.0 + 1e-9 * float(net.weight.detach())
    assert abs(check.atol - ROUNDOFF_GROWTH * FLOAT64_UNIT_ROUNDOFF * loss / 1e-6) < 1e-12
    assert check.agrees(rtol=1e-4)

    def wrong_slope(m):  # backward reports 1e-5 more than the forward's slope
        w = m.weight.sum()
        return 1000.0 + 1e-9 * w + 1e-5 * (w - w.detach())

    (bad,) = gradient_check(net, wrong_slope, samples=1, eps=1e-6)
    assert not bad.agrees(rtol=1e-4)


def test_cli_diagnose_passes_on_a_synthetic_dataset(tmp_path, capsys) -> None:
    from _train_utils import synth_data
    from yolo3.cli import main

    data = synth_data(tmp_path, n_train=4)
    code = main(["diagnose", "--data", str(data), "--width", "0.25", "--imgsz", "64", "--batch-size", "2",
                 "--workers", "0", "--samples", "4"])
    out = capsys.readouterr().out
    assert code == 0 and "PASS" in out and "stem16.0" in out
    assert "uses DIoU" in out  # the default preset's CIoU is checked through DIoU, and says so
