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
    assert max(c.relative_error for c in checks) < 1e-4, checks

    def broken(net):  # a backward that doubles every gradient: the check must see it
        out = net(images)
        doubled = [o + (o - o.detach()) for o in out]
        return YOLOLoss(net, LossConfig(box_loss="giou"))(doubled, targets)[0]

    bad = gradient_check(model, broken, samples=6)
    assert all(abs(c.relative_error - 0.5) < 1e-3 for c in bad if abs(c.numeric) > 1e-6)


def test_cli_diagnose_passes_on_a_synthetic_dataset(tmp_path, capsys) -> None:
    from _train_utils import synth_data
    from yolo3.cli import main

    data = synth_data(tmp_path, n_train=4)
    code = main(["diagnose", "--data", str(data), "--width", "0.25", "--imgsz", "64", "--batch-size", "2",
                 "--workers", "0", "--samples", "4"])
    out = capsys.readouterr().out
    assert code == 0 and "PASS" in out and "stem16.0" in out
    assert "uses DIoU" in out  # the default preset's CIoU is checked through DIoU, and says so
