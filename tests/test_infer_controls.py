"""Practice controls (SPEC §8.2) on a hand-made scene: class subset, ROI, per-class thresholds.

The scene is given as decoded predictions in 64-px network pixels; the image is 128×128,
so every box comes back ×2 in original pixels.

    A cat 0.90 [4,4,20,20]     B dog 0.95 [5,4,21,20] (IoU with A = 0.88)
    C car 0.80 [40,40,56,56]   D cat 0.60 [28,4,48,20] (centre x 38)
    F cat 0.50 [24,4,44,20] (centre x 34; IoU with D = 2/3, so D suppresses F)
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from _infer_utils import FixedBackend, random_image
from yolo3.inference.detector import Detector
from yolo3.inference.postprocess import NMSConfig
from yolo3.inference.roi import make_roi, points_in_polygon

NAMES = ["cat", "dog", "car"]
SCENE = {  # name: (box, class, score)
    "A": ([4, 4, 20, 20], 0, 0.90),
    "B": ([5, 4, 21, 20], 1, 0.95),
    "C": ([40, 40, 56, 56], 2, 0.80),
    "D": ([28, 4, 48, 20], 0, 0.60),
    "F": ([24, 4, 44, 20], 0, 0.50),
}
IMAGE = random_image(128, 128)
LEFT = [[0, 0], [72, 0], [72, 128], [0, 128]]  # original pixels: network x < 36


def _detector(metadata: dict | None = None, method: str = "class_aware") -> Detector:
    rows = []
    for box, cls, score in SCENE.values():
        probs = [0.0] * 3
        probs[cls] = score
        rows.append(box + [1.0] + probs)
    backend = FixedBackend(torch.tensor(rows, dtype=torch.float32))
    return Detector(backend, NAMES, 64, metadata, NMSConfig(conf_threshold=0.25, method=method))


def _found(dets) -> set[str]:
    """Which scene entries are in the detections (matched by box and class)."""
    out = set()
    for box, cls in zip(dets.boxes.tolist(), dets.class_ids.tolist()):
        for name, (ref, ref_cls, _) in SCENE.items():
            if cls == ref_cls and np.allclose(box, np.array(ref) * 2, atol=1e-3):
                out.add(name)
    assert len(out) == len(dets), "every detection is one scene entry"
    return out


def test_scene_without_controls() -> None:
    assert _found(_detector()(IMAGE)[0]) == {"A", "B", "C", "D"}  # F suppressed by D
    assert _found(_detector(method="agnostic")(IMAGE)[0]) == {"B", "C", "D"}  # B suppresses A


def test_class_subset_is_scored_kept_and_ignored_by_nms() -> None:
    det = _detector(method="agnostic")
    # dog is not considered, so B can no longer suppress A even under agnostic NMS
    assert _found(det(IMAGE, classes=["cat", "car"])[0]) == {"A", "C", "D"}
    assert _found(det(IMAGE, classes=[1])[0]) == {"B"}
    with pytest.raises(ValueError, match="unknown class 'bird'"):
        det(IMAGE, classes=["bird"])


def test_class_ids_that_are_not_whole_numbers_are_refused() -> None:
    # found by hand: POST /v1/detect?classes=[1.5] answered 200 with the dogs (class 1): int(1.5) truncated
    det = _detector()
    for bad in (1.5, True):
        with pytest.raises(ValueError, match=f"class id {bad!r}: class ids are whole numbers 0 to 2, or names"):
            det(IMAGE, classes=[bad])
    with pytest.raises(ValueError, match="class id -1 out of range"):
        det(IMAGE, classes=[-1])
    assert det.class_ids([2.0, "1", 0]) == [2, 1, 0]


def test_roi_polygon_drops_outside_centres_before_nms() -> None:
    # C (x 48) and D (x 38) lie outside; D is dropped before NMS, so F (x 34) survives.
    assert _found(_detector()(IMAGE, roi=[LEFT])[0]) == {"A", "B", "F"}


def test_roi_one_polygon_without_the_outer_list_is_that_polygon() -> None:
    # found by hand: `detect --roi '[[0,0],[72,0],[72,128],[0,128]]'` (one polygon, as serve's roi field takes it)
    # said "ROI polygon 0: shape (2,); each polygon needs >= 3 (x, y) vertices" of a polygon with 4 vertices
    assert _found(_detector()(IMAGE, roi=LEFT)[0]) == {"A", "B", "F"}
    assert _found(_detector()(IMAGE, roi=np.array(LEFT, dtype=np.int64))[0]) == {"A", "B", "F"}
    with pytest.raises(ValueError, match=r"ROI polygon 0: shape \(2, 2\); each polygon needs >= 3"):
        _detector()(IMAGE, roi=[[0, 0], [1, 1]])


def test_roi_mask_array_and_file_agree_with_polygon(tmp_path) -> None:
    mask = np.zeros((128, 128), dtype=np.uint8)
    mask[:, :72] = 255
    cv2.imwrite(str(tmp_path / "roi.png"), mask)
    det = _detector()
    assert _found(det(IMAGE, roi=mask)[0]) == {"A", "B", "F"}
    assert _found(det(IMAGE, roi=tmp_path / "roi.png")[0]) == {"A", "B", "F"}
    with pytest.raises(ValueError, match="ROI mask is 64x64 but the image is 128x128"):
        det(IMAGE, roi=np.ones((64, 64), dtype=bool))


def test_points_in_polygon_hand_worked() -> None:
    # an L-shaped polygon: the square [0,4]² minus the quadrant [2,4]×[2,4]
    poly = np.array([[0, 0], [4, 0], [4, 2], [2, 2], [2, 4], [0, 4]], dtype=float)
    pts = np.array([[1, 1], [3, 1], [1, 3], [3, 3], [5, 1], [-1, 1]], dtype=float)
    assert points_in_polygon(pts, poly).tolist() == [True, True, True, False, False, False]
    with pytest.raises(ValueError, match="needs >= 3"):
        make_roi([[[0, 0], [1, 1]]])


def test_per_class_thresholds_from_metadata() -> None:
    det = _detector({"class_thresholds": [0.55, 0.99, 0.0]})
    # cat needs > 0.55 (F at 0.50 out, D at 0.60 in), dog > 0.99 (B out), car > 0 (C in)
    assert _found(det(IMAGE, thresholds="auto")[0]) == {"A", "C", "D"}
    assert _found(det(IMAGE, thresholds={"cat": 0.95})[0]) == {"B", "C"}  # others keep conf 0.25
    with pytest.raises(ValueError, match="3 numbers"):
        det(IMAGE, thresholds=[0.5, 0.5])


def test_thresholds_auto_without_metadata_says_how_to_get_them() -> None:
    with pytest.raises(ValueError, match=r"yolo3 val --save-thresholds"):
        _detector()(IMAGE, thresholds="auto")
