"""Validation plots (SPEC §7.2): PR curves, F1–confidence curves, confusion matrices,
and a grid of images with ground truth beside predictions. Matplotlib Agg, PNG files."""

from __future__ import annotations

from pathlib import Path

import cv2
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from yolo3.data.image_io import read_image  # noqa: E402
from yolo3.data.sample import Sample  # noqa: E402
from yolo3.eval.confusion import normalise_rows  # noqa: E402
from yolo3.eval.matching import MatchResult, class_curve  # noqa: E402
from yolo3.eval.thresholds import CONF_GRID, f1_curves  # noqa: E402
from yolo3.inference.results import Detections  # noqa: E402

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


def plot_pr_curves(match: MatchResult, class_names: list[str], ap50: list[float], path: Path) -> None:
    """Precision–recall at IoU 0.5 per class and their mean."""
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
    ax.set(xlabel="recall", ylabel="precision", xlim=(0, 1), ylim=(0, 1.02), title="Precision–recall (IoU 0.5)")
    ax.legend(loc="lower left", fontsize=8)
    fig.savefig(path)
    plt.close(fig)


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
    fig.savefig(path)
    plt.close(fig)


def plot_confusion(matrix: np.ndarray, class_names: list[str], path: Path) -> None:
    """Counts and row-normalised confusion matrices side by side."""
    labels = list(class_names) + ["background"]
    n = len(labels)
    fig, axes = plt.subplots(1, 2, figsize=(2 + 1.2 * n * 2, 1.5 + n), dpi=100)
    for ax, data, title, fmt in ((axes[0], matrix, "counts", "d"), (axes[1], normalise_rows(matrix), "normalised by true class", ".2f")):
        ax.imshow(data, cmap="Blues")
        for i in range(n):
            for j in range(n):
                ax.text(j, i, format(data[i, j], fmt), ha="center", va="center", fontsize=8)
        ax.set(xticks=range(n), yticks=range(n), xlabel="predicted", ylabel="true", title=f"Confusion matrix ({title})")
        ax.set_xticklabels(labels, rotation=45, ha="right", fontsize=8)
        ax.set_yticklabels(labels, fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def _draw(image: np.ndarray, boxes: np.ndarray, classes: np.ndarray, names: list[str], scores: np.ndarray | None) -> np.ndarray:
    out = image.copy()
    palette = plt.get_cmap("tab10")
    for k, ((x1, y1, x2, y2), c) in enumerate(zip(np.asarray(boxes).reshape(-1, 4), classes)):
        color = tuple(int(255 * v) for v in palette(int(c) % 10)[:3])
        cv2.rectangle(out, (int(x1), int(y1)), (int(x2), int(y2)), color, 2)
        text = names[int(c)] + (f" {scores[k]:.2f}" if scores is not None else "")
        cv2.putText(out, text, (int(x1), max(int(y1) - 3, 10)), cv2.FONT_HERSHEY_SIMPLEX, 0.4, color, 1)
    return out


def plot_image_grid(
    samples: list[Sample], detections: list[Detections], class_names: list[str],
    thresholds: np.ndarray, path: Path, max_images: int = 8, tile: int = 320,
) -> None:
    """Up to `max_images` rows: ground truth (left) beside predictions above threshold (right)."""
    rows = []
    for s, det in list(zip(samples, detections))[:max_images]:
        image = read_image(s.image_path)
        keep = det.scores > np.asarray(thresholds)[det.class_ids] if len(det) else np.zeros(0, bool)
        pair = [_draw(image, s.boxes, s.class_ids, class_names, None),
                _draw(image, det.boxes[keep], det.class_ids[keep], class_names, det.scores[keep])]
        scale = tile / max(image.shape[:2])
        size = (max(1, round(image.shape[1] * scale)), max(1, round(image.shape[0] * scale)))
        tiles = [cv2.resize(p, size, interpolation=cv2.INTER_AREA) for p in pair]
        canvas = np.full((tile, 2 * tile + 4, 3), 255, np.uint8)
        canvas[: size[1], : size[0]] = tiles[0]
        canvas[: size[1], tile + 4 : tile + 4 + size[0]] = tiles[1]
        rows.append(canvas)
    if not rows:
        return
    grid = np.concatenate(rows, axis=0)
    cv2.imwrite(str(path), cv2.cvtColor(grid, cv2.COLOR_RGB2BGR))
