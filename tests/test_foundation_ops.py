"""Decode, NMS and letterbox against hand-made numbers and brute force."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from yolo3.data.letterbox import boxes_from_letterbox, boxes_to_letterbox, letterbox, letterbox_info
from yolo3.inference.postprocess import NMSConfig, postprocess
from yolo3.ops.boxes import box_iou, generalized_iou, wh_iou
from yolo3.ops.decode import decode, decode_scale
from yolo3.ops.nms import batched_nms, nms


def logit(p: float) -> float:
    return math.log(p / (1 - p))


def test_decode_known_logits_by_hand() -> None:
    # One scale, stride 16, 2×2 grid, 1 anchor (20×40 px), 2 classes.
    raw = torch.zeros(1, 1, 2, 2, 7)
    # Cell (row 1, col 0): σ(tx)=0.25, σ(ty)=0.75, tw=ln 2, th=0, obj 0.8, classes 0.9 / 0.2.
    raw[0, 0, 1, 0] = torch.tensor([logit(0.25), logit(0.75), math.log(2), 0.0, logit(0.8), logit(0.9), logit(0.2)])
    anchors = torch.tensor([[20.0, 40.0]])
    out = decode_scale(raw, anchors, stride=16)
    row = out[0, 2]  # flattened (a, y, x) → index y·W + x = 1·2 + 0
    expected = [(0.25 + 0) * 16, (0.75 + 1) * 16, 40.0, 40.0, 0.8, 0.9, 0.2]
    torch.testing.assert_close(row, torch.tensor(expected), atol=1e-5, rtol=1e-6)
    # v5 mode: bx = (2σ − 0.5 + cx)·stride.
    v5 = decode_scale(raw, anchors, stride=16, xy_mode="v5")[0, 2]
    assert v5[0].item() == pytest.approx((2 * 0.25 - 0.5 + 0) * 16)
    assert v5[1].item() == pytest.approx((2 * 0.75 - 0.5 + 1) * 16)


def test_decode_all_scales_xyxy_and_order() -> None:
    raws = [torch.zeros(2, 3, 4, 4, 6), torch.zeros(2, 3, 2, 2, 6)]
    anchors = torch.tensor([[[8.0, 8.0]] * 3, [[32.0, 16.0]] * 3])
    out = decode(raws, anchors, (16, 32))
    assert out.shape == (2, 3 * 16 + 3 * 4, 6)
    # All-zero logits: centre at (0.5 + c)·stride, size = anchor, probs 0.5.
    first_of_scale2 = out[0, 48]
    torch.testing.assert_close(first_of_scale2[:4], torch.tensor([16 - 16.0, 16 - 8.0, 16 + 16.0, 16 + 8.0]))
    assert torch.allclose(out[..., 4:], torch.full_like(out[..., 4:], 0.5))


def greedy_reference(boxes: np.ndarray, scores: np.ndarray, labels: np.ndarray, thr: float) -> list[int]:
    """Plain-Python greedy NMS, one box at a time (the definition)."""
    order = sorted(range(len(scores)), key=lambda i: (-scores[i], i))
    kept: list[int] = []
    for i in order:
        ok = True
        for j in kept:
            if labels[i] != labels[j]:
                continue
            x1, y1 = max(boxes[i, 0], boxes[j, 0]), max(boxes[i, 1], boxes[j, 1])
            x2, y2 = min(boxes[i, 2], boxes[j, 2]), min(boxes[i, 3], boxes[j, 3])
            inter = max(0.0, x2 - x1) * max(0.0, y2 - y1)
            area = lambda b: (b[2] - b[0]) * (b[3] - b[1])  # noqa: E731
            if inter / (area(boxes[i]) + area(boxes[j]) - inter) > thr:
                ok = False
                break
        if ok:
            kept.append(i)
    return kept


def random_boxes(rng: np.random.Generator, n: int) -> np.ndarray:
    xy = rng.uniform(0, 200, (n, 2))
    wh = rng.uniform(5, 80, (n, 2))
    return np.concatenate([xy, xy + wh], 1)


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("thr", [0.3, 0.5, 0.7])
def test_nms_equals_brute_force(seed: int, thr: float) -> None:
    rng = np.random.default_rng(seed)
    boxes = random_boxes(rng, 150)
    scores = rng.uniform(0, 1, 150)
    labels = rng.integers(0, 3, 150)
    ref_aware = greedy_reference(boxes, scores, labels, thr)
    ref_agnostic = greedy_reference(boxes, scores, np.zeros_like(labels), thr)
    tb, ts, tl = torch.tensor(boxes), torch.tensor(scores), torch.tensor(labels)
    assert batched_nms(tb, ts, tl, thr).tolist() == ref_aware
    assert nms(tb, ts, thr).tolist() == ref_agnostic
    assert nms(tb, ts, thr, max_keep=5).tolist() == ref_agnostic[:5]


def test_nms_empty_and_single() -> None:
    assert nms(torch.zeros(0, 4), torch.zeros(0), 0.5).numel() == 0
    assert nms(torch.tensor([[0.0, 0, 1, 1]]), torch.tensor([0.3]), 0.5).tolist() == [0]


def test_postprocess_threshold_classes_and_cap() -> None:
    # Two identical boxes of different classes, one weak box; 1 image, 2 classes.
    pred = torch.tensor(
        [
            [[0, 0, 10, 10, 0.9, 0.9, 0.1], [0, 0, 10, 10, 0.9, 0.1, 0.8], [50, 50, 60, 60, 0.1, 0.5, 0.5]]
        ]
    )
    (boxes, scores, labels), = postprocess(pred, NMSConfig(conf_threshold=0.25))
    assert labels.tolist() == [0, 1]
    torch.testing.assert_close(scores, torch.tensor([0.81, 0.72]))
    (_, _, labels), = postprocess(pred, NMSConfig(conf_threshold=0.25, classes=[1]))
    assert labels.tolist() == [1]
    (_, _, labels), = postprocess(pred, NMSConfig(conf_threshold=0.25, method="agnostic"))
    assert labels.tolist() == [0]
    (_, _, labels), = postprocess(pred, NMSConfig(conf_threshold=0.01, max_det=1))
    assert labels.tolist() == [0]
    (_, _, labels), = postprocess(pred, NMSConfig(class_thresholds=[0.9, 0.5]))
    assert labels.tolist() == [1]


@pytest.mark.parametrize("shape", [(480, 640), (640, 480), (333, 517), (416, 416), (17, 900)])
def test_letterbox_round_trip_exact(shape: tuple[int, int]) -> None:
    rng = np.random.default_rng(1)
    h, w = shape
    image = rng.integers(0, 255, (h, w, 3), dtype=np.uint8)
    boxed, info = letterbox(image, 416)
    assert boxed.shape == (416, 416, 3)
    xy = rng.uniform(0, [w, h], (20, 2))
    boxes = np.concatenate([xy, np.minimum(xy + rng.uniform(1, 50, (20, 2)), [w, h])], 1)
    back = boxes_from_letterbox(boxes_to_letterbox(boxes, info), info)
    np.testing.assert_allclose(back, boxes, atol=1e-3)
    # Padding is grey 114 and the picture is centred.
    left, top = info.pad
    if top > 0:
        assert (boxed[: top] == 114).all()
    if left > 0:
        assert (boxed[:, : left] == 114).all()


def test_letterbox_maps_corners_to_the_resized_picture() -> None:
    info = letterbox_info((480, 640), 416)  # r = 0.65 → 416×312, 52 px padding top and bottom
    assert info.scale == (0.65, 0.65) and info.pad == (0, 52)
    corners = np.array([[0.0, 0.0, 640.0, 480.0]])
    np.testing.assert_allclose(boxes_to_letterbox(corners, info), [[0, 52, 416, 364]])


def test_iou_family_hand_values() -> None:
    a = torch.tensor([[0.0, 0, 2, 2]])
    b = torch.tensor([[1.0, 1, 3, 3]])
    assert box_iou(a, b).item() == pytest.approx(1 / 7)
    assert generalized_iou(a, b, "giou").item() == pytest.approx(1 / 7 - (9 - 7) / 9)
    assert generalized_iou(a, b, "diou").item() == pytest.approx(1 / 7 - 2 / 18)
    # Same aspect ratio: CIoU's v term is 0, so CIoU = DIoU.
    assert generalized_iou(a, b, "ciou").item() == pytest.approx(1 / 7 - 2 / 18)
    assert wh_iou(torch.tensor([[2.0, 2]]), torch.tensor([[1.0, 4]])).item() == pytest.approx(2 / 6)


@pytest.mark.parametrize("block", [1, 7, 32])
def test_nms_across_blocks_equals_brute_force(block: int) -> None:
    rng = np.random.default_rng(11)
    boxes = random_boxes(rng, 200)
    scores = rng.uniform(0, 1, 200)
    scores[:20] = 0.5  # ties resolve by index
    labels = rng.integers(0, 3, 200)
    tb, ts, tl = torch.tensor(boxes), torch.tensor(scores), torch.tensor(labels)
    assert nms(tb, ts, 0.4, block=block).tolist() == greedy_reference(boxes, scores, np.zeros_like(labels), 0.4)
    assert batched_nms(tb, ts, tl, 0.4).tolist() == greedy_reference(boxes, scores, labels, 0.4)
    assert nms(tb, ts, 0.4, max_keep=9, block=block).tolist() == greedy_reference(
        boxes, scores, np.zeros_like(labels), 0.4)[:9]


def test_postprocess_drops_non_finite_boxes() -> None:
    # An overflowed box (inf) next to a normal one: the normal one survives class-aware NMS
    # (an inf box would make the class offsets and every IoU NaN).
    pred = torch.tensor([[[0, 0, float("inf"), 10, 0.9, 0.9], [5, 5, 15, 15, 0.8, 0.9],
                          [float("nan"), 0, 3, 3, 0.9, 0.9]]])
    (boxes, scores, labels), = postprocess(pred, NMSConfig(conf_threshold=0.1))
    assert boxes.tolist() == [[5.0, 5.0, 15.0, 15.0]] and labels.tolist() == [0]
