"""Per-request detection controls from form fields / query parameters (SPEC §8.2).

conf, iou (floats in [0, 1]), max_det (int ≥ 1), classes (names or ids: "cat,dog",
"0,2" or a JSON list), thresholds ("auto" = the checkpoint's per-class thresholds, or
comma-separated floats, one per class), roi (JSON polygon [[x, y], ...] or a list of
polygons, in original image pixels). Every mistake is a ValueError with one line naming
the field and the fix; the server answers it with 422.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Mapping

import numpy as np

from yolo3.inference.detector import Detector
from yolo3.inference.postprocess import NMSConfig
from yolo3.inference.roi import ROI, make_roi
from yolo3.io.text import parse_json_text

FIELDS = ("conf", "iou", "max_det", "classes", "thresholds", "roi")


@dataclasses.dataclass
class Controls:
    """One request's post-processing: the NMSConfig a `Detector` call would use, and its ROI."""

    cfg: NMSConfig
    roi: ROI | None = None


def parse_controls(fields: Mapping[str, str], detector: Detector) -> Controls:
    """Form/query fields → Controls, validated against the detector's classes."""
    unknown = sorted(set(fields) - set(FIELDS))
    if unknown:
        raise ValueError(f"unknown field(s) {', '.join(unknown)}; accepted: image, {', '.join(FIELDS)}")
    base = detector.nms
    cfg = dataclasses.replace(
        base,
        conf_threshold=_number(fields, "conf", base.conf_threshold, float, 0.0, 1.0),
        iou_threshold=_number(fields, "iou", base.iou_threshold, float, 0.0, 1.0),
        max_det=_number(fields, "max_det", base.max_det, int, 1, 100_000),
    )
    classes = _list(fields["classes"], "classes") if fields.get("classes", "").strip() else None
    thresholds: Any = None
    if fields.get("thresholds", "").strip():
        text = fields["thresholds"].strip()
        thresholds = text if text == "auto" else [_float_item(v, "thresholds") for v in _list(text, "thresholds")]
    try:
        ids = detector.class_ids(classes) if classes is not None else None
    except ValueError as err:
        raise ValueError(f"classes: {err}") from None
    try:
        cfg = detector.call_config(cfg, ids, thresholds)
    except ValueError as err:
        raise ValueError(f"thresholds: {err}") from None
    roi = _roi(fields["roi"]) if fields.get("roi", "").strip() else None
    return Controls(cfg, roi)


def _number(fields: Mapping[str, str], name: str, default: Any, kind: type, low: float, high: float) -> Any:
    text = fields.get(name, "").strip()
    if not text:
        return default
    try:
        value = kind(text)
    except ValueError:
        raise ValueError(f"{name}={text!r} is not {'an integer' if kind is int else 'a number'}") from None
    if not low <= value <= high:
        raise ValueError(f"{name}={text} is out of range; use {low:g} to {high:g}")
    return value


def _list(text: str, name: str) -> list[Any]:
    """'a,b' or a JSON list → list of items (strings or numbers)."""
    text = text.strip()
    if text.startswith("["):
        items = parse_json_text(text, name, 'a list like ["cat", 2] or cat,2')
        if not isinstance(items, list) or not all(isinstance(v, (str, int, float)) for v in items):
            raise ValueError(f"{name}: expected a flat JSON list of names or numbers")
        return [str(v) if isinstance(v, int) else v for v in items]
    return [v.strip() for v in text.split(",") if v.strip()]


def _float_item(value: Any, name: str) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name}: {value!r} is not a number; use 'auto' or one number per class") from None


def _roi(text: str) -> ROI:
    """JSON polygon [[x, y], ...] or polygons [[[x, y], ...], ...] in original pixels → ROI."""
    spec = parse_json_text(text, "roi", "[[x, y], [x, y], [x, y], ...]")
    if isinstance(spec, list) and spec and isinstance(spec[0], list) and spec[0] and not isinstance(spec[0][0], list):
        spec = [spec]  # one polygon
    if not isinstance(spec, list) or not spec:
        raise ValueError("roi: expected a polygon [[x, y], ...] (at least 3 vertices) or a list of polygons")
    try:
        roi = make_roi(spec)
    except (ValueError, TypeError) as err:
        raise ValueError(f"roi: {err}") from None
    if any(not np.isfinite(p).all() for p in roi.polygons or []):
        raise ValueError("roi: vertices must be finite numbers (x, y in original image pixels)")
    return roi
