"""Difficult boxes (VOC `difficult`, COCO `iscrowd`) were training targets like any other,
while evaluation ignores them and darknet's VOC recipe leaves them out: a crowd box
around many people taught "one person". Training now leaves them out of its targets by
default, says how many, and `train_difficult: true` keeps them."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import cv2

from _infer_utils import random_image
from _train_utils import small_config
from yolo3.train.setup import prepare_data


def _coco(tmp_path: Path) -> Path:
    """4 images, each with one plain box; images 0 and 2 also hold one crowd box."""
    (tmp_path / "images").mkdir(parents=True)
    images, anns = [], []
    for i in range(4):
        cv2.imwrite(str(tmp_path / "images" / f"{i}.png"), random_image(64, 64, seed=i))
        images.append({"id": i + 1, "file_name": f"{i}.png", "width": 64, "height": 64})
        anns.append({"id": len(anns) + 1, "image_id": i + 1, "category_id": 1, "bbox": [4, 4, 20, 20], "iscrowd": 0})
        if i % 2 == 0:
            anns.append({"id": len(anns) + 1, "image_id": i + 1, "category_id": 1, "bbox": [30, 30, 30, 30],
                         "iscrowd": 1})
    path = tmp_path / "train.json"
    path.write_text(json.dumps({"images": images, "annotations": anns,
                                "categories": [{"id": 1, "name": "person"}]}))
    return path


def test_difficult_boxes_leave_the_training_targets_by_default(tmp_path: Path) -> None:
    cfg = small_config(_coco(tmp_path), tmp_path / "runs")
    data = prepare_data(cfg)
    assert sorted(len(s) for s in data.train) == [1, 1, 1, 1]
    assert not any(s.difficult.any() for s in data.train)
    assert all(s.boxes.tolist() == [[4.0, 4.0, 24.0, 24.0]] for s in data.train)
    assert ("difficult: 2 difficult / crowd boxes in the training images are left out of the training targets "
            "(evaluation ignores them too; `train_difficult: true` in the config keeps them)") in data.check_summary

    kept = prepare_data(dataclasses.replace(cfg, train_difficult=True))
    assert sorted(len(s) for s in kept.train) == [1, 1, 2, 2]
    assert "difficult: 2 difficult / crowd boxes in the training images are training targets" in kept.check_summary


def test_a_held_back_val_split_keeps_its_difficult_boxes_for_evaluation(tmp_path: Path) -> None:
    data = prepare_data(small_config(_coco(tmp_path), tmp_path / "runs", split_ratio=0.5))
    assert len(data.train) == 2 and len(data.val) == 2
    assert not any(s.difficult.any() for s in data.train)
    held_crowd = sum(int(s.difficult.sum()) for s in data.val)  # the crowd boxes val kept
    left_out = 2 - held_crowd  # the crowd boxes of the training images
    assert sum(len(s) for s in data.train) + sum(len(s) for s in data.val) + left_out == 6
    assert left_out == 0 or any(f"difficult: {left_out} difficult" in line for line in data.check_summary)
