"""`detect` output names (issue 14, point 4): `a.jpg`, `a.png` and `sub/a.jpg` must not
overwrite each other's label file or share an image id in predictions.json."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import pytest

from _infer_utils import random_image, saved_model
from yolo3.cli import main
from yolo3.inference.writers import OutputName, output_names

SIZES = {"a.jpg": (80, 120), "a.png": (64, 64), "sub/a.jpg": (48, 96), "b.jpg": (72, 40)}  # (h, w): tells them apart


@pytest.fixture
def images(tmp_path: Path) -> Path:
    root = tmp_path / "imgs"
    for i, (name, (h, w)) in enumerate(SIZES.items()):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(root / name), random_image(h, w, seed=i))
    return root


def test_output_names_follow_the_documented_rule() -> None:
    assert output_names(["a.jpg", "a.png", "sub/a.jpg", "b.jpg"]) == [
        OutputName("a.jpg", "a_jpg", "a_jpg"), OutputName("a.png", "a_png", "a_png"),
        OutputName("sub/a.jpg", "sub/a", "sub/a"), OutputName("b.jpg", "b", "b")]
    # the same name from two arguments: the later one is numbered
    assert output_names(["a.jpg", "a.jpg"]) == [OutputName("a.jpg", "a", "a"), OutputName("a_2.jpg", "a_2", "a_2")]
    # COCO-style numeric ids stay ints, but never twice the same int
    assert output_names(["000042.jpg", "42.png", "7.jpg"]) == [
        OutputName("000042.jpg", "000042", 42), OutputName("42.png", "42", "42"), OutputName("7.jpg", "7", 7)]


def _check_outputs(out: Path, expected: dict[str, tuple[str, str | int, tuple[int, int]]]) -> None:
    """expected: annotated image → (label stem, image_id, (h, w) of its input)."""
    records = json.loads((out / "predictions.json").read_text())
    ids = {r["image_id"] for r in records}
    assert ids <= {image_id for _, image_id, _ in expected.values()}
    assert len({image_id for _, image_id, _ in expected.values()}) == len(expected)
    labels = sorted(p.relative_to(out / "labels").as_posix() for p in (out / "labels").rglob("*.txt"))
    assert labels == sorted(f"{stem}.txt" for stem, _, _ in expected.values())
    for image, (stem, image_id, (h, w)) in expected.items():
        assert cv2.imread(str(out / image)).shape == (h, w, 3), image
        lines = (out / "labels" / f"{stem}.txt").read_text().splitlines()
        assert len(lines) == sum(r["image_id"] == image_id for r in records), image


def test_folder_inputs_keep_their_relative_path(tmp_path: Path, images: Path) -> None:
    weights = saved_model(tmp_path)
    out = tmp_path / "out"
    assert main(["detect", str(images), "--recursive", "--weights", str(weights), "--out", str(out),
                 "--conf", "0.01"]) == 0
    _check_outputs(out, {"a.jpg": ("a_jpg", "a_jpg", SIZES["a.jpg"]), "a.png": ("a_png", "a_png", SIZES["a.png"]),
                         "sub/a.jpg": ("sub/a", "sub/a", SIZES["sub/a.jpg"]), "b.jpg": ("b", "b", SIZES["b.jpg"])})
    assert json.loads((out / "predictions.json").read_text()), "the test needs detections to compare"


def test_file_inputs_with_one_name_are_numbered(tmp_path: Path, images: Path) -> None:
    weights = saved_model(tmp_path)
    out = tmp_path / "out"
    assert main(["detect", str(images / "a.jpg"), str(images / "sub" / "a.jpg"), str(images / "a.png"),
                 "--weights", str(weights), "--out", str(out), "--conf", "0.01"]) == 0
    _check_outputs(out, {"a.jpg": ("a_jpg", "a_jpg", SIZES["a.jpg"]), "a_2.jpg": ("a_2", "a_2", SIZES["sub/a.jpg"]),
                         "a.png": ("a_png", "a_png", SIZES["a.png"])})


def test_an_image_named_like_a_video_frame_keeps_its_own_label_and_id(tmp_path: Path) -> None:
    # found by hand: `detect` on a folder with v.mp4 and v_000000.jpg wrote frame 0's labels over the image's
    # labels/v_000000.txt, and both sets of boxes shared image_id "v_000000" in predictions.json
    root = tmp_path / "in"
    root.mkdir()
    writer = cv2.VideoWriter(str(root / "v.mp4"), cv2.VideoWriter_fourcc(*"mp4v"), 10, (96, 96))
    for i in range(2):
        writer.write(random_image(96, 96, seed=i))
    writer.release()
    cv2.imwrite(str(root / "v_000000.jpg"), random_image(64, 80, seed=5))
    out = tmp_path / "out"
    assert main(["detect", str(root), "--weights", str(saved_model(tmp_path)), "--out", str(out), "--conf", "0.01",
                 "--backend", "torch"]) == 0
    labels = sorted(p.name for p in (out / "labels").iterdir())
    assert labels == ["v_000000.txt", "v_000000_jpg.txt", "v_000001.txt"]
    records = json.loads((out / "predictions.json").read_text())
    for stem in ("v_000000", "v_000000_jpg", "v_000001"):
        lines = (out / "labels" / f"{stem}.txt").read_text().splitlines()
        assert lines and len(lines) == sum(r["image_id"] == stem for r in records), stem
    assert output_names(["v.mp4", "v_000000.jpg", "v_7.jpg"], videos=[True, False, False]) == [
        OutputName("v.mp4", "v", "v"), OutputName("v_000000.jpg", "v_000000_jpg", "v_000000_jpg"),
        OutputName("v_7.jpg", "v_7", "v_7")]
