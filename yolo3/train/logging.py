"""Training records: per-epoch CSV, TensorBoard scalars, end-of-run plots and table."""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Any

from yolo3.io.checkpoint import atomic_write


class MetricsCSV:
    """Appends one row per epoch to `metrics.csv`; columns fixed by the first row.

    Later rows may lack a column (written empty) but never add one. Epochs are 1-based
    (as the progress bar shows them). On resume the file is cut back to the rows of the
    `resume_epoch` epochs already done, so the CSV matches the checkpoint.
    """

    def __init__(self, path: str | Path, resume_epoch: int | None = None) -> None:
        self.path = Path(path)
        self.columns: list[str] | None = None
        if resume_epoch is not None and self.path.exists():
            rows = read_metrics(self.path)
            kept = [r for r in rows if int(float(r["epoch"])) <= resume_epoch]
            self.columns = list(rows[0].keys()) if rows else None
            self._rewrite(kept)

    def write(self, row: dict[str, Any]) -> None:
        """Appends `row`; a new column (e.g. mAP on the first validated epoch) rewrites
        the file with the wider header, earlier rows left empty there."""
        if self.columns is not None and any(k not in self.columns for k in row):
            rows = read_metrics(self.path) if self.path.exists() else []
            self.columns += [k for k in row if k not in self.columns]
            self._rewrite([*rows, row])
            return
        new = self.columns is None
        if new:
            self.columns = list(row)
        self._append([row], header=new or not self.path.exists())

    def _append(self, rows: list[dict[str, Any]], header: bool, path: str | Path | None = None) -> None:
        with open(path or self.path, "a", newline="", encoding="utf-8") as f:
            writer = csv.DictWriter(f, fieldnames=self.columns, extrasaction="ignore")
            if header:
                writer.writeheader()
            for row in rows:
                writer.writerow({k: _fmt(row.get(k, "")) for k in self.columns})

    def _rewrite(self, rows: list[dict[str, Any]]) -> None:
        """Replaces the file with header + `rows` atomically: a kill leaves old or new, never none."""
        if not rows:  # nothing to keep: the next write starts the file with its header
            self.path.unlink(missing_ok=True)
            return
        atomic_write(self.path, lambda tmp: self._append(rows, header=True, path=tmp))


def _fmt(value: Any) -> Any:
    return f"{value:.6g}" if isinstance(value, float) else value


def read_metrics(path: str | Path) -> list[dict[str, str]]:
    """The rows of a metrics.csv as dicts of strings."""
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


class TensorBoard:
    """Thin optional wrapper: scalars to TensorBoard when enabled and installed."""

    def __init__(self, log_dir: str | Path | None) -> None:
        self.writer = None
        if log_dir is not None:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError:  # tensorboard is a declared dependency; stay usable without it
                return
            self.writer = SummaryWriter(str(log_dir))

    def scalars(self, values: dict[str, float], step: int) -> None:
        if self.writer is not None:
            for key, value in values.items():
                if isinstance(value, (int, float)) and math.isfinite(value):
                    self.writer.add_scalar(key, value, step)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def plot_metrics(csv_path: str | Path, out_path: str | Path) -> Path:
    """One figure with a panel per loss term, the LR and the mAP columns of metrics.csv."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = read_metrics(csv_path)
    if not rows:
        raise ValueError(f"{csv_path}: no rows to plot")
    epochs = [int(float(r["epoch"])) for r in rows]
    keys = [k for k in rows[0] if k != "epoch" and any(r[k] not in ("", None) for r in rows)]
    cols = 4
    nrows = max(1, math.ceil(len(keys) / cols))
    fig, axes = plt.subplots(nrows, cols, figsize=(4 * cols, 3 * nrows), squeeze=False)
    for ax, key in zip(axes.flat, keys):
        pts = [(e, float(r[key])) for e, r in zip(epochs, rows) if r[key] not in ("", None)]
        ax.plot([p[0] for p in pts], [p[1] for p in pts], marker=".")
        ax.set_title(key)
        ax.set_xlabel("epoch")
    for ax in list(axes.flat)[len(keys):]:
        ax.axis("off")
    fig.tight_layout()
    out_path = Path(out_path)
    fig.savefig(out_path, dpi=100)
    plt.close(fig)
    return out_path


def summary_table(rows: list[dict[str, str]], columns: list[str] | None = None) -> str:
    """A fixed-width text table of the metrics rows (last rows first if many)."""
    if not rows:
        return "(no epochs)"
    columns = columns or list(rows[0])
    widths = {c: max(len(c), *(len(str(r.get(c, ""))) for r in rows)) for c in columns}
    lines = ["  ".join(c.rjust(widths[c]) for c in columns)]
    lines += ["  ".join(str(r.get(c, "")).rjust(widths[c]) for c in columns) for r in rows]
    return "\n".join(lines)
