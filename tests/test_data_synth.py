"""Synthetic shapes: deterministic, tight boxes, sizes from small to large, YOLO output."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from yolo3.cli import main
from yolo3.data.formats import load_dataset
from yolo3.data.synth import SHAPES, synth_image
from yolo3.data.validate import check_dataset


def test_deterministic_and_tight() -> None:
    a = synth_image(np.random.default_rng([0, 0, 3]), 128)
    b = synth_image(np.random.default_rng([0, 0, 3]), 128)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    img, boxes, ids = a
    assert img.shape == (128, 128, 3) and len(boxes) >= 1 and ids.max() < len(SHAPES)
    assert (boxes[:, :2] >= 0).all() and (boxes[:, 2:] <= 128).all() and (boxes[:, 2:] > boxes[:, :2]).all()


def test_sizes_span_small_to_large() -> None:
    sides = np.concatenate([np.sqrt(np.prod(b[:, 2:] - b[:, :2], 1))
                            for b in (synth_image(np.random.default_rng([1, 0, i]), 256)[1] for i in range(30))])
    assert sides.min() < 16 and sides.max() > 100  # COCO small (< 32²) and large (> 96²) at 256 px
    assert ((sides > 32) & (sides < 96)).any()


def test_cli_writes_a_clean_yolo_dataset(tmp_path: Path) -> None:
    assert main(["synth", "--out", str(tmp_path), "--n-train", "6", "--n-val", "2", "--imgsz", "96",
                 "--seed", "3"]) == 0
    index = load_dataset(tmp_path / "data.yaml")
    assert index.class_names == list(SHAPES) and [len(v) for v in index.splits.values()] == [6, 2]
    report = check_dataset(index)
    assert set(report.counts) <= {"no_labels"}
    sample = index.splits["train"][0]
    img, boxes, ids = synth_image(np.random.default_rng([3, 0, 0]), 96)
    np.testing.assert_allclose(sample.boxes, boxes, atol=1e-9)
    assert sample.class_ids.tolist() == ids.tolist()


def test_cli_refuses_a_folder_that_holds_files(tmp_path: Path, capsys) -> None:
    """`synth --out d --n-train 2` into an earlier `synth --out d --n-train 6 --thin` rewrote data.yaml
    (6 classes) over a folder still holding the old images 2-5, whose labels name classes 6 and 7."""
    out = tmp_path / "d"
    args = ["synth", "--out", str(out), "--n-val", "0", "--imgsz", "64"]
    assert main(args + ["--n-train", "6", "--thin"]) == 0
    before = (out / "data.yaml").read_text()
    assert main(args + ["--n-train", "2"]) == 2
    assert capsys.readouterr().err.strip() == (
        f"yolo3 synth: error: {out}: exists and is not empty (data.yaml, images, labels), and a new dataset "
        "written there would mix with or replace those files; choose another --out")
    assert (out / "data.yaml").read_text() == before and len(list((out / "images" / "train").iterdir())) == 6
    (tmp_path / "empty").mkdir()  # an empty folder is fine
    assert main(["synth", "--out", str(tmp_path / "empty"), "--n-train", "1", "--n-val", "0", "--imgsz", "64"]) == 0
