"""Human and machine reports of a validation run: text tables, plots, summary.json."""

from __future__ import annotations

import dataclasses
import datetime
import json
import subprocess
import time
from pathlib import Path
from typing import Any

from yolo3.data.image_io import MAX_PIXELS
from yolo3.data.sample import Sample
from yolo3.eval.coco import COCO_METRIC_NAMES
from yolo3.eval.voc import VOC07_NAME, VOC10_NAME
from yolo3.eval.result import DETECT_NMS, EvalResult
from yolo3.inference.postprocess import NMSConfig
from yolo3.io.checkpoint import atomic_write


LABELS = {"APs": "APs (small, @0.5:0.95)", "APm": "APm (medium, @0.5:0.95)", "APl": "APl (large, @0.5:0.95)",
          "ARs": "ARs (small, 100 dets)", "ARm": "ARm (medium, 100 dets)", "ARl": "ARl (large, 100 dets)"}


def fmt(value: float) -> str:
    """A metric for printing: -1 (undefined in pycocotools' convention) is 'n/a'."""
    return "n/a" if value is None or value < 0 else f"{value:.4f}"


def _nms_line(label: str, nms: NMSConfig) -> str:
    return (f"{label}: conf>{nms.conf_threshold:g}, NMS IoU {nms.iou_threshold:g} ({nms.method}), "
            f"max {nms.max_det} detections/image")


MIN_STABLE_BOXES = 20
"""Ground-truth boxes a class needs for a stable AP: with n boxes, finding or missing
one more moves recall (and so AP) by up to 1/n, more than 0.05 below 20 boxes."""


def few_boxes_warnings(n_gt: list[int], class_names: list[str], min_boxes: int = MIN_STABLE_BOXES) -> list[str]:
    """Lines warning about classes (and a split) with too few ground-truth boxes for a stable AP."""
    few = [(name, n) for name, n in zip(class_names, n_gt) if 0 < n < min_boxes]
    lines = []
    if 0 < sum(n_gt) < min_boxes:
        lines.append(f"warning: the split has only {sum(n_gt)} ground-truth boxes; its mAP is rough (one box more "
                     f"or less moves a class's AP by up to 1/n; fewer than {min_boxes} boxes is more than 0.05)")
    if few:
        lines.append(f"warning: classes marked * have fewer than {min_boxes} ground-truth boxes, so one box found "
                     "or missed moves their AP by more than 0.05 (1/n): " + ", ".join(f"{a} ({n})" for a, n in few))
    return lines


def format_result(result: EvalResult, detect_nms: NMSConfig | None = None) -> str:
    """Metrics, per-class table and threshold comparison as plain text (class names in
    full; classes with fewer than MIN_STABLE_BOXES boxes marked * and warned about)."""
    m, rep = result.metrics, result.thresholds
    marks = ["*" if 0 < n < MIN_STABLE_BOXES else "" for n in result.n_gt]
    shown = [name + mark for name, mark in zip(result.class_names, marks)]
    w = max([len("class"), *map(len, shown)]) + 2
    lines = [_nms_line("evaluation settings", result.nms),
             _nms_line("detect defaults (not used here)", detect_nms or DETECT_NMS), ""]
    lines += [f"{LABELS.get(name, name):<28} {fmt(m[name])}" for name in COCO_METRIC_NAMES + (VOC07_NAME, VOC10_NAME)]
    lines += ["", f"{'class':<{w}}{'boxes':>7}{'AP@0.5:0.95':>13}{'AP@0.5':>9}{'AP@0.5 VOC07':>14}{'AP@0.5 VOC10':>14}"]
    for c, name in enumerate(result.class_names):
        lines.append(f"{shown[c]:<{w}}{result.n_gt[c]:>7}{fmt(m[f'AP@0.5:0.95/{name}']):>13}"
                     f"{fmt(m[f'AP@0.5/{name}']):>9}{fmt(m[f'AP@0.5(VOC07)/{name}']):>14}"
                     f"{fmt(m[f'AP@0.5(VOC2010)/{name}']):>14}")
    lines += few_boxes_warnings(result.n_gt, result.class_names)
    lines += ["", f"per-class F1-optimal thresholds vs one global threshold ({rep.global_threshold:.3f}), IoU 0.5:",
              f"{'class':<{w}}{'threshold':>10}{'P':>8}{'R':>8}{'F1':>8}   |{'P@global':>9}{'R@global':>9}{'F1@global':>10}"]
    for c, name in enumerate(result.class_names):
        note = " (fallback: global)" if rep.fallback[c] else ""
        lines.append(f"{shown[c]:<{w}}{rep.thresholds[c]:>10.4f}{rep.precision_class[c]:>8.3f}{rep.recall_class[c]:>8.3f}"
                     f"{rep.f1_class[c]:>8.3f}   |{rep.precision_global[c]:>9.3f}{rep.recall_global[c]:>9.3f}"
                     f"{rep.f1_global[c]:>10.3f}{note}")
    if result.timings:
        lines += ["", "time: " + ", ".join(f"{k[:-2]} {v:.3f} s" for k, v in result.timings.items())]
    return "\n".join(lines)


def save_plots(result: EvalResult, samples: list[Sample], out_dir: Path,
               max_pixels: int | None = MAX_PIXELS) -> list[Path]:
    """PR curves, F1 curves, confusion matrices and the image grid (images read with the
    cap `max_pixels`) into out_dir."""
    from yolo3.eval import plots
    from yolo3.eval.matching import match_dataset

    names = result.class_names
    match = match_dataset(samples, result.detections, len(names), 0.5)
    paths = [out_dir / n for n in ("pr_curve.png", "f1_curve.png", "confusion_matrix.png", "val_images.jpg")]
    plots.plot_pr_curves(match, names, [result.metrics[f"AP@0.5/{n}"] for n in names], paths[0])  # as the headline
    plots.plot_f1_curves(match, names, result.thresholds.thresholds, paths[1])
    plots.plot_confusion(result.confusion, names, paths[2], result.thresholds.thresholds)
    plots.plot_image_grid(samples, result.detections, names, result.thresholds.thresholds, paths[3],
                          max_pixels=max_pixels)
    return paths


def git_commit(cwd: Path | None = None) -> str | None:
    """`git rev-parse HEAD` of the code (the folder `cwd`, default this module's), or None
    where git does not track it: outside a checkout, or an installed copy that merely sits
    inside another project's checkout (a .venv), whose HEAD is not the code's commit."""
    where = cwd or Path(__file__).parent
    try:
        tracked = subprocess.run(["git", "ls-files", "--", "."], cwd=where, capture_output=True, text=True, timeout=10)
        if tracked.returncode != 0 or not tracked.stdout.strip():
            return None
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=where, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def summary_dict(result: EvalResult, run_info: dict[str, Any]) -> dict[str, Any]:
    """JSON-ready summary: metrics, per-class numbers, thresholds, settings, provenance."""
    rep = result.thresholds
    per_class = [
        {"class_id": c, "name": n, "boxes": result.n_gt[c],
         "AP@0.5:0.95": result.per_class_ap[n], "AP@0.5": result.per_class_ap50[n],
         "AP@0.5(VOC07)": result.metrics[f"AP@0.5(VOC07)/{n}"], "AP@0.5(VOC2010)": result.metrics[f"AP@0.5(VOC2010)/{n}"],
         "threshold": float(rep.thresholds[c]), "threshold_is_fallback": bool(rep.fallback[c]),
         "precision": float(rep.precision_class[c]), "recall": float(rep.recall_class[c]), "f1": float(rep.f1_class[c]),
         "precision@global": float(rep.precision_global[c]), "recall@global": float(rep.recall_global[c]),
         "f1@global": float(rep.f1_global[c])}
        for c, n in enumerate(result.class_names)
    ]
    return {
        "metrics": {k: v for k, v in result.metrics.items() if "/" not in k},
        "per_class": per_class,
        "class_thresholds": result.class_thresholds,
        "global_threshold": rep.global_threshold,
        "confusion_matrix": {"labels": result.class_names + ["background"], "rows": "true", "columns": "predicted",
                             "counts": result.confusion.tolist()},
        "settings": {"imgsz": result.imgsz, "nms": dataclasses.asdict(result.nms)},
        "images": len(result.detections),
        "timings_s": result.timings,
        "commit": git_commit(),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        **run_info,
    }


def write_summary(result: EvalResult, path: Path, run_info: dict[str, Any]) -> None:
    """Writes summary.json (strict JSON: undefined metrics are -1, never NaN)."""
    text = json.dumps(summary_dict(result, run_info), indent=2, allow_nan=False) + "\n"
    atomic_write(path, lambda tmp: Path(tmp).write_text(text))


def save_run(result: EvalResult, samples: list[Sample], out_dir: Path, plots: bool, run_info: dict[str, Any],
             max_pixels: int | None = MAX_PIXELS) -> None:
    """An evaluation's folder: the plots (when asked; their time goes into the timings as
    plots_s; images read with the cap `max_pixels`) and summary.json, for `evaluate` and
    `evaluate_detector` alike."""
    out_dir.mkdir(parents=True, exist_ok=True)
    if plots:
        t0 = time.perf_counter()
        save_plots(result, samples, out_dir, max_pixels)
        result.timings["plots_s"] = time.perf_counter() - t0
    write_summary(result, out_dir / "summary.json", run_info)
