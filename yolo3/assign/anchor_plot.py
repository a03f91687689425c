"""Picture of box shapes and fitted anchors (matplotlib, Agg: no display needed)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from yolo3.io.checkpoint import save_figure


def plot_anchors(wh: np.ndarray, anchors: np.ndarray, path: str | Path, title: str = "") -> Path:
    """Scatter of box (w, h) (N, 2) with anchors (K, 2) marked, saved as an image at `path`."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    fig, ax = plt.subplots(figsize=(6, 6))
    ax.scatter(wh[:, 0], wh[:, 1], s=3, alpha=0.3, label=f"boxes ({len(wh)})")
    ax.scatter(anchors[:, 0], anchors[:, 1], s=80, marker="x", c="red", label=f"anchors ({len(anchors)})")
    for w, h in anchors:
        ax.add_patch(plt.Rectangle((0, 0), w, h, fill=False, ec="red", lw=0.8, alpha=0.6))
    ax.set_xlabel("width (input pixels)")
    ax.set_ylabel("height (input pixels)")
    ax.set_title(title or "box shapes and anchors")
    ax.legend(loc="upper left")
    fig.tight_layout()
    save_figure(fig, path, dpi=100)  # atomic: a full disk names the file, leaves no half image
    plt.close(fig)
    return path
