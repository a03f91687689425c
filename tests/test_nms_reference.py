"""NMS variants against a brute-force pure-Python greedy reference and a hand-worked soft-NMS."""

from __future__ import annotations

import math

import pytest
import torch

from yolo3.inference.postprocess import NMSConfig, postprocess
from yolo3.ops.nms import batched_nms, nms, soft_nms


def _iou(a: list[float], b: list[float]) -> float:
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = iw * ih
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union


def _diou(a: list[float], b: list[float]) -> float:
    rho2 = ((a[0] + a[2]) / 2 - (b[0] + b[2]) / 2) ** 2 + ((a[1] + a[3]) / 2 - (b[1] + b[3]) / 2) ** 2
    c2 = (max(a[2], b[2]) - min(a[0], b[0])) ** 2 + (max(a[3], b[3]) - min(a[1], b[1])) ** 2
    return _iou(a, b) - rho2 / c2


def _greedy(boxes: list[list[float]], scores: list[float], labels: list[int] | None, thr: float, overlap) -> list[int]:
    """Textbook greedy NMS, one box at a time, in plain Python."""
    order = sorted(range(len(scores)), key=lambda i: (-scores[i], i))
    keep: list[int] = []
    for i in order:
        if all(
            (labels is not None and labels[i] != labels[k]) or overlap(boxes[i], boxes[k]) <= thr for k in keep
        ):
            keep.append(i)
    return keep


def _random_boxes(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    xy = torch.rand(n, 2, generator=g, dtype=torch.float64) * 100
    wh = torch.rand(n, 2, generator=g, dtype=torch.float64) * 40 + 2
    boxes = torch.cat([xy, xy + wh], 1)
    scores = torch.rand(n, generator=g, dtype=torch.float64)
    labels = torch.randint(0, 3, (n,), generator=g)
    return boxes, scores, labels


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("thr", [0.3, 0.5, 0.7])
def test_nms_variants_match_bruteforce(seed: int, thr: float) -> None:
    boxes, scores, labels = _random_boxes(120, seed)
    b, s, lab = boxes.tolist(), scores.tolist(), labels.tolist()
    assert nms(boxes, scores, thr).tolist() == _greedy(b, s, None, thr, _iou)
    assert nms(boxes, scores, thr, kind="diou").tolist() == _greedy(b, s, None, thr, _diou)
    aware = batched_nms(boxes, scores, labels, thr).tolist()
    assert aware == _greedy(b, s, lab, thr, _iou)
    assert batched_nms(boxes, scores, labels, thr, kind="diou").tolist() == _greedy(b, s, lab, thr, _diou)


def test_soft_nms_hand_worked() -> None:
    # A and B overlap with IoU 50/150 = 1/3; C is disjoint.
    boxes = torch.tensor([[0.0, 0, 10, 10], [5, 0, 15, 10], [50, 50, 60, 60]])
    scores = torch.tensor([0.9, 0.8, 0.7])
    idx, new = soft_nms(boxes, scores, sigma=0.5, score_threshold=0.001)
    decayed_b = 0.8 * math.exp(-((1 / 3) ** 2) / 0.5)  # 0.8 · e^{-2/9} = 0.6406
    assert idx.tolist() == [0, 2, 1]
    assert new.tolist() == pytest.approx([0.9, 0.7, decayed_b], rel=1e-6)
    # a threshold above the decayed score drops B
    idx, _ = soft_nms(boxes, scores, sigma=0.5, score_threshold=0.65)
    assert idx.tolist() == [0, 2]


def test_postprocess_methods_on_two_classes() -> None:
    # two heavily overlapping boxes of different classes and one duplicate of class 0
    pred = torch.tensor(
        [
            [0.0, 0, 10, 10, 1.0, 0.9, 0.0],
            [0.5, 0, 10.5, 10, 1.0, 0.0, 0.8],
            [1.0, 0, 11, 10, 1.0, 0.7, 0.0],
        ]
    )[None]
    (_, s, lab), = postprocess(pred, NMSConfig(conf_threshold=0.1))
    assert lab.tolist() == [0, 1]  # class-aware: class 1 survives, duplicate of class 0 does not
    (_, s, lab), = postprocess(pred, NMSConfig(conf_threshold=0.1, method="agnostic"))
    assert lab.tolist() == [0]
    (_, s, lab), = postprocess(pred, NMSConfig(conf_threshold=0.1, method="soft", soft_sigma=0.5))
    iou02 = 90 / 110
    assert lab.tolist() == [0, 1, 0]
    assert s.tolist() == pytest.approx([0.9, 0.8, 0.7 * math.exp(-(iou02**2) / 0.5)], rel=1e-5)
