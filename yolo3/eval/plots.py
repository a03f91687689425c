"""Validation plots (SPEC §7.2): PR curves, F1–confidence curves, confusion matrices,
and a grid of images with ground truth beside predictions. Matplotlib Agg, PNG files."""

from __future__ import annotations

from pathlib import Path

import cv2
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from yolo3.data.image_io import MAX_PIXELS, read_image, write_image  # noqa: E402
from yolo3.data.sample import Sample  # noqa: E402
from yolo3.eval.confusion import normalise_rows  # noqa: E402
from yolo3.eval.matching import MatchResult, class_curve  # noqa: E402
from yolo3.eval.thresholds import CONF_GRID, f1_curves  # noqa: E402
from yolo3.inference.draw import draw_boxes  # noqa: E402
from yolo3.inference.results import Detections  # noqa: E402
from yolo3.io.checkpoint import save_figure  # noqa: E402

RECALL_GRID = np.linspace(0.0, 1.0, 101)


def interpolated_pr(match: MatchResult, cls: int) -> np.ndarray | None:
    """Precision envelope of one class on RECALL_GRID (101,), or None without GT."""
    n_gt = match.n_gt[cls]
    if n_gt == 0:
        return None
    _, tp, fp = class_curve(match, cls)
    if len(tp) == 0:
        return np.zeros_like(RECALL_GRID)
    recall, precision = tp / n_gt, tp / (tp + fp)
    envelope = np.maximum.accumulate(precision[::-1])[::-1]
    idx = np.searchsorted(recall, RECALL_GRID, side="left")
    return np.where(idx < len(envelope), envelope[np.minimum(idx, len(envelope) - 1)], 0.0)


def plot_pr_curves(match: MatchResult, class_names: list[str], ap50: list[float], path: Path | None,
                   metric: str = "COCO 101-point") -> plt.Figure:
    """Precision–recall at IoU 0.5 per class and their mean; saved to `path` when given.

    ap50: per-class AP@0.5 shown in the legend, computed as `metric` says (default: the
    COCO 101-point interpolation of the headline mAP@0.5, the same the curves sample).
    """
    fig, ax = plt.subplots(figsize=(7, 5), dpi=100)
    curves = []
    for c, name in enumerate(class_names):
        curve = interpolated_pr(match, c)
        if curve is not None:
            curves.append(curve)
            ax.plot(RECALL_GRID, curve, lw=1, label=f"{name} AP@0.5={ap50[c]:.3f}")
    if curves:
        valid = [a for a in ap50 if a >= 0]
        ax.plot(RECALL_GRID, np.mean(curves, axis=0), lw=3, color="k",
                label=f"all classes mAP@0.5={np.mean(valid) if valid else 0:.3f}")
    ax.set(xlabel="recall", ylabel="precision", xlim=(0, 1), ylim=(0, 1.02),
           title=f"Precision–recall (IoU 0.5); AP in the legend: {metric}")
    ax.legend(loc="lower left", fontsize=8, title=f"AP@0.5 ({metric})", title_fontsize=8)
    if path is not None:
        save_figure(fig, path)
        plt.close(fig)
    return fig


def plot_f1_curves(match: MatchResult, class_names: list[str], thresholds: np.ndarray, path: Path) -> None:
    """F1 against confidence threshold per class and their mean; chosen thresholds marked."""
    _, _, f1 = f1_curves(match, CONF_GRID)
    fig, ax = plt.subplots(figsize=(7, 5), dpi=100)
    for c, name in enumerate(class_names):
        line, = ax.plot(CONF_GRID, f1[c], lw=1, label=f"{name} (t={thresholds[c]:.3f})")
        ax.axvline(thresholds[c], color=line.get_color(), lw=0.7, ls="--")
    has_gt = match.n_gt > 0
    if has_gt.any():
        mean = f1[has_gt].mean(axis=0)
        best = int(np.argmax(mean))
        ax.plot(CONF_GRID, mean, lw=3, color="k", label=f"mean F1 {mean[best]:.3f} at {CONF_GRID[best]:.3f}")
    ax.set(xlabel="confidence threshold", ylabel="F1", xlim=(0, 1), ylim=(0, 1.02), title="F1–confidence (IoU 0.5)")
    ax.legend(loc="upper right", fontsize=8)
    save_figure(fig, path)
    plt.close(fig)


def cell_text_colors(data: np.ndarray, cmap: str = "Blues") -> np.ndarray:
    """(n, n) of 'white' or 'black': the colour that reads on each cell of `data` drawn
    with `cmap` (white where the cell's relative luminance is below 0.5)."""
    norm = matplotlib.colors.Normalize(vmin=float(np.min(data)), vmax=float(np.max(data)) or 1.0)
    rgb = plt.get_cmap(cmap)(norm(np.asarray(data, np.float64)))[..., :3]
    luminance = rgb @ np.array([0.2126, 0.7152, 0.0722])
    return np.where(luminance < 0.5, "white", "black")


def _threshold_text(thresholds: np.ndarray | None) -> str:
    if thresholds is None or len(thresholds) == 0:
        return "conf: class thresholds"
    lo, hi = float(np.min(thresholds)), float(np.max(thresholds))
    if np.isclose(lo, hi):
        return f"conf > {lo:.3f}"
    return f"conf > per-class F1-optimal threshold ({lo:.3f}–{hi:.3f})"


CONFUSION_MAX_CELLS = 20
"""Rows beyond which the confusion cells shrink (and their numbers with them), so that
80 classes draw a figure of about 5000 × 2200 px instead of 19640 × 8300."""


def plot_confusion(matrix: np.ndarray, class_names: list[str], path: Path | None,
                   thresholds: np.ndarray | None = None, iou: float = 0.5) -> plt.Figure:
    """Counts and row-normalised confusion matrices side by side; the title gives the
    confidence and IoU thresholds the detections were paired with. Saved when `path` is given."""
    labels = list(class_names) + ["background"]
    n = len(labels)
    shrink = min(1.0, CONFUSION_MAX_CELLS / n)
    cell_font = 8 * min(1.0, 2.5 * shrink)
    fig, axes = plt.subplots(1, 2, figsize=(2 + 1.2 * n * 2 * shrink, 2 + n * shrink), dpi=100)
    for ax, data, title, fmt in ((axes[0], matrix, "counts", "d"),
                                 (axes[1], normalise_rows(matrix), "normalised by true class", ".2f")):
        ax.imshow(data, cmap="Blues")
        colors = cell_text_colors(data)
        for i in range(n):
            for j in range(n):
                ax.text(j, i, format(data[i, j], fmt), ha="center", va="center", fontsize=cell_font,
                        color=colors[i, j])
        ax.set(xticks=range(n), yticks=range(n), xlabel="predicted", ylabel="true", title=title)
        ax.set_xticklabels(labels, rotation=45, ha="right", fontsize=8)
        ax.set_yticklabels(labels, fontsize=8)
    fig.suptitle(f"Confusion matrix: {_threshold_text(thresholds)}, matched at IoU > {iou:g}")
    fig.tight_layout()
    if path is not None:
        save_figure(fig, path)
        plt.close(fig)
    return fig


GRID_HEADERS = ("ground truth", "predictions (score > class threshold)")
HEADER_HEIGHT = 28


def plot_image_grid(
    samples: list[Sample], detections: list[Detections], class_names: list[str],
    thresholds: np.ndarray, path: Path | None, max_images: int = 8, tile: int = 320,
    max_pixels: int | None = MAX_PIXELS,
) -> np.ndarray | None:
    """Up to `max_images` rows: ground truth (left) beside predictions above threshold
    (right), under a header row naming the columns. Returns the (H, W, 3) RGB grid
    (None without images) and writes it to `path` when given; images are read with the
    cap `max_pixels` (the evaluation's)."""
    rows = []
    for s, det in list(zip(samples, detections))[:max_images]:
        image = read_image(s.image_path, max_pixels)
        keep = det.scores > np.asarray(thresholds)[det.class_ids] if len(det) else np.zeros(0, bool)
        scale = tile / max(image.shape[:2])
        size = (max(1, round(image.shape[1] * scale)), max(1, round(image.shape[0] * scale)))
        small = cv2.resize(image, size, interpolation=cv2.INTER_AREA)  # draw after resizing: labels stay legible
        pair = [draw_boxes(small, s.boxes * scale, s.class_ids, class_names)[0],
                draw_boxes(small, det.boxes[keep] * scale, det.class_ids[keep], class_names, det.scores[keep])[0]]
        canvas = np.full((tile, 2 * tile + 4, 3), 255, np.uint8)
        canvas[: size[1], : size[0]] = pair[0]
        canvas[: size[1], tile + 4 : tile + 4 + size[0]] = pair[1]
        rows.append(canvas)
    if not rows:
        return None
    header = np.full((HEADER_HEIGHT, 2 * tile + 4, 3), 255, np.uint8)
    for k, text in enumerate(GRID_HEADERS):
        cv2.putText(header, text, (k * (tile + 4) + 6, HEADER_HEIGHT - 9), cv2.FONT_HERSHEY_SIMPLEX, 0.55, (0, 0, 0),
                    1, cv2.LINE_AA)
    grid = np.concatenate([header, *rows], axis=0)
    if path is not None:
        write_image(grid, path)  # raises naming the file; cv2.imwrite would return False
    return grid
