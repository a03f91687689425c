"""Decoded predictions → final detections (SPEC §8.1).

score = objectness × class probability → threshold (global or per class, optional class
subset) → NMS (class-aware by default) → at most `max_det` per image.
"""

from __future__ import annotations

import dataclasses
import math

import torch

from yolo3.ops.nms import batched_nms, nms, soft_nms


NMS_METHODS = ("class_aware", "agnostic", "diou", "soft")


@dataclasses.dataclass
class NMSConfig:
    """Post-processing settings.

    conf_threshold: minimum score (obj × cls) of a candidate.
    iou_threshold: NMS overlap threshold.
    max_det: detections kept per image.
    max_candidates: top-scoring candidates that enter NMS (bounds the cost).
    class_thresholds: optional per-class minimum scores (length C), replacing the
        global one where given.
    classes: optional subset of class ids; all other classes are never scored.
    method: `class_aware`, `agnostic`, `diou` (class-aware DIoU-NMS) or `soft`
        (class-aware Gaussian soft-NMS).
    soft_sigma: σ of soft-NMS.
    """

    conf_threshold: float = 0.25
    iou_threshold: float = 0.45
    max_det: int = 300
    max_candidates: int = 30000
    class_thresholds: list[float] | None = None
    classes: list[int] | None = None
    method: str = "class_aware"
    soft_sigma: float = 0.5

    def __post_init__(self) -> None:
        """Numbers are checked where they enter: NaN or out-of-range thresholds would
        silently keep everything or nothing."""
        for name in ("conf_threshold", "iou_threshold"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and 0 <= value <= 1):
                raise ValueError(f"NMSConfig.{name} = {value!r}: must be a number between 0 and 1")
        if self.max_det < 1 or self.max_candidates < 1:
            raise ValueError(f"NMSConfig: max_det ({self.max_det}) and max_candidates ({self.max_candidates}) "
                             "must be at least 1")
        if self.method not in NMS_METHODS:
            raise ValueError(f"NMSConfig.method = {self.method!r}: use one of {', '.join(NMS_METHODS)}")
        if not (math.isfinite(self.soft_sigma) and self.soft_sigma > 0):
            raise ValueError(f"NMSConfig.soft_sigma = {self.soft_sigma!r}: must be a number greater than 0")


def candidates(pred: torch.Tensor, cfg: NMSConfig) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """One image's decoded predictions (N, 5+C) → (boxes (K, 4), scores (K,), labels (K,)).

    Multi-label: a box yields one candidate per class whose score passes its threshold.
    Since class probabilities are ≤ 1, score = obj × cls > t implies obj > t (also in
    floating point: rounding is monotonic), so rows are first cut to those whose
    objectness passes the lowest threshold; obj × cls is computed only for them, not for
    the whole (N, C) grid (10647 × 80 on yolov3 @416). Same candidates, same order.
    """
    num_classes = pred.shape[1] - 5
    thresholds = torch.full((num_classes,), cfg.conf_threshold, dtype=pred.dtype, device=pred.device)
    if cfg.class_thresholds is not None:
        if len(cfg.class_thresholds) != num_classes:
            raise ValueError(f"class_thresholds has {len(cfg.class_thresholds)} values for {num_classes} classes")
        thresholds = torch.as_tensor(cfg.class_thresholds, dtype=pred.dtype, device=pred.device)
    allowed = None
    if cfg.classes is not None:
        allowed = torch.zeros(num_classes, dtype=torch.bool, device=pred.device)
        allowed[torch.as_tensor(cfg.classes, dtype=torch.long, device=pred.device)] = True
    lowest = thresholds[allowed].min() if allowed is not None and allowed.any() else thresholds.min()
    rows = (pred[:, 4] > lowest).nonzero(as_tuple=True)[0]
    sub = pred[rows]
    # A box that overflowed (exp(tw) = inf, or NaN from a diverged model) is never a detection.
    # Checked on the surviving rows only: ops over the whole grid exceed torch's parallel
    # grain size and wait for worker threads, milliseconds each when the cores are busy.
    finite = torch.isfinite(sub[:, :4]).all(1)
    if not bool(finite.all()):
        rows, sub = rows[finite], sub[finite]
    scores = sub[:, 4:5] * sub[:, 5:]  # (R, C)
    mask = scores > thresholds
    if allowed is not None:
        mask &= allowed
    row_idx, labels = mask.nonzero(as_tuple=True)
    box_idx = rows[row_idx]
    cand_scores = scores[row_idx, labels]
    if cand_scores.numel() > cfg.max_candidates:
        top = torch.topk(cand_scores, cfg.max_candidates).indices
        box_idx, labels, cand_scores = box_idx[top], labels[top], cand_scores[top]
    return pred[box_idx, :4], cand_scores, labels


def select(
    boxes: torch.Tensor, scores: torch.Tensor, labels: torch.Tensor, cfg: NMSConfig
) -> tuple[torch.Tensor, torch.Tensor]:
    """The NMS step on one image's candidates → (kept indices (K,), their scores (K,)).

    Scores change only with soft-NMS (decayed scores); kept indices are by decreasing
    score and at most `cfg.max_det`.
    """
    if cfg.method == "soft":
        keep_parts, score_parts = [], []
        for cls in labels.unique():
            idx = (labels == cls).nonzero(as_tuple=True)[0]
            kept, new_scores = soft_nms(boxes[idx], scores[idx], cfg.soft_sigma, cfg.conf_threshold)
            keep_parts.append(idx[kept])
            score_parts.append(new_scores)
        keep = torch.cat(keep_parts) if keep_parts else labels.new_zeros(0)
        new = torch.cat(score_parts) if score_parts else scores.new_zeros(0)
        order = torch.argsort(new, descending=True, stable=True)[: cfg.max_det]
        return keep[order], new[order]
    if cfg.method == "agnostic":
        keep = nms(boxes, scores, cfg.iou_threshold, cfg.max_det)
    elif cfg.method in ("class_aware", "diou"):
        kind = "diou" if cfg.method == "diou" else "iou"
        keep = batched_nms(boxes, scores, labels, cfg.iou_threshold, cfg.max_det, kind)
    else:
        raise ValueError(f"unknown NMS method {cfg.method!r}; use class_aware, agnostic, diou or soft")
    return keep, scores[keep]


def postprocess(preds: torch.Tensor, cfg: NMSConfig) -> list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    """Batched decoded predictions (B, N, 5+C) → per image (boxes xyxy, scores, labels).

    Boxes stay in network-input pixels; mapping to the original image is the caller's
    (see `yolo3.data.letterbox.boxes_from_letterbox`).
    """
    results = []
    for pred in preds:
        boxes, scores, labels = candidates(pred.float(), cfg)
        keep, kept_scores = select(boxes, scores, labels, cfg)
        results.append((boxes[keep], kept_scores, labels[keep]))
    return results
