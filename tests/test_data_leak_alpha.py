"""check-data: the same image on both sides of a split, conflicting boxes; transparent images."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from _data_utils import plain_image, write_rgb
from yolo3.data.formats import DatasetIndex
from yolo3.data.image_io import read_image
from yolo3.data.letterbox import PAD_VALUE
from yolo3.data.sample import Sample
from yolo3.data.validate import check_dataset


def test_identical_images_across_splits_are_leakage_and_box_conflicts_are_named(tmp_path: Path) -> None:
    img, other = plain_image(40, 50, 0), plain_image(40, 50, 1)
    a = write_rgb(tmp_path / "train" / "a.png", img)
    b = write_rgb(tmp_path / "test" / "a_copy.png", img)  # same bytes, other split, same boxes
    c = write_rgb(tmp_path / "train" / "c.png", other)
    d = write_rgb(tmp_path / "train" / "c_again.png", other)  # same bytes, same split, other boxes
    boxes = [[1, 2, 10, 12], [20, 5, 30, 25]]
    index = DatasetIndex(["x", "y"], {
        "train": [Sample(a, boxes, [0, 1]), Sample(c, [[1, 1, 9, 9]], [0]), Sample(d, [[1, 1, 9, 9], [2, 2, 8, 8]],
                                                                                     [0, 1])],
        "test": [Sample(b, boxes[::-1], [1, 0])],  # same boxes in another order
    }, tmp_path, "yolo")
    report = check_dataset(index)
    dup = {Path(f.file).name: f.message for f in report.findings if f.kind == "duplicate_image"}
    assert set(dup) == {"c_again.png", "a_copy.png"}
    assert dup["a_copy.png"].startswith("same image in train and test") and dup["a_copy.png"].endswith("same boxes")
    assert "same image in" not in dup["c_again.png"]
    assert "the boxes differ: 2 box(es) here, 1 there" in dup["c_again.png"]
    assert report.counts["duplicate_image"] == 2 and len(report.splits["test"]) == 1  # warn: kept


def _rgba_png(path: Path) -> tuple[np.ndarray, np.ndarray]:
    rgb = np.zeros((8, 12, 3), np.uint8)
    rgb[:, 4:8] = (200, 10, 60)
    rgb[:, 8:] = (30, 240, 90)
    alpha = np.zeros((8, 12), np.uint8)  # left third fully transparent (black underneath)
    alpha[:, 4:8] = 255
    alpha[:, 8:] = 128
    bgra = np.dstack([rgb[..., ::-1], alpha])
    assert cv2.imwrite(str(path), bgra)
    return rgb, alpha


def test_rgba_is_composited_on_the_pad_grey(tmp_path: Path) -> None:
    rgb, alpha = _rgba_png(tmp_path / "t.png")
    out = read_image(tmp_path / "t.png")
    assert out.shape == (8, 12, 3) and out.dtype == np.uint8
    assert (out[:, :4] == PAD_VALUE).all() and PAD_VALUE == 114  # not black
    assert (out[:, 4:8] == rgb[:, 4:8]).all()
    half = np.rint(np.array([30, 240, 90]) * (128 / 255) + 114 * (127 / 255))  # by hand: 15.06 + 56.78 → 72, …
    assert half.tolist() == [72, 177, 102] and (out[:, 8:] == half).all()


def test_grey_alpha_and_palette_transparency(tmp_path: Path) -> None:
    la = Image.fromarray(np.dstack([np.full((4, 4), 50, np.uint8), np.array([[0, 255] * 2] * 4, np.uint8)]), "LA")
    la.save(tmp_path / "la.png")
    out = read_image(tmp_path / "la.png")
    assert (out[:, 0::2] == 114).all() and (out[:, 1::2] == 50).all()
    pal = Image.new("P", (4, 4), 1)
    pal.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
    pal.paste(0, (0, 0, 2, 4))
    pal.save(tmp_path / "p.png", transparency=0)  # index 0 (black) transparent
    out = read_image(tmp_path / "p.png")
    assert (out[:, :2] == 114).all() and (out[:, 2:] == [255, 0, 0]).all()
    write_rgb(tmp_path / "plain.png", plain_image(6, 6))  # no alpha: untouched
    np.testing.assert_array_equal(read_image(tmp_path / "plain.png"), plain_image(6, 6))


def test_check_data_reports_the_composite(tmp_path: Path) -> None:
    _rgba_png(tmp_path / "t.png")
    index = DatasetIndex(["x"], {"train": [Sample(tmp_path / "t.png", [[1, 1, 5, 5]], [0])]}, tmp_path, "yolo")
    [finding] = check_dataset(index).findings
    assert finding.kind == "non_rgb" and "composited on grey 114 (the training pad colour)" in finding.message
