"""Anchors and target assignment (SPEC §2, §3): which prediction is responsible for which GT."""

from yolo3.assign.anchors import (
    AnchorCheck,
    AnchorFit,
    AnchorFitness,
    anchor_fitness,
    check_anchors,
    fit_anchors,
    genetic_refine,
    kmeans_anchors,
    letterboxed_wh,
)
from yolo3.assign.atss import assign_atss, atss_candidates, atss_threshold
from yolo3.assign.ignore import ignore_mask, pad_targets_per_image
from yolo3.assign.paper import assign_paper
from yolo3.assign.targets import Assignment, ScaleTargets
from yolo3.assign.v5 import assign_v5

__all__ = [
    "AnchorCheck", "AnchorFit", "AnchorFitness", "Assignment", "ScaleTargets", "anchor_fitness", "assign_atss",
    "assign_paper", "atss_candidates", "atss_threshold",
    "assign_v5", "check_anchors", "fit_anchors", "genetic_refine", "ignore_mask", "kmeans_anchors",
    "letterboxed_wh", "pad_targets_per_image",
]
