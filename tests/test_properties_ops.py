"""Property-based tests (hypothesis) of the box ops, NMS and letterbox."""

from __future__ import annotations

import numpy as np
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from yolo3.data.letterbox import boxes_from_letterbox, boxes_to_letterbox, letterbox_info
from yolo3.ops.boxes import box_iou, generalized_iou
from yolo3.ops.nms import batched_nms, nms

coord = st.floats(0, 1000, allow_nan=False, width=32)
size = st.floats(0, 300, allow_nan=False, width=32)


@st.composite
def boxes(draw, min_n: int = 0, max_n: int = 30) -> torch.Tensor:
    n = draw(st.integers(min_n, max_n))
    rows = [
        (x, y, x + w, y + h)
        for x, y, w, h in draw(st.lists(st.tuples(coord, coord, size, size), min_size=n, max_size=n))
    ]
    return torch.tensor(rows, dtype=torch.float64).reshape(-1, 4)


@settings(max_examples=60, deadline=None)
@given(boxes(1), boxes(1))
def test_iou_in_unit_interval_and_symmetric(a: torch.Tensor, b: torch.Tensor) -> None:
    iou = box_iou(a, b)
    assert ((iou >= 0) & (iou <= 1 + 1e-12)).all()
    torch.testing.assert_close(iou, box_iou(b, a).T)
    # GIoU, DIoU ∈ [−1, 1]; CIoU = DIoU − αv with αv = v²/(1 − IoU + v) ≤ ½, so ≥ −1.5.
    for kind, low in (("giou", -1.0), ("diou", -1.0), ("ciou", -1.5)):
        g = generalized_iou(a[:, None], b[None], kind)
        assert ((g >= low - 1e-9) & (g <= 1 + 1e-9)).all()
        assert (g <= iou + 1e-9).all()  # the penalties only subtract


@settings(max_examples=60, deadline=None)
@given(boxes(1))
def test_iou_of_a_box_with_itself_is_one(a: torch.Tensor) -> None:
    areas = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    diag = box_iou(a, a).diagonal()
    positive = areas > 1e-6
    torch.testing.assert_close(diag[positive], torch.ones_like(diag[positive]))


@settings(max_examples=60, deadline=None)
@given(boxes(), st.floats(0.05, 0.95), st.data())
def test_nms_keeps_a_subset_and_is_idempotent(b: torch.Tensor, thr: float, data) -> None:
    n = b.shape[0]
    scores = torch.tensor(data.draw(st.lists(st.floats(0, 1), min_size=n, max_size=n)), dtype=torch.float64)
    labels = torch.tensor(data.draw(st.lists(st.integers(0, 2), min_size=n, max_size=n)), dtype=torch.long)
    for keep, again in (
        (nms(b, scores, thr), lambda k: nms(b[k], scores[k], thr)),
        (batched_nms(b, scores, labels, thr), lambda k: batched_nms(b[k], scores[k], labels[k], thr)),
    ):
        assert len(set(keep.tolist())) == keep.numel() <= n  # distinct indices of the input
        assert keep.numel() == 0 or (keep.min() >= 0 and keep.max() < n)
        assert again(keep).tolist() == list(range(keep.numel()))  # NMS of the survivors keeps all


@settings(max_examples=80, deadline=None)
@given(
    st.integers(1, 5000), st.integers(1, 5000), st.sampled_from([32, 64, 320, 416, 640]), st.data()
)
def test_letterbox_round_trip(h: int, w: int, size: int, data) -> None:
    info = letterbox_info((h, w), size)
    assert info.pad[0] >= 0 and info.pad[1] >= 0
    x1 = data.draw(st.floats(0, w)); x2 = data.draw(st.floats(x1, w))
    y1 = data.draw(st.floats(0, h)); y2 = data.draw(st.floats(y1, h))
    box = np.array([[x1, y1, x2, y2]])
    mapped = boxes_to_letterbox(box, info)
    assert (mapped >= -1e-6).all() and (mapped[:, 0::2] <= size + 1e-6).all() and (mapped[:, 1::2] <= size + 1e-6).all()
    np.testing.assert_allclose(boxes_from_letterbox(mapped, info), box, atol=1e-3 * max(1.0, max(h, w) / size))
