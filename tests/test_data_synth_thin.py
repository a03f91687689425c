"""`yolo3 synth --thin`: hairs and scratches — thin, elongated, variable objects with tight boxes."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from yolo3.cli import main
from yolo3.data.formats import load_dataset
from yolo3.data.synth import SHAPES, THIN_SHAPES, draw_thin, synth_image
from yolo3.data.validate import check_dataset


def _extent(mask: np.ndarray) -> tuple[int, int]:
    ys, xs = np.nonzero(mask)
    return int(xs.max() - xs.min() + 1), int(ys.max() - ys.min() + 1)


def test_scratch_is_a_thin_straight_stroke_of_the_given_length() -> None:
    mask = np.zeros((64, 64), np.uint8)
    draw_thin(mask, "scratch", np.random.default_rng(0), 32, 32, 40, 0.0)
    w, h = _extent(mask)
    assert 40 <= w <= 44 and h <= 3 + 4  # 40 px long (+ the stroke's round ends), ≤ 3 px thick plus jitter


def test_hair_is_thin_and_curved() -> None:
    rng = np.random.default_rng(1)
    mask = np.zeros((96, 96), np.uint8)
    draw_thin(mask, "hair", rng, 48, 48, 60, math.pi / 2)  # vertical
    w, h = _extent(mask)
    assert 59 <= h <= 63 and mask.sum() < 3 * 63  # one stroke of ≤ 2 px, not a filled area
    bend = np.random.default_rng(1).uniform(-0.35, 0.35) * 60  # the curvature the drawing drew
    assert abs(w - (abs(bend) + 1)) <= 3  # the middle bulges sideways by the control-point offset


def test_thin_classes_appear_with_sparse_elongated_boxes() -> None:
    kinds = SHAPES + THIN_SHAPES
    thin, solid = [], []
    for i in range(40):
        img, boxes, ids = synth_image(np.random.default_rng([5, 0, i]), 128, kinds=kinds)
        assert ids.max() < len(kinds)
        for box, c in zip(boxes, ids):
            w, h = box[2:] - box[:2]
            (thin if kinds[c] in THIN_SHAPES else solid).append(max(w / h, h / w))
    thin, solid = np.array(thin), np.array(solid)
    assert len(thin) >= 10 and len(solid) >= 10
    # random orientations: diagonal strokes get squarish boxes, but many are elongated; solid shapes hardly ever
    assert (thin > 2).mean() > 0.3 and (solid > 2).mean() < 0.1
    assert np.median(thin) > np.median(solid) + 0.5


def test_cli_thin_writes_eight_classes_and_default_is_unchanged(tmp_path: Path) -> None:
    assert main(["synth", "--out", str(tmp_path / "t"), "--n-train", "4", "--n-val", "1", "--imgsz", "96",
                 "--thin"]) == 0
    index = load_dataset(tmp_path / "t" / "data.yaml")
    assert index.class_names == list(SHAPES) + ["hair", "scratch"]
    assert set(check_dataset(index).counts) <= {"no_labels"}
    assert main(["synth", "--out", str(tmp_path / "d"), "--n-train", "1", "--n-val", "0", "--imgsz", "96"]) == 0
    sample = load_dataset(tmp_path / "d" / "data.yaml").splits["train"][0]
    np.testing.assert_allclose(sample.boxes, synth_image(np.random.default_rng([0, 0, 0]), 96)[1], atol=1e-9)
