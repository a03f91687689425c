"""Target assignment on hand-built scenes whose positives are worked out by hand."""

from __future__ import annotations

import torch

from yolo3.assign import assign_paper, assign_v5, ignore_mask, pad_targets_per_image
from yolo3.config import COCO_ANCHORS
from yolo3.ops.boxes import box_iou

ANCHORS = torch.tensor(COCO_ANCHORS)  # (3, 3, 2), strides 8, 16, 32
STRIDES = (8, 16, 32)
GRIDS = [(52, 52), (26, 26), (13, 13)]  # 416 input


def box(cx: float, cy: float, w: float, h: float, b: int = 0, c: int = 0) -> list[float]:
    return [b, c, cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2]


def positives(assignment) -> set[tuple[int, int, int, int, int]]:
    """{(scale, b, a, gy, gx)} of all positives."""
    return {(s, *map(int, row)) for s, st in enumerate(assignment.scales)
            for row in torch.stack([st.b, st.a, st.gy, st.gx], 1).tolist()}


def test_paper_small_gt_goes_to_stride8_only() -> None:
    # 12×14 GT: IoU with anchor (10,13) = 130/168 = 0.774, with (16,30) = 168/480 = 0.35,
    # and lower with the rest → scale 0 (stride 8), anchor 0, cell (100//8, 60//8) = (12, 7).
    targets = torch.tensor([box(100, 60, 12, 14, c=2)])
    result = assign_paper(targets, ANCHORS, STRIDES, GRIDS)
    assert positives(result) == {(0, 0, 0, 7, 12)}
    st = result.scales[0]
    torch.testing.assert_close(st.offset, torch.tensor([[0.5, 0.5]]))
    torch.testing.assert_close(st.anchor_wh, torch.tensor([[10.0, 13.0]]))
    assert st.cls.tolist() == [2] and st.gt_index.tolist() == [0]
    assert result.scales[1].num == 0 and result.scales[2].num == 0
    assert result.collisions == 0 and result.unmatched == 0


def test_paper_large_gt_goes_to_stride32() -> None:
    # 150×200: IoU with (156,198) = 150·198/(156·198 + 150·200 − 150·198) = 0.9294, the best.
    targets = torch.tensor([box(210, 300, 150, 200, b=1)])
    result = assign_paper(targets, ANCHORS, STRIDES, GRIDS)
    assert positives(result) == {(2, 1, 1, 300 // 32, 210 // 32)}


def test_paper_collision_best_shape_wins_and_is_counted() -> None:
    # Both GTs pick anchor (10,13) in cell (12, 7); GT 1 is exactly the anchor's shape.
    targets = torch.tensor([box(100, 60, 12, 14), box(101, 61, 10, 13)])
    result = assign_paper(targets, ANCHORS, STRIDES, GRIDS)
    assert positives(result) == {(0, 0, 0, 7, 12)}
    assert result.scales[0].gt_index.tolist() == [1]
    assert result.collisions == 1 and result.unmatched == 1
    # Identical GTs: the later one wins.
    same = torch.tensor([box(100, 60, 12, 14, c=0), box(100, 60, 12, 14, c=1)])
    result = assign_paper(same, ANCHORS, STRIDES, GRIDS)
    assert result.scales[0].cls.tolist() == [1] and result.collisions == 1


def test_v5_three_cells_times_matching_anchors_across_layers() -> None:
    # 40×40 GT centred at (202, 198). Ratio test (< 4):
    #   s8: (10,13) ratio 4.0 → no; (16,30) 2.5 yes; (33,23) 1.74 yes
    #   s16: (30,61) 1.53, (62,45) 1.55, (59,119) 2.98 → all
    #   s32: (116,90) 2.9 yes; (156,198) 4.95 no; (373,326) no
    # Cells: s8 g = (25.25, 24.75) → centre (25,24), left (24,24), down (25,25);
    #        s16 g = (12.625, 12.375) → (12,12), right (13,12), up (12,11);
    #        s32 g = (6.3125, 6.1875) → (6,6), left (5,6), up (6,5).   [(gx, gy)]
    targets = torch.tensor([box(202, 198, 40, 40)])
    result = assign_v5(targets, ANCHORS, STRIDES, GRIDS, anchor_t=4.0)
    cells = {0: [(25, 24), (24, 24), (25, 25)], 1: [(12, 12), (13, 12), (12, 11)], 2: [(6, 6), (5, 6), (6, 5)]}
    anchors = {0: [1, 2], 1: [0, 1, 2], 2: [0]}
    expected = {(s, 0, a, gy, gx) for s in cells for a in anchors[s] for gx, gy in cells[s]}
    assert len(expected) == 18
    assert positives(result) == expected
    st = result.scales[0]
    left = (st.gx == 24) & (st.gy == 24)
    torch.testing.assert_close(st.offset[left], torch.tensor([[1.25, 0.75]] * 2))


def test_v5_unmatched_gt_is_background_and_borders_limit_neighbours() -> None:
    # A 2×300 sliver matches no anchor (ratio ≥ 4 everywhere).
    sliver = torch.tensor([box(100, 200, 2, 300)])
    result = assign_v5(sliver, ANCHORS, STRIDES, GRIDS)
    assert positives(result) == set() and result.unmatched == 1
    # 12×14 GT centred at (4, 4): g = (0.5, 0.5) on s8 — no neighbour (g ≤ 1 and frac = 0.5);
    # anchors (10,13) and (16,30) pass (33/12 = 2.75 too) → 3 positives in cell (0, 0).
    corner = torch.tensor([box(4, 4, 12, 14)])
    result = assign_v5(corner, ANCHORS, STRIDES, GRIDS)
    assert positives(result) == {(0, 0, a, 0, 0) for a in range(3)}


def test_assignment_is_batched_exactly_like_per_image() -> None:
    gen = torch.Generator().manual_seed(1)
    rows = []
    for b in range(3):
        for _ in range(6):
            cx, cy = torch.rand(2, generator=gen) * 400 + 8
            w, h = torch.rand(2, generator=gen) * 200 + 6
            rows.append(box(float(cx), float(cy), float(w), float(h), b=b, c=int(torch.randint(0, 4, (1,), generator=gen))))
    targets = torch.tensor(rows)
    for fn in (assign_paper, assign_v5):
        together = positives(fn(targets, ANCHORS, STRIDES, GRIDS))
        apart = set()
        for b in range(3):
            one = targets[targets[:, 0] == b].clone()
            apart |= positives(fn(one, ANCHORS, STRIDES, GRIDS))
        assert together == apart


def test_empty_targets() -> None:
    empty = torch.zeros(0, 6)
    for fn in (assign_paper, assign_v5):
        result = fn(empty, ANCHORS, STRIDES, GRIDS)
        assert positives(result) == set() and result.collisions == 0 and result.unmatched == 0


def test_pad_targets_and_ignore_mask_match_a_per_image_loop() -> None:
    targets = torch.tensor([box(50, 50, 20, 20, b=1), box(10, 10, 8, 8, b=0), box(80, 80, 30, 30, b=1)])
    boxes, valid = pad_targets_per_image(targets, batch_size=3)
    assert boxes.shape == (3, 2, 4) and valid.tolist() == [[True, False], [True, True], [False, False]]
    torch.testing.assert_close(boxes[1], targets[[0, 2], 2:])
    preds = torch.rand(3, 40, 4) * 80
    preds[..., 2:] = preds[..., :2] + torch.rand(3, 40, 2) * 40 + 1
    preds[1, 0] = targets[0, 2:]  # a perfect match, must be ignored
    mask = ignore_mask(preds, boxes, valid, 0.5)
    for b in range(3):
        gts = targets[targets[:, 0] == b, 2:]
        ref = box_iou(preds[b], gts).amax(1) > 0.5 if len(gts) else torch.zeros(40, dtype=torch.bool)
        assert torch.equal(mask[b], ref)
    assert mask[1, 0] and not mask[2].any()
