"""The data commands: convert, check-data, show-batch."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from _data_utils import plain_image, write_yolo_dataset

from yolo3.cli import main
from yolo3.data.formats import load_dataset


def _data(tmp_path: Path) -> Path:
    return write_yolo_dataset(tmp_path / "src", {"a.jpg": plain_image(64, 96), "b.jpg": plain_image(64, 96, 1)},
                              {"a.jpg": "0 0.5 0.5 0.25 0.25\n", "b.jpg": "1 0.5 0.5 0 0.2\n0 0.2 0.2 0.1 0.1\n"},
                              ["a", "b"])


def test_convert_yolo_to_voc_and_back(tmp_path: Path, capsys) -> None:
    data = _data(tmp_path)
    assert main(["convert", str(data), str(tmp_path / "voc"), "--from", "yolo", "--to", "voc"]) == 0
    voc = load_dataset(tmp_path / "voc")
    src = load_dataset(data)
    for a, b in zip(src.splits["train"], voc.splits["train"]):
        np.testing.assert_allclose(a.boxes, b.boxes, atol=1e-9)
    assert main(["convert", str(data), str(tmp_path / "x"), "--from", "coco", "--to", "voc"]) == 2
    assert "not coco" in capsys.readouterr().err


def test_check_data_prints_report_and_stops_on_policy(tmp_path: Path, capsys) -> None:
    data = _data(tmp_path)
    assert main(["check-data", str(data)]) == 0
    out = capsys.readouterr().out
    assert "b.txt:line 1: degenerate_box: zero-size box" in out and "[skipped]" in out
    assert main(["check-data", str(data), "--policy", "degenerate_box=stop"]) == 2
    assert "yolo3 check-data: error:" in (err := capsys.readouterr().err) and "policy" in err
    assert main(["check-data", str(data), "--policy", "nonsense=skip"]) == 2


def test_show_batch_writes_grid(tmp_path: Path) -> None:
    out = tmp_path / "grid.png"
    assert main(["show-batch", str(_data(tmp_path)), "--out", str(out), "-n", "2", "--imgsz", "64"]) == 0
    grid = cv2.imread(str(out))
    assert grid.shape == (64, 128, 3)


def test_convert_from_coco_says_when_category_ids_are_not_kept(tmp_path: Path, capsys) -> None:
    # COCO category ids 3 and 7 become class 0 and 1; YOLO/VOC/LabelMe/CVAT keep no ids, so a
    # conversion back numbers them 1 and 2 (predictions then miss the original ground truth)
    import json

    src = tmp_path / "src"
    src.mkdir()
    cv2.imwrite(str(src / "a.jpg"), plain_image(20, 30))
    doc = {"images": [{"id": 1, "file_name": "a.jpg", "width": 30, "height": 20}],
           "annotations": [{"id": 1, "image_id": 1, "category_id": 7, "bbox": [1, 2, 5, 5]}],
           "categories": [{"id": 3, "name": "cat"}, {"id": 7, "name": "dog"}]}
    (src / "train.json").write_text(json.dumps(doc))
    assert main(["convert", str(src / "train.json"), str(tmp_path / "voc"), "--to", "voc"]) == 0
    out = capsys.readouterr().out
    assert "note: " in out and "category ids [3, 7]" in out
    assert main(["convert", str(src / "train.json"), str(tmp_path / "coco"), "--to", "coco"]) == 0
    assert "category ids" not in capsys.readouterr().out  # COCO keeps them


def test_show_batch_to_an_unknown_image_suffix_is_one_line(tmp_path: Path, capsys) -> None:
    """`--out batch.txt` ended in a raw cv2.error traceback (OpenCV raises, not returns False)."""
    out = tmp_path / "batch.txt"
    assert main(["show-batch", str(_data(tmp_path)), "--out", str(out), "-n", "2", "--imgsz", "64"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"yolo3 show-batch: error: {out}: cannot write the image") and len(err.splitlines()) == 1
    assert not out.exists()
