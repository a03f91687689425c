"""Anchors for a dataset on disk: the Python API behind `yolo3 anchors DATA`."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from yolo3.assign.anchor_plot import plot_anchors
from yolo3.assign.anchors import MIN_BOX_SIZE, AnchorFit, fit_anchors, letterboxed_wh


def dataset_wh(data: str | Path, imgsz: int, splits: tuple[str, ...] = ("train",)) -> np.ndarray:
    """Letterboxed box (w, h) (N, 2) of the given splits of a dataset (any format).

    Raises ValueError naming the dataset when none of the splits exists or has boxes.
    """
    from yolo3.data.formats import load_dataset

    index = load_dataset(data)
    present = [s for s in splits if s in index.splits]
    if not present:
        raise ValueError(f"{data}: none of the splits {list(splits)} exists (has {sorted(index.splits)}); "
                         "choose one with --split")
    wh = letterboxed_wh([s for name in present for s in index.splits[name]], imgsz)
    if len(wh) == 0:
        raise ValueError(f"{data}: splits {present} have no boxes to fit anchors on")
    return wh


def fit_dataset_anchors(
    data: str | Path,
    n: int = 9,
    imgsz: int = 416,
    per_scale: int = 3,
    splits: tuple[str, ...] = ("train",),
    restarts: int = 5,
    generations: int = 1000,
    ratio_thresh: float = 4.0,
    seed: int = 0,
    plot: str | Path | None = None,
) -> AnchorFit:
    """Fits `n` anchors (`per_scale` per output scale) to a dataset; optionally saves a plot."""
    if n % per_scale:
        raise ValueError(f"--n {n} is not a multiple of --per-scale {per_scale}")
    wh = dataset_wh(data, imgsz, splits)
    usable = int((wh >= MIN_BOX_SIZE).all(1).sum())  # what k-means sees
    if usable < n:
        raise ValueError(f"{data}: {usable} boxes of at least {MIN_BOX_SIZE:g} px at imgsz {imgsz} in {list(splits)}, "
                         f"too few to fit --n {n} anchors (k-means needs one box per anchor at least); add splits "
                         "(--split train val), label more images, or keep the architecture's default anchors")
    fit = fit_anchors(wh, n, imgsz, n // per_scale, restarts, generations, ratio_thresh, seed)
    if plot is not None:
        plot_anchors(wh, fit.anchors, plot, f"{Path(data).name}: {n} anchors at {imgsz}, "
                     f"mean best IoU {fit.final.mean_best_iou:.3f}")
    return fit
