"""VOC07 11-point and VOC2010 all-point AP on a hand-worked example; thresholds; confusion."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from yolo3.data.sample import Sample
from yolo3.eval.confusion import confusion_matrix, normalise_rows
from yolo3.eval.matching import match_dataset
from yolo3.eval.thresholds import best_f1_threshold, choose_thresholds, prf_at
from yolo3.eval.voc import VOC07_NAME, VOC10_NAME, voc_ap, voc_metrics
from yolo3.inference.results import Detections

NAMES = ["cell", "ghost", "rare"]


def _hand_case() -> tuple[list[Sample], list[Detections]]:
    """Class 0: GT g1, g2 and a difficult g3 in image A, g4 in image B (3 countable).

    Detections of class 0 by score: d1 .9 on g1 (TP), d2 .8 on g1 again (FP, duplicate),
    d3 .7 on difficult g3 (ignored), d4 .6 on g2 (TP), d5 .5 on nothing (FP), d6 .4 on g4
    (TP). Class 1 has a detection but no GT (AP undefined); class 2 has GT, no detection.
    """
    a = Sample(Path("a.jpg"), [[0, 0, 100, 100], [200, 0, 300, 100], [0, 200, 100, 300], [300, 300, 350, 350]],
               [0, 0, 0, 2], difficult=[False, False, True, False], image_size=(400, 400))
    b = Sample(Path("b.jpg"), [[50, 50, 150, 150]], [0], image_size=(400, 400))
    da = Detections(np.array([[0, 0, 100, 96], [2, 0, 100, 100], [0, 200, 98, 300], [200, 0, 296, 100],
                              [200, 200, 250, 250], [0, 0, 50, 50]], np.float32),
                    np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.3], np.float32), np.array([0, 0, 0, 0, 0, 1]), NAMES, (400, 400))
    db = Detections(np.array([[50, 50, 150, 148]], np.float32), np.array([0.4], np.float32), np.array([0]),
                    NAMES, (400, 400))
    return [a, b], [da, db]


def test_voc_ap_hand_worked() -> None:
    """Sequence TP FP TP FP TP over 3 GT: recall 1/3 1/3 2/3 2/3 1, precision 1 .5 2/3 .5 .6.

    VOC2010: envelope 1, 2/3, .6 over recall steps of 1/3 → (1 + 2/3 + .6)/3 = 34/45.
    VOC07: levels 0–.3 → 1, .4–.6 → 2/3, .7–1 → .6: (4 + 2 + 2.4)/11 = 8.4/11.
    """
    recall = np.array([1, 1, 2, 2, 3]) / 3
    precision = np.array([1, 1 / 2, 2 / 3, 1 / 2, 3 / 5])
    assert voc_ap(recall, precision, use_07_metric=False) == pytest.approx(34 / 45)
    assert voc_ap(recall, precision, use_07_metric=True) == pytest.approx(8.4 / 11)


def test_voc_metrics_hand_worked_with_difficult() -> None:
    samples, dets = _hand_case()
    m = voc_metrics(samples, dets, NAMES)
    assert m["AP@0.5(VOC2010)/cell"] == pytest.approx(34 / 45)
    assert m["AP@0.5(VOC07)/cell"] == pytest.approx(8.4 / 11)
    assert m["AP@0.5(VOC2010)/ghost"] == -1.0  # no GT: undefined, left out of the mean
    assert m["AP@0.5(VOC2010)/rare"] == 0.0
    assert m[VOC10_NAME] == pytest.approx((34 / 45 + 0) / 2)
    assert m[VOC07_NAME] == pytest.approx((8.4 / 11 + 0) / 2)


def test_matching_verdicts() -> None:
    samples, dets = _hand_case()
    match = match_dataset(samples, dets, 3)
    assert match.tp.tolist() == [True, False, False, True, False, False, True]
    assert match.ignored.tolist() == [False, False, True, False, False, False, False]
    assert match.n_gt.tolist() == [3, 0, 1]


def test_f1_optimal_threshold_hand_worked() -> None:
    """Class 0 after removing the ignored one: scores .9 .8 .6 .5 .4 with TP F T F T, 3 GT.

    F1 = 2·TP/(kept + 3): 2/4, 2/5, 4/6, 4/7, 6/8 → best keeps all five, threshold
    halfway between .4 and 0 = .2; P = 3/5, R = 1.
    """
    samples, dets = _hand_case()
    match = match_dataset(samples, dets, 3)
    thr, f1 = best_f1_threshold(match, 0)
    assert thr == pytest.approx(0.2) and f1 == pytest.approx(0.75)
    p, r, f = prf_at(match, 0, np.array([0.2, 0.65, 0.95]))
    np.testing.assert_allclose(p, [3 / 5, 1 / 2, 0])
    np.testing.assert_allclose(r, [1, 1 / 3, 0])
    np.testing.assert_allclose(f, [0.75, 0.4, 0])
    report = choose_thresholds(match)
    assert report.thresholds[0] == pytest.approx(0.2) and not report.fallback[0]
    assert report.fallback[1] and report.fallback[2]  # no GT / no TP: the global threshold
    assert report.thresholds[1] == report.global_threshold


def test_threshold_sits_between_scores_so_strict_comparison_keeps_the_chosen_set() -> None:
    s = Sample(Path("x.jpg"), [[0, 0, 10, 10], [20, 20, 30, 30]], [0, 0], image_size=(50, 50))
    det = Detections(np.array([[0, 0, 10, 10], [20, 20, 30, 30], [40, 40, 49, 49]], np.float32),
                     np.array([0.8, 0.6, 0.2], np.float32), np.array([0, 0, 0]), ["x"], (50, 50))
    thr, f1 = best_f1_threshold(match_dataset([s], [det], 1), 0)
    assert thr == pytest.approx(0.4) and f1 == pytest.approx(1.0)


def test_confusion_matrix_hand_worked() -> None:
    """Image: GT cat(0) and dog(1). Detections: cat on the cat (.9), cat on the dog (.8),
    dog on empty space (.7), dog below its threshold (.1)."""
    s = Sample(Path("x.jpg"), [[0, 0, 10, 10], [20, 20, 30, 30], [40, 0, 50, 10]], [0, 1, 1], image_size=(60, 60))
    det = Detections(np.array([[0, 0, 10, 10], [20, 20, 30, 31], [40, 40, 50, 50], [40, 0, 50, 10]], np.float32),
                     np.array([0.9, 0.8, 0.7, 0.1], np.float32), np.array([0, 0, 1, 1]), ["cat", "dog"], (60, 60))
    m = confusion_matrix([s], [det], 2, np.array([0.5, 0.5]))
    expected = np.array([[1, 0, 0],   # true cat: found as cat
                         [1, 0, 1],   # true dog: once called cat, once missed
                         [0, 1, 0]])  # background: one dog false positive
    np.testing.assert_array_equal(m, expected)
    np.testing.assert_allclose(normalise_rows(m)[1], [0.5, 0, 0.5])
