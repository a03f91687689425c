"""Our COCO path (FastCOCOeval + exact data) against stock pycocotools, to 1e-6."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from _eval_utils import H, W, random_case, reference_coco_stats
from yolo3.data.sample import Sample
from yolo3.eval.coco import COCO_METRIC_NAMES, coco_ground_truth, coco_metrics, coco_results, run_cocoeval
from yolo3.inference.results import Detections

NAMES3 = ["a", "b", "c"]


def _ours(samples, dets, names, fast=True) -> np.ndarray:
    metrics = coco_metrics(samples, dets, names, fast=fast)
    return np.array([metrics[n] for n in COCO_METRIC_NAMES])


@pytest.mark.parametrize("seed", range(6))
def test_random_cases_match_pycocotools(seed: int, tmp_path: Path) -> None:
    rng = np.random.default_rng(seed)
    samples, dets = random_case(rng, n_images=12, num_classes=3, tie_scores=seed % 2 == 1)
    ref = reference_coco_stats(samples, dets, 3, tmp_path)
    np.testing.assert_allclose(_ours(samples, dets, NAMES3), ref, atol=1e-6, rtol=0)
    np.testing.assert_allclose(_ours(samples, dets, NAMES3, fast=False), ref, atol=1e-6, rtol=0)


def test_adversarial_case_matches_pycocotools(tmp_path: Path) -> None:
    """Empty images, images without detections, all size classes, ties, >100 dets per class."""
    rng = np.random.default_rng(42)
    samples, dets = random_case(rng, n_images=10, num_classes=3, max_gt=12, max_det=60, tie_scores=True)
    names = [str(c) for c in range(3)]
    samples[0] = Sample(Path("empty.jpg"), np.zeros((0, 4)), np.zeros(0), image_size=(H, W))  # GT-free, has dets
    dets[1] = Detections(np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros(0, np.int64), names, (H, W))
    # duplicates with equal scores on one box, and 150 detections of one class in one image
    j = next(i for i in range(2, len(samples)) if len(samples[i]))
    many = np.repeat(samples[j].boxes[:1], 150, 0) + rng.normal(0, 3, (150, 4))
    many[:, 2:] = np.maximum(many[:, 2:], many[:, :2] + 1)
    scores = np.round(rng.uniform(0, 1, 150), 1)
    dets[j] = Detections(np.concatenate([dets[j].boxes, many.astype(np.float32)]),
                         np.concatenate([dets[j].scores, scores.astype(np.float32)]),
                         np.concatenate([dets[j].class_ids, np.full(150, samples[j].class_ids[0])]), names, (H, W))
    ref = reference_coco_stats(samples, dets, 3, tmp_path)
    np.testing.assert_allclose(_ours(samples, dets, names), ref, atol=1e-6, rtol=0)


def test_size_classes_are_all_exercised() -> None:
    rng = np.random.default_rng(3)
    samples, _ = random_case(rng, n_images=20, num_classes=3)
    areas = np.concatenate([(s.boxes[:, 2] - s.boxes[:, 0]) * (s.boxes[:, 3] - s.boxes[:, 1]) for s in samples])
    assert (areas < 32**2).any() and ((areas > 32**2) & (areas < 96**2)).any() and (areas > 96**2).any()


def test_per_class_ap_equals_single_category_cocoeval(tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    samples, dets = random_case(rng, n_images=10, num_classes=3)
    metrics = coco_metrics(samples, dets, NAMES3)
    for k, name in enumerate(NAMES3):
        ref = reference_coco_stats(samples, dets, 3, tmp_path, cat_ids=[k])
        assert metrics[f"AP@0.5:0.95/{name}"] == pytest.approx(ref[0], abs=1e-6)
        assert metrics[f"AP@0.5/{name}"] == pytest.approx(ref[1], abs=1e-6)


def test_no_detections_at_all_gives_pycocotools_answers() -> None:
    """pycocotools' loadRes cannot take []; with GT present every AP/AR is 0,
    and size groups without GT are -1 (undefined)."""
    samples = [Sample(Path("x.jpg"), [[10, 10, 60, 60], [0, 0, 200, 150]], [0, 1], image_size=(H, W))]
    empty = Detections(np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros(0, np.int64), NAMES3, (H, W))
    metrics = coco_metrics(samples, [empty], NAMES3)
    expected = dict.fromkeys(COCO_METRIC_NAMES, 0.0) | {"APs": -1.0, "ARs": -1.0}
    assert {n: metrics[n] for n in COCO_METRIC_NAMES} == expected
    assert metrics["AP@0.5:0.95/c"] == -1.0  # class without GT or detections


def test_no_ground_truth_at_all_is_undefined() -> None:
    samples = [Sample(Path("x.jpg"), np.zeros((0, 4)), np.zeros(0), image_size=(H, W))]
    det = Detections(np.array([[1, 1, 50, 50]], np.float32), np.array([0.9], np.float32), np.array([0]), NAMES3, (H, W))
    metrics = coco_metrics(samples, [det], NAMES3)
    assert all(metrics[n] == -1.0 for n in COCO_METRIC_NAMES)


def test_perfect_detections_score_one() -> None:
    rng = np.random.default_rng(1)
    samples, _ = random_case(rng, n_images=6, num_classes=3)
    dets = [Detections(s.boxes.astype(np.float32), np.linspace(1, 0.5, len(s)).astype(np.float32), s.class_ids,
                       NAMES3, (H, W)) for s in samples]
    metrics = coco_metrics(samples, dets, NAMES3)
    assert metrics["mAP@0.5:0.95"] == pytest.approx(1.0) and metrics["mAP@0.5"] == pytest.approx(1.0)


def test_exact_coco_data() -> None:
    """Boxes and scores reach pycocotools unrounded; areas are w·h; ids start at 1."""
    s = Sample(Path("x.jpg"), [[1.25, 2.5, 11.75, 22.125]], [2], image_size=(H, W))
    gt = coco_ground_truth([s], NAMES3)
    assert gt["annotations"] == [{"id": 1, "image_id": 1, "category_id": 3, "bbox": [1.25, 2.5, 10.5, 19.625],
                                  "area": 10.5 * 19.625, "iscrowd": 0}]
    det = Detections(np.array([[0.1, 0.2, 5.3, 7.7]], np.float32), np.array([0.123456789], np.float32),
                     np.array([1]), NAMES3, (H, W))
    (res,) = coco_results([det])
    assert res["score"] == float(np.float32(0.123456789))
    assert res["bbox"][0] == float(np.float32(0.1)) and res["category_id"] == 2 and res["image_id"] == 1


def test_cap_keeps_best_per_class_without_changing_order() -> None:
    """COCOeval keeps the first max_per_class after a stable sort: ties go to the earlier one."""
    scores = np.array([0.5, 0.9, 0.5, 0.1, 0.7], np.float32)
    boxes = np.array([[k, 0, k + 10, 10] for k in range(5)], np.float32)
    det = Detections(boxes, scores, np.array([0, 0, 0, 0, 1]), NAMES3, (H, W))
    kept = coco_results([det], max_per_class=2)
    assert [r["bbox"][0] for r in kept] == [0.0, 1.0, 4.0]


def test_crowd_ground_truth_falls_back_to_stock_matching() -> None:
    gt = coco_ground_truth([Sample(Path("x.jpg"), [[0, 0, 100, 100], [200, 200, 300, 300]], [0, 0],
                                   image_size=(H, W))], NAMES3)
    gt["annotations"][1]["iscrowd"] = 1
    results = [{"image_id": 1, "category_id": 1, "bbox": [200, 200, 100, 100], "score": s} for s in (0.9, 0.8)]
    results.append({"image_id": 1, "category_id": 1, "bbox": [0, 0, 100, 100], "score": 0.7})
    fast, stock = run_cocoeval(gt, results, fast=True), run_cocoeval(gt, results, fast=False)
    np.testing.assert_allclose(fast.stats, stock.stats, atol=1e-12)


def test_a_coco_files_crowd_regions_are_scored_as_stock_pycocotools_scores_that_file(tmp_path: Path) -> None:
    """Crowd regions (iscrowd 1) were written as ordinary ground truth: one box found beside
    one crowd region scored mAP@0.5 0.505 where stock pycocotools on the dataset's own file
    gives 1.0. The reader keeps the flag and the ground truth carries it."""
    import contextlib
    import io
    import json

    import cv2
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    from yolo3.data.formats import load_dataset, save_dataset

    cv2.imwrite(str(tmp_path / "a.png"), np.zeros((100, 120, 3), np.uint8))
    cv2.imwrite(str(tmp_path / "b.png"), np.zeros((100, 120, 3), np.uint8))
    gt = {"images": [{"id": 1, "file_name": "a.png", "width": 120, "height": 100},
                     {"id": 2, "file_name": "b.png", "width": 120, "height": 100}],
          "categories": [{"id": 1, "name": "p"}, {"id": 2, "name": "q"}],
          "annotations": [
              {"id": 1, "image_id": 1, "category_id": 1, "bbox": [10, 10, 30, 30], "area": 900, "iscrowd": 0},
              {"id": 2, "image_id": 1, "category_id": 1, "bbox": [50, 40, 60, 50], "area": 3000, "iscrowd": 1},
              {"id": 3, "image_id": 2, "category_id": 2, "bbox": [5, 5, 50, 40], "area": 2000, "iscrowd": 0},
              {"id": 4, "image_id": 2, "category_id": 2, "bbox": [60, 50, 50, 40], "area": 2000, "iscrowd": 1}]}
    (tmp_path / "val.json").write_text(json.dumps(gt))
    # per image: a hit, a detection inside the crowd region, a miss elsewhere (scores interleaved)
    found = {1: ([[10, 10, 40, 40], [60, 50, 80, 70], [0, 80, 15, 95]], [0.9, 0.8, 0.7], 1),
             2: ([[6, 6, 54, 44], [70, 55, 100, 85], [100, 0, 118, 15]], [0.6, 0.95, 0.5], 2)}
    results = [{"image_id": i, "category_id": c, "bbox": [x1, y1, x2 - x1, y2 - y1], "score": s}
               for i, (boxes, scores, c) in found.items() for (x1, y1, x2, y2), s in zip(boxes, scores)]
    with contextlib.redirect_stdout(io.StringIO()):
        stock = COCO(str(tmp_path / "val.json"))
        ev = COCOeval(stock, stock.loadRes(results), "bbox")
        ev.evaluate(), ev.accumulate(), ev.summarize()
    samples = load_dataset(tmp_path / "val.json").splits["val"]
    assert [s.crowd.tolist() for s in samples] == [[False, True], [False, True]]
    dets = [Detections(np.array(found[i][0], np.float32), np.array(found[i][1], np.float32),
                       np.full(3, found[i][2] - 1), ["p", "q"], (100, 120), f"{i}") for i in (1, 2)]
    ours = coco_metrics(samples, dets, ["p", "q"])
    assert [ours[k] for k in COCO_METRIC_NAMES] == pytest.approx(list(ev.stats), abs=1e-12)
    assert ev.stats[1] == pytest.approx(1.0)  # the crowd-region detections are neither hits nor misses
    written = save_dataset(load_dataset(tmp_path / "val.json"), tmp_path / "out", "coco", images="none")
    again = json.loads((written / "annotations" / "val.json").read_text())["annotations"]
    assert [a["iscrowd"] for a in again] == [0, 1, 0, 1]


def test_a_coco_files_stated_areas_set_the_size_ranges_as_in_stock_pycocotools(tmp_path: Path) -> None:
    """COCO's small/medium/large split uses each annotation's `area` (its segmentation's),
    not the box's: a 40x40 box of a 900 px² object is 'small' to pycocotools on the file,
    and was 'medium' to yolo3 (APs n/a where stock gives 1.0)."""
    import contextlib
    import io
    import json

    import cv2
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    from yolo3.data.formats import load_dataset, save_dataset

    cv2.imwrite(str(tmp_path / "a.png"), np.zeros((100, 120, 3), np.uint8))
    gt = {"images": [{"id": 1, "file_name": "a.png", "width": 120, "height": 100}],
          "categories": [{"id": 1, "name": "p"}],
          "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [10, 10, 40, 40], "area": 900,
                           "iscrowd": 0},
                          {"id": 2, "image_id": 1, "category_id": 1, "bbox": [60, 10, 50, 80]}]}  # no area: the box's
    (tmp_path / "val.json").write_text(json.dumps(gt))
    boxes, scores = [[10, 10, 50, 50], [60, 10, 110, 90]], [0.9, 0.8]
    results = [{"image_id": 1, "category_id": 1, "bbox": [x1, y1, x2 - x1, y2 - y1], "score": s}
               for (x1, y1, x2, y2), s in zip(boxes, scores)]
    stock_gt = json.loads((tmp_path / "val.json").read_text())
    stock_gt["annotations"][1].update(area=4000, iscrowd=0)  # what pycocotools needs; the box's area
    (tmp_path / "stock.json").write_text(json.dumps(stock_gt))
    with contextlib.redirect_stdout(io.StringIO()):
        stock = COCO(str(tmp_path / "stock.json"))
        ev = COCOeval(stock, stock.loadRes(results), "bbox")
        ev.evaluate(), ev.accumulate(), ev.summarize()
    samples = load_dataset(tmp_path / "val.json").splits["val"]
    assert samples[0].areas.tolist() == [900.0, 4000.0]
    dets = [Detections(np.array(boxes, np.float32), np.array(scores, np.float32), np.zeros(2, int), ["p"],
                       (100, 120), "a")]
    ours = coco_metrics(samples, dets, ["p"])
    assert [ours[k] for k in COCO_METRIC_NAMES] == pytest.approx(list(ev.stats), abs=1e-12)
    assert ours["APs"] == pytest.approx(1.0) and ours["APm"] == pytest.approx(1.0)  # one small, one medium
    written = save_dataset(load_dataset(tmp_path / "val.json"), tmp_path / "out", "coco", images="none")
    assert [a["area"] for a in json.loads((written / "annotations" / "val.json").read_text())["annotations"]] == [
        900.0, 4000.0]
