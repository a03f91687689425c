"""YOLOLoss: hand-computed values, the ignore mask, the 2 − w·h scale, gradcheck, errors."""

from __future__ import annotations

import math

import pytest
import torch

from _core_utils import StubModel, tiny_model
from yolo3.config import COCO_ANCHORS
from yolo3.losses import LossConfig, YOLOLoss
from yolo3.losses.box_loss import small_object_scale

LOG2 = math.log(2)
# 12×14 GT centred (100, 60) → stride 8, anchor (10, 13), cell (gx 12, gy 7), offset (0.5, 0.5).
GT = torch.tensor([[0, 2, 94.0, 53.0, 106.0, 67.0]])


def coco_stub(xy_mode: str = "paper") -> StubModel:
    return StubModel(COCO_ANCHORS, (8, 16, 32), num_classes=3, xy_mode=xy_mode)


def test_hand_computed_value_with_zero_outputs() -> None:
    # All logits 0: σ = 0.5, so every BCE (obj, cls) is log 2 and the centre term is 0
    # (target σ 0.5); the size term is log(12/10)² + log(14/13)², scaled by 2 − w·h.
    stub = coco_stub()
    total, terms = YOLOLoss(stub, LossConfig())(stub.zeros(416), GT)
    wh = math.log(12 / 10) ** 2 + math.log(14 / 13) ** 2
    box = 0.05 * (2 - 12 * 14 / 416**2) * wh
    obj = (4.0 + 1.0 + 0.4) * LOG2
    cls = 0.5 * LOG2
    assert terms["box"].item() == pytest.approx(box, rel=1e-5)
    assert terms["box/s8"].item() == pytest.approx(box, rel=1e-5)
    assert terms["box/s16"].item() == 0 and terms["cls/s32"].item() == 0
    assert terms["obj"].item() == pytest.approx(obj, rel=1e-5)
    assert terms["obj/s16"].item() == pytest.approx(LOG2, rel=1e-5)
    assert terms["cls"].item() == pytest.approx(cls, rel=1e-5)
    assert total.item() == pytest.approx(box + obj + cls, rel=1e-5)
    assert terms["num_pos"].item() == 1 and terms["ignored"].item() == 0


def test_small_object_scale_is_two_minus_wh() -> None:
    wh = torch.tensor([[40.0, 20.0], [128.0, 128.0], [0.0, 5.0]])
    torch.testing.assert_close(small_object_scale(wh, (128, 128)), torch.tensor([2 - 800 / 16384, 1.0, 2.0]))
    stub = coco_stub()
    _, on = YOLOLoss(stub, LossConfig())(stub.zeros(416), GT)
    _, off = YOLOLoss(stub, LossConfig(small_object_scale=False))(stub.zeros(416), GT)
    assert on["box"].item() / off["box"].item() == pytest.approx(2 - 12 * 14 / 416**2, rel=1e-6)


def _obj_grads(ignore_thresh: float, th: float) -> torch.Tensor:
    """d total / d obj logit at cell (12, 7) of stride 8 for anchors 0, 1, 2, after making
    anchor 1 decode to a 12 × th box at the GT's centre."""
    stub = coco_stub()
    raw = stub.zeros(416)
    with torch.no_grad():
        raw[0][0, 1, 7, 12, 2] = math.log(12 / 16)
        raw[0][0, 1, 7, 12, 3] = math.log(th / 30)
    total, _ = YOLOLoss(stub, LossConfig(ignore_thresh=ignore_thresh))(raw, GT)
    total.backward()
    return raw[0].grad[0, :, 7, 12, 4]


def test_second_anchor_over_threshold_is_ignored_not_negative() -> None:
    exact = _obj_grads(0.5, 14.0)  # anchor 1 decodes exactly onto the GT: IoU 1
    assert exact[0] < 0  # responsible: pushed towards 1
    assert exact[1] == 0  # ignored: no gradient at all
    assert exact[2] > 0  # (33,23): IoU 0.22 → negative, pushed towards 0
    # IoU 168 / (12 · 14/0.6) = 0.6: ignored at 0.5, a negative at 0.7 (darknet's value).
    assert _obj_grads(0.5, 14 / 0.6)[1] == 0
    assert _obj_grads(0.7, 14 / 0.6)[1] > 0
    assert _obj_grads(1.0, 14.0)[1] > 0  # ignore mask off


def test_negative_gradient_value() -> None:
    # A negative cell's obj gradient: balance · (σ(0) − 0) / (cells of its scale).
    grads = _obj_grads(0.5, 14.0)
    n8 = 3 * 52 * 52 - 1  # cells of stride 8 minus the ignored one
    assert grads[2].item() == pytest.approx(4.0 * 0.5 / n8, rel=1e-5)
    assert grads[0].item() == pytest.approx(4.0 * (0.5 - 1) / n8, rel=1e-5)


def test_label_smoothing_targets() -> None:
    # Class gradient at the positive: w_cls · (σ(0) − t) / C, t = 1 − ε/2 or ε/2.
    stub = coco_stub()
    raw = stub.zeros(416)
    total, _ = YOLOLoss(stub, LossConfig(label_smoothing=0.1))(raw, GT)
    total.backward()
    g = raw[0].grad[0, 0, 7, 12, 5:]
    torch.testing.assert_close(g, torch.tensor([0.5 * 0.45 / 3, 0.5 * 0.45 / 3, 0.5 * -0.45 / 3]))


def test_terms_sum_over_scales_and_batch_factor() -> None:
    stub = StubModel(COCO_ANCHORS, (8, 16, 32), 3, "v5")
    raw = [r.detach().normal_().requires_grad_() for r in stub.zeros(128, batch=2)]
    targets = torch.tensor([[0, 1, 10.0, 20, 60, 90], [1, 0, 5, 5, 30, 30], [1, 2, 40, 40, 120, 100]])
    total, terms = YOLOLoss(stub, LossConfig(assign_mode="v5", box_loss="ciou", obj_iou_target=True))(raw, targets)
    for term in ("box", "obj", "cls"):
        parts = sum(terms[f"{term}/s{s}"] for s in (8, 16, 32))
        assert terms[term].item() == pytest.approx(parts.item(), rel=1e-6)
    assert total.item() == pytest.approx(2 * terms["loss"].item(), rel=1e-6)
    assert all(not t.requires_grad and t.ndim == 0 for t in terms.values())


def test_empty_targets_give_pure_background_loss() -> None:
    stub = coco_stub()
    raw = stub.zeros(128, batch=2)
    total, terms = YOLOLoss(stub, LossConfig())(raw, torch.zeros(0, 6))
    total.backward()
    assert terms["num_pos"].item() == 0 and terms["box"].item() == 0
    assert total.item() == pytest.approx(2 * 5.4 * LOG2, rel=1e-5)


@pytest.mark.parametrize("assign_mode,box_loss,focal", [
    ("paper", "paper", 0.0), ("paper", "giou", 2.0), ("v5", "iou", 0.0), ("v5", "diou", 1.5), ("v5", "paper", 0.0),
])
def test_gradcheck_float64(assign_mode: str, box_loss: str, focal: float) -> None:
    # CIoU is left out on purpose: its α is held constant in the backward pass (CIoU paper).
    stub = StubModel([[[6, 8], [12, 8], [10, 14]], [[16, 16], [20, 28], [28, 20]]], (16, 32), 2, assign_mode)
    raw = [(torch.randn(1, 3, 32 // s, 32 // s, 7, dtype=torch.float64) * 0.5).requires_grad_() for s in (16, 32)]
    targets = torch.tensor([[0, 1, 3.0, 4, 14, 15], [0, 0, 10, 6, 30, 28]])
    cfg = LossConfig(assign_mode=assign_mode, box_loss=box_loss, focal_gamma=focal, label_smoothing=0.1)
    criterion = YOLOLoss(stub, cfg)
    assert criterion(raw, targets)[1]["num_pos"] >= 2  # both GTs have positives
    assert torch.autograd.gradcheck(lambda a, b: criterion([a, b], targets)[0], tuple(raw))


def test_bad_configs_and_targets_raise() -> None:
    with pytest.raises(ValueError, match="xy_mode='v5'"):
        YOLOLoss(tiny_model("paper"), LossConfig(assign_mode="v5"))
    with pytest.raises(ValueError, match="box_loss"):
        LossConfig(box_loss="l1")
    stub = coco_stub()
    criterion = YOLOLoss(stub, LossConfig())
    with pytest.raises(ValueError, match="class_id out of range"):
        criterion(stub.zeros(128), torch.tensor([[0, 3, 1.0, 1, 9, 9]]))
    with pytest.raises(ValueError, match="batch_index"):
        criterion(stub.zeros(128), torch.tensor([[1, 0, 1.0, 1, 9, 9]]))
    with pytest.raises(ValueError, match="zero or negative width"):
        criterion(stub.zeros(128), torch.tensor([[0, 0, 5.0, 5, 5, 9]]))
    with pytest.raises(ValueError, match=r"\(M, 6\)"):
        criterion(stub.zeros(128), torch.zeros(2, 5))


def test_config_loads_from_yaml_dict() -> None:
    from yolo3.config import from_dict
    cfg = from_dict(LossConfig, {"assign_mode": "v5", "ignore_thresh": 0.7, "obj_balance": [1, 1, 1]})
    assert cfg.obj_balance == [1.0, 1.0, 1.0] and cfg.ignore_thresh == 0.7


def test_bf16_outputs_are_upcast() -> None:
    stub = coco_stub()
    raw = [r.detach().bfloat16().requires_grad_() for r in stub.zeros(416)]
    total, terms = YOLOLoss(stub, LossConfig())(raw, GT)
    total.backward()
    assert total.dtype == torch.float32 and raw[0].grad.dtype == torch.bfloat16
    assert terms["cls"].item() == pytest.approx(0.5 * LOG2, rel=1e-5)
