"""Human and machine reports of a validation run: text tables, plots, summary.json."""

from __future__ import annotations

import dataclasses
import datetime
import json
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING, Any

from yolo3.data.sample import Sample
from yolo3.eval.coco import COCO_METRIC_NAMES
from yolo3.eval.voc import VOC07_NAME, VOC10_NAME
from yolo3.inference.postprocess import NMSConfig

if TYPE_CHECKING:
    from yolo3.eval.evaluate import EvalResult


LABELS = {"APs": "APs (small, @0.5:0.95)", "APm": "APm (medium, @0.5:0.95)", "APl": "APl (large, @0.5:0.95)",
          "ARs": "ARs (small, 100 dets)", "ARm": "ARm (medium, 100 dets)", "ARl": "ARl (large, 100 dets)"}


def fmt(value: float) -> str:
    """A metric for printing: -1 (undefined in pycocotools' convention) is 'n/a'."""
    return "n/a" if value is None or value < 0 else f"{value:.4f}"


def _nms_line(label: str, nms: NMSConfig) -> str:
    return (f"{label}: conf>{nms.conf_threshold:g}, NMS IoU {nms.iou_threshold:g} ({nms.method}), "
            f"max {nms.max_det} detections/image")


def format_result(result: EvalResult, detect_nms: NMSConfig | None = None) -> str:
    """Metrics, per-class table and threshold comparison as plain text."""
    from yolo3.eval.evaluate import DETECT_NMS

    m, rep = result.metrics, result.thresholds
    lines = [_nms_line("evaluation settings", result.nms),
             _nms_line("detect defaults (not used here)", detect_nms or DETECT_NMS), ""]
    lines += [f"{LABELS.get(name, name):<28} {fmt(m[name])}" for name in COCO_METRIC_NAMES + (VOC07_NAME, VOC10_NAME)]
    lines += ["", f"{'class':<16}{'boxes':>7}{'AP@0.5:0.95':>13}{'AP@0.5':>9}{'AP@0.5 VOC07':>14}{'AP@0.5 VOC10':>14}"]
    for c, name in enumerate(result.class_names):
        lines.append(f"{name[:15]:<16}{result.n_gt[c]:>7}{fmt(m[f'AP@0.5:0.95/{name}']):>13}"
                     f"{fmt(m[f'AP@0.5/{name}']):>9}{fmt(m[f'AP@0.5(VOC07)/{name}']):>14}"
                     f"{fmt(m[f'AP@0.5(VOC2010)/{name}']):>14}")
    lines += ["", f"per-class F1-optimal thresholds vs one global threshold ({rep.global_threshold:.3f}), IoU 0.5:",
              f"{'class':<16}{'threshold':>10}{'P':>8}{'R':>8}{'F1':>8}   |{'P@global':>9}{'R@global':>9}{'F1@global':>10}"]
    for c, name in enumerate(result.class_names):
        note = " (fallback: global)" if rep.fallback[c] else ""
        lines.append(f"{name[:15]:<16}{rep.thresholds[c]:>10.4f}{rep.precision_class[c]:>8.3f}{rep.recall_class[c]:>8.3f}"
                     f"{rep.f1_class[c]:>8.3f}   |{rep.precision_global[c]:>9.3f}{rep.recall_global[c]:>9.3f}"
                     f"{rep.f1_global[c]:>10.3f}{note}")
    if result.timings:
        lines += ["", "time: " + ", ".join(f"{k[:-2]} {v:.3f} s" for k, v in result.timings.items())]
    return "\n".join(lines)


def save_plots(result: EvalResult, samples: list[Sample], out_dir: Path) -> list[Path]:
    """PR curves, F1 curves, confusion matrices and the image grid into out_dir."""
    from yolo3.eval import plots
    from yolo3.eval.matching import match_dataset

    names = result.class_names
    match = match_dataset(samples, result.detections, len(names), 0.5)
    paths = [out_dir / n for n in ("pr_curve.png", "f1_curve.png", "confusion_matrix.png", "val_images.jpg")]
    plots.plot_pr_curves(match, names, [result.metrics[f"AP@0.5(VOC2010)/{n}"] for n in names], paths[0])
    plots.plot_f1_curves(match, names, result.thresholds.thresholds, paths[1])
    plots.plot_confusion(result.confusion, names, paths[2])
    plots.plot_image_grid(samples, result.detections, names, result.thresholds.thresholds, paths[3])
    return paths


def git_commit(cwd: Path | None = None) -> str | None:
    """`git rev-parse HEAD` of the code, or None outside a git checkout."""
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=cwd or Path(__file__).parent,
                             capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def summary_dict(result: EvalResult, run_info: dict[str, Any]) -> dict[str, Any]:
    """JSON-ready summary: metrics, per-class numbers, thresholds, settings, provenance."""
    rep = result.thresholds
    per_class = [
        {"class_id": c, "name": n, "boxes": result.n_gt[c],
         "AP@0.5:0.95": result.per_class_ap[n], "AP@0.5": result.per_class_ap50[n],
         "threshold": float(rep.thresholds[c]), "threshold_is_fallback": bool(rep.fallback[c]),
         "precision": float(rep.precision_class[c]), "recall": float(rep.recall_class[c]),
         "precision@global": float(rep.precision_global[c]), "recall@global": float(rep.recall_global[c])}
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
    path.write_text(json.dumps(summary_dict(result, run_info), indent=2, allow_nan=False) + "\n")
