"""The faster post-processing gives exactly the same answers as the plain formulas.

- candidates(): objectness is thresholded first; the result must equal scoring the
  whole (N, C) grid (obj × cls > threshold), in the same order.
- NMS: the per-coordinate pairwise IoU equals `box_iou_elementwise` bit for bit, and the
  fixed-point greedy pass (and its sequential fallback for long chains) equals textbook
  greedy NMS.
"""

from __future__ import annotations

import pytest
import torch

import yolo3.ops.nms as nms_module
from test_nms_reference import _greedy, _iou
from yolo3.inference.postprocess import NMSConfig, candidates
from yolo3.ops.boxes import box_iou_elementwise
from yolo3.ops.nms import batched_nms, nms, pairwise_iou


def _whole_grid(pred: torch.Tensor, cfg: NMSConfig) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Reference: score every (box, class) pair, then threshold (the pre-optimisation formula)."""
    c = pred.shape[1] - 5
    scores = pred[:, 4:5] * pred[:, 5:]
    thr = torch.tensor(cfg.class_thresholds if cfg.class_thresholds is not None else [cfg.conf_threshold] * c,
                       dtype=pred.dtype)
    mask = (scores > thr) & torch.isfinite(pred[:, :4]).all(1, keepdim=True)
    if cfg.classes is not None:
        mask &= torch.isin(torch.arange(c), torch.tensor(cfg.classes))
    box, label = mask.nonzero(as_tuple=True)
    return pred[box, :4], scores[box, label], label


@pytest.mark.parametrize("seed", range(6))
def test_candidates_equal_whole_grid_scoring(seed: int) -> None:
    g = torch.Generator().manual_seed(seed)
    n, c = 400, 4
    pred = torch.rand(n, 5 + c, generator=g)
    pred[:, :4] *= 100
    pred[:3, 5] = 1.0  # cls = 1: score == obj exactly, the boundary of the objectness cut
    pred[5, 2] = float("inf")
    cfg = NMSConfig(conf_threshold=0.3)
    if seed % 2:
        cfg.class_thresholds = [0.5, 0.2, 0.35, 0.6]
    if seed >= 4:
        cfg.classes = [1, 3]
    got, want = candidates(pred, cfg), _whole_grid(pred, cfg)
    assert len(want[1]) > 0
    for a, b in zip(got, want):
        assert torch.equal(a, b)


def test_pairwise_iou_is_box_iou_elementwise_bit_for_bit() -> None:
    g = torch.Generator().manual_seed(0)
    a = torch.rand(300, 4, generator=g) * 50
    b = torch.rand(200, 4, generator=g) * 50  # unsorted corners: inverted and degenerate boxes included
    b[:5] = b[:5, :1]  # zero-size boxes
    assert torch.equal(pairwise_iou(a, b), box_iou_elementwise(a[:, None], b[None]))


@pytest.mark.parametrize("rounds", [1000, 1])  # the fixed point alone; the sequential fallback
def test_long_suppression_chain_matches_bruteforce(monkeypatch: pytest.MonkeyPatch, rounds: int) -> None:
    monkeypatch.setattr(nms_module, "FIXED_POINT_ROUNDS", rounds)
    # 60 boxes in a row, each overlapping the next (IoU 0.6) and scored lower: greedy keeps
    # every other box, and each decision depends on the previous one (a 60-link chain).
    x = torch.arange(60, dtype=torch.float64) * 4
    boxes = torch.stack([x, torch.zeros(60), x + 16, torch.full((60,), 10.0)], 1).to(torch.float64)
    scores = torch.linspace(1, 0.1, 60, dtype=torch.float64)
    want = _greedy(boxes.tolist(), scores.tolist(), None, 0.5, _iou)
    assert want == list(range(0, 60, 2))
    assert nms(boxes, scores, 0.5).tolist() == want
    labels = torch.zeros(60, dtype=torch.long)
    assert batched_nms(boxes, scores, labels, 0.5, max_keep=7).tolist() == want[:7]


def test_many_candidates_across_blocks_match_bruteforce() -> None:
    g = torch.Generator().manual_seed(3)
    xy = torch.rand(700, 2, generator=g, dtype=torch.float64) * 200
    boxes = torch.cat([xy, xy + torch.rand(700, 2, generator=g, dtype=torch.float64) * 40 + 2], 1)
    scores = torch.rand(700, generator=g, dtype=torch.float64)
    want = _greedy(boxes.tolist(), scores.tolist(), None, 0.45, _iou)
    assert nms(boxes, scores, 0.45, block=128).tolist() == want  # kept-vs-block and in-block steps
