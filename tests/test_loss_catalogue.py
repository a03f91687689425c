"""The §4.4 loss catalogue against references (PyTorch's own or closed forms) and gradcheck."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from yolo3.losses import catalogue as L


def _probs(*shape: int) -> torch.Tensor:
    return (torch.rand(*shape, dtype=torch.float64) * 0.9 + 0.05).requires_grad_()


def test_mae_mse_match_torch_and_reductions() -> None:
    x, y = torch.randn(4, 5, dtype=torch.float64), torch.randn(4, 5, dtype=torch.float64)
    for red in ("mean", "sum", "none"):
        torch.testing.assert_close(L.mae(x, y, red), F.l1_loss(x, y, reduction=red))
        torch.testing.assert_close(L.mse(x, y, red), F.mse_loss(x, y, reduction=red))
    assert float(L.mse(torch.tensor([1.0, 3.0]), torch.tensor([0.0, 0.0]))) == 5.0  # (1 + 9) / 2
    with pytest.raises(ValueError, match="reduction"):
        L.mae(x, y, "avg")


def test_mean_of_empty_is_zero() -> None:
    assert float(L.mse(torch.zeros(0), torch.zeros(0))) == 0.0


def test_bce_matches_torch_including_p_0_and_1() -> None:
    p = torch.tensor([0.0, 1.0, 0.0, 1.0, 0.3, 0.999999], dtype=torch.float64)
    t = torch.tensor([1.0, 0.0, 0.0, 1.0, 0.7, 0.2], dtype=torch.float64)
    torch.testing.assert_close(L.bce(p, t, "none"), F.binary_cross_entropy(p, t, reduction="none"))
    assert L.bce(p, t, "none")[0] == 100.0  # stated edge: clamp of log at −100
    assert L.bce(p, t, "none")[2] == 0.0
    p.requires_grad_()
    L.bce(p, t).backward()
    assert torch.isfinite(p.grad).all()


def test_bce_with_logits_matches_torch_and_is_stable() -> None:
    x = torch.tensor([-200.0, -3.0, 0.0, 2.5, 200.0], dtype=torch.float64)
    t = torch.tensor([1.0, 0.0, 0.5, 1.0, 0.0], dtype=torch.float64)
    torch.testing.assert_close(L.bce_with_logits(x, t, "none"), F.binary_cross_entropy_with_logits(x, t, reduction="none"))
    assert float(L.bce_with_logits(x, t, "none")[0]) == 200.0  # −log σ(−200) = 200 exactly in float64


def test_cross_entropy_matches_torch_indices_probs_smoothing() -> None:
    logits = torch.randn(6, 4, 3, dtype=torch.float64) * 5
    target = torch.randint(0, 4, (6, 3))
    torch.testing.assert_close(L.cross_entropy(logits, target), F.cross_entropy(logits, target))
    torch.testing.assert_close(L.cross_entropy(logits, target, 0.1, "none"),
                               F.cross_entropy(logits, target, label_smoothing=0.1, reduction="none"))
    probs = torch.softmax(torch.randn(6, 4, 3, dtype=torch.float64), 1)
    torch.testing.assert_close(L.cross_entropy(logits, probs, reduction="sum"),
                               F.cross_entropy(logits, probs, reduction="sum"))
    # Huge logits: log-softmax stays finite where softmax-then-log would give inf.
    big = torch.tensor([[1000.0, 0.0]], dtype=torch.float64)
    assert float(L.cross_entropy(big, torch.tensor([1]))) == 1000.0


def test_focal_matches_closed_form_and_reduces_to_bce() -> None:
    x = torch.randn(50, dtype=torch.float64) * 3
    t = (torch.rand(50) > 0.5).double()
    p = torch.sigmoid(x)
    p_t = torch.where(t == 1, p, 1 - p)
    alpha_t = torch.where(t == 1, 0.25, 0.75)
    expected = -alpha_t * (1 - p_t) ** 2 * torch.log(p_t)
    torch.testing.assert_close(L.focal_loss_with_logits(x, t, 2.0, 0.25, "none"), expected)
    torch.testing.assert_close(L.focal_loss_with_logits(x, t, 0.0, None), F.binary_cross_entropy_with_logits(x, t))


def test_dice_and_iou_closed_forms() -> None:
    # One sample, one class, 4 pixels: p = [1, .5, 0, 0], t = [1, 1, 0, 0].
    p = torch.tensor([[[1.0, 0.5, 0.0, 0.0]]])
    t = torch.tensor([[[1.0, 1.0, 0.0, 0.0]]])
    assert math.isclose(float(L.dice_loss(p, t, smooth=0)), 1 - 2 * 1.5 / (1.5 + 2), rel_tol=1e-6)
    assert math.isclose(float(L.soft_iou_loss(p, t, smooth=0)), 1 - 1.5 / (1.5 + 2 - 1.5), rel_tol=1e-6)
    assert math.isclose(float(L.dice_loss(p, t, smooth=1)), 1 - (3 + 1) / (3.5 + 1), rel_tol=1e-6)


def test_dice_iou_edges_empty_and_no_overlap() -> None:
    empty = torch.zeros(2, 1, 5)
    for smooth in (0.0, 1.0):
        assert float(L.dice_loss(empty, empty, smooth)) == 0.0
        assert float(L.soft_iou_loss(empty, empty, smooth)) == 0.0
    a = torch.tensor([[[1.0, 1.0, 0.0, 0.0]]])
    b = torch.tensor([[[0.0, 0.0, 1.0, 1.0]]])
    assert float(L.dice_loss(a, b, smooth=0)) == 1.0
    assert float(L.soft_iou_loss(a, b, smooth=0)) == 1.0


def test_dice_multiclass_is_class_mean() -> None:
    p, t = torch.rand(3, 4, 6, 6), (torch.rand(3, 4, 6, 6) > 0.5).float()
    per_class = torch.stack([L.dice_loss(p[:, c:c + 1], t[:, c:c + 1], reduction="none") for c in range(4)], 1)
    torch.testing.assert_close(L.dice_loss(p, t, reduction="none"), per_class.mean(1))
    with pytest.raises(ValueError, match="same shape"):
        L.dice_loss(p, t[:, :2])


def test_combo_is_weighted_sum() -> None:
    p, t = torch.rand(2, 1, 8).clamp(0.01, 0.99), (torch.rand(2, 1, 8) > 0.5).float()
    expected = 0.3 * F.binary_cross_entropy(p, t, reduction="none").flatten(1).mean(1) \
        + 0.7 * L.dice_loss(p, t, reduction="none")
    torch.testing.assert_close(L.combo_loss(p, t, alpha=0.3, reduction="none"), expected)


@pytest.mark.parametrize("name", ["mae", "mse", "bce", "bce_logits", "ce", "focal", "dice", "iou", "combo"])
def test_gradcheck(name: str) -> None:
    t01 = torch.rand(2, 2, 3, dtype=torch.float64)
    x = (torch.randn(2, 2, 3, dtype=torch.float64) + 0.3).requires_grad_()
    labels = torch.randint(0, 2, (2, 3))
    fns = {
        "mae": lambda: (lambda y: L.mae(y, t01), (x,)),
        "mse": lambda: (lambda y: L.mse(y, t01, "sum"), (x,)),
        "bce": lambda: (lambda p: L.bce(p, t01), (_probs(2, 2, 3),)),
        "bce_logits": lambda: (lambda y: L.bce_with_logits(y, t01), (x,)),
        "ce": lambda: (lambda y: L.cross_entropy(y, labels, 0.1), (x,)),
        "focal": lambda: (lambda y: L.focal_loss_with_logits(y, t01, 2.0, 0.25), (x,)),
        "dice": lambda: (lambda p: L.dice_loss(p, t01), (_probs(2, 2, 3),)),
        "iou": lambda: (lambda p: L.soft_iou_loss(p, t01), (_probs(2, 2, 3),)),
        "combo": lambda: (lambda p: L.combo_loss(p, t01, 0.4), (_probs(2, 2, 3),)),
    }
    fn, inputs = fns[name]()
    assert torch.autograd.gradcheck(fn, inputs)


def test_bce_with_logits_gradient_at_zero_is_sigma_minus_t() -> None:
    x = torch.zeros(3, requires_grad=True)
    t = torch.tensor([0.0, 0.3, 1.0])
    L.bce_with_logits(x, t, "sum").backward()
    torch.testing.assert_close(x.grad, 0.5 - t)
