"""ATSS assignment on hand-built scenes: the mean + std threshold, the centre-inside rule, ties and
collisions, pooled scales, reachable cells per decode; the anchor-free (ltrb) head and the loss."""

from __future__ import annotations

import statistics

import pytest
import torch

from _core_utils import best_ious, detect, rectangles_batch
from yolo3.assign import assign_atss, atss_candidates, atss_threshold
from yolo3.config import ConfigError, ModelConfig
from yolo3.losses import LossConfig, YOLOLoss
from yolo3.models import create_model
from yolo3.ops.decode import decode

ONE = torch.tensor([[[16.0, 16.0]]])  # one scale, one 16×16 prior per cell
STRIDE, GRID = (8,), [(4, 4)]  # 32-px input: cell centres at 4, 12, 20, 28


def cells(assignment, scale: int = 0) -> set[tuple[int, int]]:
    st = assignment.scales[scale]
    return set(zip(st.gx.tolist(), st.gy.tolist()))


def test_threshold_is_mean_plus_sample_std_of_candidate_ious() -> None:
    # GT [5, 5, 21, 21], centre (13, 13); nearest cell centres (12,12), (20,12), (12,20), then (12,4) (d² 82 < 98).
    targets = torch.tensor([[0, 0, 5.0, 5, 21, 21]])
    (cand,) = atss_candidates(targets, ONE, STRIDE, GRID, topk=4)
    assert list(zip(cand["gx"][0].tolist(), cand["gy"][0].tolist())) == [(1, 1), (2, 1), (1, 2), (1, 0)]
    # prior [4,4,20,20]: 15·15 / (512 − 225); [12,4,28,20] and [4,12,20,28]: 9·15 / (512 − 135);
    # [4,-4,20,12]: 15·7 / (512 − 105)
    ious = [225 / 287, 135 / 377, 135 / 377, 105 / 407]
    torch.testing.assert_close(cand["iou"][0], torch.tensor(ious))
    assert cand["inside"][0].tolist() == [True, True, True, False]  # (12, 4): 4 < y1 = 5
    expected = statistics.mean(ious) + statistics.stdev(ious)  # 0.6740
    assert float(atss_threshold(cand["iou"])[0]) == pytest.approx(expected, rel=1e-5)
    result = assign_atss(targets, ONE, STRIDE, GRID, topk=4)
    assert cells(result) == {(1, 1)} and result.unmatched == 0
    torch.testing.assert_close(result.scales[0].offset, torch.tensor([[13 / 8 - 1, 13 / 8 - 1]]))


def test_equal_ious_all_pass_and_distance_ties_go_to_lower_cell_index() -> None:
    # GT centred on the corner (16, 16): four cells at equal distance, equal IoUs (144/368) → std 0,
    # threshold = mean, IoU ≥ threshold for all four.
    targets = torch.tensor([[0, 0, 8.0, 8, 24, 24]])
    assert cells(assign_atss(targets, ONE, STRIDE, GRID, topk=4)) == {(1, 1), (2, 1), (1, 2), (2, 2)}
    # k = 2 of the four tied cells: row-major indices 5 = (1, 1) and 6 = (2, 1) come first
    assert cells(assign_atss(targets, ONE, STRIDE, GRID, topk=2)) == {(1, 1), (2, 1)}


def test_centre_inside_rule_for_thin_objects() -> None:
    # A vertical hair 4 px wide around x = 12: the two nearest cells (x = 12, y = 12 and 20) have equal IoUs
    # and centres inside → both positive.
    hair = torch.tensor([[0, 0, 10.0, 0, 14, 32]])
    assert cells(assign_atss(hair, ONE, STRIDE, GRID, topk=2)) == {(1, 1), (1, 2)}
    # Shifted to x in (13, 15): same candidates, equal IoUs (passing), but the centres x = 12 lie outside.
    off = torch.tensor([[0, 0, 13.0, 0, 15, 32]])
    result = assign_atss(off, ONE, STRIDE, GRID, topk=2)
    assert sum(st.num for st in result.scales) == 0 and result.unmatched == 1
    # fallback: the best candidate anyway; IoUs tie (32/288), so the first one, cell (1, 1) (centre (12, 12))
    rescued = assign_atss(off, ONE, STRIDE, GRID, topk=2, fallback=True)
    assert cells(rescued) == {(1, 1)} and rescued.unmatched == 0
    torch.testing.assert_close(rescued.scales[0].offset, torch.tensor([[14 / 8 - 1, 16 / 8 - 1]]))
    # with the hair in the same image: the hair keeps its two cells; the fallback's cell (1, 1) collides with
    # the hair's (IoU 0.2 > 0.111) and loses, so the shifted GT stays unmatched
    both = assign_atss(torch.cat([hair, off]), ONE, STRIDE, GRID, topk=2, fallback=True)
    assert sorted(both.scales[0].gt_index.tolist()) == [0, 0] and cells(both) == {(1, 1), (1, 2)}
    assert both.collisions == 1 and both.unmatched == 1


def test_claimed_cell_goes_to_highest_iou_and_exact_ties_to_later_gt() -> None:
    # Both GTs' nearest (single) candidate is cell (1, 1) with prior [4,4,20,20]: IoU 0.784 vs 1.0.
    targets = torch.tensor([[0, 0, 5.0, 5, 21, 21], [0, 1, 4.0, 4, 20, 20]])
    result = assign_atss(targets, ONE, STRIDE, GRID, topk=1)
    assert cells(result) == {(1, 1)} and result.scales[0].cls.tolist() == [1]
    assert result.collisions == 1 and result.unmatched == 1
    same = torch.tensor([[0, 0, 4.0, 4, 20, 20], [0, 1, 4.0, 4, 20, 20]])
    assert assign_atss(same, ONE, STRIDE, GRID, topk=1).scales[0].gt_index.tolist() == [1]
    # different images never collide
    apart = torch.tensor([[0, 0, 4.0, 4, 20, 20], [1, 1, 4.0, 4, 20, 20]])
    assert assign_atss(apart, ONE, STRIDE, GRID, topk=1).collisions == 0


def test_threshold_pools_the_candidates_of_all_scales() -> None:
    anchors = torch.tensor([[[16.0, 16.0]], [[32.0, 32.0]]])
    strides, grids = (8, 16), [(4, 4), (2, 2)]
    targets = torch.tensor([[0, 0, 4.0, 4, 20, 20]])  # centre (12, 12)
    # stride 8: (1,1) IoU 1, then (1,0) [4,-4,20,12]: 128/384; stride 16: (0,0) [-8,-8,24,24]: 256/1024,
    # then (1,0) [8,-8,40,24]: 192/1088 (tied with (0,1) at d² 160, lower index first)
    ious = [1.0, 1 / 3, 0.25, 192 / 1088]
    pooled = torch.cat([c["iou"] for c in atss_candidates(targets, anchors, strides, grids, topk=2)], 1)
    torch.testing.assert_close(pooled[0], torch.tensor(ious))
    assert float(atss_threshold(pooled)[0]) == pytest.approx(statistics.mean(ious) + statistics.stdev(ious), rel=1e-5)
    result = assign_atss(targets, anchors, strides, grids, topk=2)
    assert cells(result, 0) == {(1, 1)} and result.scales[1].num == 0


def test_clamp_keeps_tied_best_candidates_that_mean_plus_std_would_drop() -> None:
    # 24×24 / 48×48 priors; a 10×10 GT [11,11,21,21] centred on the corner (16, 16). Stride 8: the tied nearest
    # cells (1,1), (2,1) (k = 2, lower index first), priors [0,0,24,24], [8,0,32,24] contain it → IoU 100/576
    # each; stride 16: (0,0), (1,0), priors contain it → 100/2304. mean + std = 0.1085 + 0.0752 > 0.1736 = the
    # best: as published no candidate passes; clamped, the two tied best do (centres (12,12), (20,12) inside).
    anchors = torch.tensor([[[24.0, 24.0]], [[48.0, 48.0]]])
    strides, grids = (8, 16), [(4, 4), (2, 2)]
    targets = torch.tensor([[0, 0, 11.0, 11, 21, 21]])
    ious = [100 / 576, 100 / 576, 100 / 2304, 100 / 2304]
    assert statistics.mean(ious) + statistics.stdev(ious) > max(ious)
    published = assign_atss(targets, anchors, strides, grids, topk=2, clamp_to_best=False)
    assert published.unmatched == 1
    clamped = assign_atss(targets, anchors, strides, grids, topk=2)
    assert cells(clamped, 0) == {(1, 1), (2, 1)} and clamped.scales[1].num == 0


def test_anchor_based_positives_stay_reachable_by_the_decode() -> None:
    # GT [16,16,32,32] centred on the corner (24, 24) of four cells with equal IoUs (144/368): all four pass,
    # at offsets (1,1), (0,1), (1,0), (0,0) from their corners.
    anchors = torch.tensor([[[16.0, 16.0]]])
    targets = torch.tensor([[0, 0, 16.0, 16, 32, 32]])
    paper = assign_atss(targets, anchors, (8,), [(8, 8)], topk=4, xy_mode="paper")
    v5 = assign_atss(targets, anchors, (8,), [(8, 8)], topk=4, xy_mode="v5")
    ltrb = assign_atss(targets, anchors, (8,), [(8, 8)], topk=4, xy_mode="ltrb")
    assert cells(paper) == {(3, 3)}  # σ(t) ∈ (0, 1) reaches only the centre's own cell
    assert cells(v5) == cells(ltrb) == {(2, 2), (3, 2), (2, 3), (3, 3)}  # 2σ(t) − 0.5 ∈ (−0.5, 1.5) reaches all
    # a cell 2 away (offset 2) would be out of the v5 decode's reach even if it passed: k = 16 adds such cells
    wide = assign_atss(torch.tensor([[0, 0, 0.0, 0, 48, 48]]), anchors, (8,), [(8, 8)], topk=16, xy_mode="v5")
    off = wide.scales[0].offset
    assert len(off) and bool(((off > -0.5) & (off < 1.5)).all())


def test_no_targets() -> None:
    result = assign_atss(torch.zeros(0, 6), ONE, STRIDE, GRID)
    assert result.scales[0].num == 0 and result.unmatched == 0


def test_anchor_free_model_config_decode_and_errors() -> None:
    model = create_model("yolov3-tiny", num_classes=2, width=0.25, imgsz=64, xy_mode="ltrb")
    assert model.anchors.tolist() == [[[128.0, 128.0]], [[256.0, 256.0]]]  # 8·stride, one prior per scale
    raw = model(torch.rand(1, 3, 64, 64))
    assert [tuple(r.shape) for r in raw] == [(1, 1, 4, 4, 7), (1, 1, 2, 2, 7)]
    # hand decode: cell (1, 2) of stride 16 → point (24, 40); l, t, r, b = e^{ln 1, ln 2, ln 3, ln 0.5}·16
    one = torch.zeros(1, 1, 4, 4, 7)
    one[0, 0, 2, 1, :4] = torch.log(torch.tensor([1.0, 2.0, 3.0, 0.5]))
    boxes = decode([one, torch.zeros(1, 1, 2, 2, 7)], model.anchors, model.strides, "ltrb")
    torch.testing.assert_close(boxes[0, 2 * 4 + 1, :4], torch.tensor([24 - 16.0, 40 - 32.0, 24 + 48.0, 40 + 8.0]))
    with pytest.raises(ConfigError, match="one prior point per cell"):
        ModelConfig(arch="yolov3-tiny", xy_mode="ltrb", anchors=[[[10, 10], [20, 20]], [[30, 30]]])
    with pytest.raises(ValueError, match="box_loss 'giou'"):
        YOLOLoss(model, LossConfig(assign_mode="atss", box_loss="paper"))
    with pytest.raises(ValueError, match="'atss'"):
        LossConfig(assign_mode="fcos")


def test_anchor_free_forward_backward_and_onnx_export(tmp_path) -> None:
    pytest.importorskip("onnxruntime")
    from yolo3.export.onnx import export_onnx

    torch.manual_seed(0)
    # reference squares 2·stride: at 64 px the default 8·stride squares (128, 256) contain every GT, so all
    # candidate IoUs tie at the maximum and mean + std lies above it (no positives: reported as unmatched)
    model = create_model("yolov3-tiny", num_classes=3, width=0.25, imgsz=64, xy_mode="ltrb",
                         anchors=[[[32, 32]], [[64, 64]]])
    criterion = YOLOLoss(model, LossConfig(assign_mode="atss", box_loss="giou"))
    targets = torch.tensor([[0, 1, 4.0, 6, 40, 30], [1, 2, 30, 20, 60, 62]])
    total, terms = criterion(model(torch.rand(2, 3, 64, 64)), targets)
    total.backward()
    assert torch.isfinite(total) and terms["num_pos"] > 0 and terms["unmatched"] == 0
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters() if p.requires_grad)
    out = export_onnx(model.eval(), tmp_path / "af.onnx")
    import onnxruntime as ort

    x = torch.rand(1, 3, 64, 64)
    (onnx_preds,) = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"]).run(None, {"images": x.numpy()})
    with torch.no_grad():
        expected = decode(model(x), model.anchors, model.strides, "ltrb")
    torch.testing.assert_close(torch.from_numpy(onnx_preds), expected, rtol=1e-4, atol=1e-3)


@pytest.mark.parametrize("xy_mode", ["ltrb", "v5"])
def test_overfit_one_batch_atss(xy_mode: str) -> None:
    torch.manual_seed(0)
    anchors = None if xy_mode == "ltrb" else [[[12, 12], [20, 32], [32, 20]], [[40, 40], [48, 72], [72, 48]]]
    model = create_model("yolov3-tiny", num_classes=3, width=0.25, imgsz=128, xy_mode=xy_mode, anchors=anchors)
    images, targets = rectangles_batch()
    criterion = YOLOLoss(model, LossConfig(assign_mode="atss", box_loss="giou"))
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    model.train()
    for _ in range(150):
        total, terms = criterion(model(images), targets)
        opt.zero_grad()
        total.backward()
        opt.step()
        losses.append(float(total.detach()))
    assert float(terms["unmatched"]) == 0
    assert losses[-1] < losses[0] / 10, (losses[0], losses[-1])
    ious = best_ious(detect(model, images), targets)
    assert (ious > 0.5).all(), ious
