"""Training records: per-epoch CSV, TensorBoard scalars, end-of-run plots and table."""

from __future__ import annotations

import csv
import math
import os
from pathlib import Path
from typing import Any

from yolo3.io.checkpoint import atomic_write, save_figure


class MetricsCSV:
    """Appends one row per epoch to `metrics.csv`; columns fixed by the first row.

    Later rows may lack a column (written empty) but never add one. Epochs are 1-based
    (as the progress bar shows them). On resume the file is cut back to the rows of the
    `resume_epoch` epochs already done, so the CSV matches the checkpoint; a new run
    (`resume_epoch` None) replaces a file an earlier run left in its folder.
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
        if new:  # the first row of a run: a file left by an earlier run in the folder (exist_ok) is replaced
            self.columns = list(row)
        self._append([row], header=new or not self.path.exists(), mode="w" if new else "a")

    def _append(self, rows: list[dict[str, Any]], header: bool, path: str | Path | None = None,
                mode: str = "a") -> None:
        """Writes rows to `path` (a temporary file of `_rewrite`), else appends them to the CSV,
        where a failed write (disk full) is cut back off: the file keeps only whole rows."""
        if path is not None:
            self._write_rows(path, mode, rows, header)
            return
        size = self.path.stat().st_size if mode == "a" and self.path.exists() else 0
        try:
            self._write_rows(self.path, mode, rows, header)
        except OSError as err:
            try:  # no half row; an empty file is removed, so the next write starts with the header
                if size:
                    os.truncate(self.path, size)
                else:
                    self.path.unlink(missing_ok=True)
            except OSError:
                pass
            raise OSError(f"{self.path}: cannot write the file ({err.strerror or err}); "
                          "its earlier rows are kept") from err

    def _write_rows(self, path: str | Path, mode: str, rows: list[dict[str, Any]], header: bool) -> None:
        with open(path, mode, newline="", encoding="utf-8") as f:
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


LOSS_TERMS = ("box", "obj", "cls")


def _series(rows: list[dict[str, str]], key: str) -> tuple[list[int], list[float]]:
    """(1-based epochs, values) of one metrics.csv column, skipping empty cells."""
    pts = [(int(float(r["epoch"])), float(r[key])) for r in rows if r.get(key) not in ("", None)]
    return [p[0] for p in pts], [p[1] for p in pts]


def metrics_figure(rows: list[dict[str, str]]):
    """results.png as one readable figure of three panels, x = epoch (1-based, as the bar):

    losses: train/box, train/obj, train/cls (solid) and the val/ terms when logged
    (dashed, same colour); accuracy: mAP@0.5 and mAP@0.5:0.95 on validated epochs; and
    the learning rate. Returns the matplotlib Figure.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    fig, (ax_loss, ax_map, ax_lr) = plt.subplots(1, 3, figsize=(15, 4.2), dpi=100)
    colors = {"box": "tab:blue", "obj": "tab:orange", "cls": "tab:green"}
    for term in LOSS_TERMS:
        for split, style in (("train", "-"), ("val", "--")):
            x, y = _series(rows, f"{split}/{term}")
            if x:
                ax_loss.plot(x, y, style, color=colors[term], marker=".", label=f"{split} {term}")
    ax_loss.set(title="loss terms (mean over the epoch's steps)", xlabel="epoch", ylabel="loss")
    for key, color in (("mAP@0.5", "tab:red"), ("mAP@0.5:0.95", "tab:purple")):
        x, y = _series(rows, key)
        if x:
            ax_map.plot(x, y, "-o", color=color, label=key)
    ax_map.set(title="validation mAP", xlabel="epoch", ylabel="mAP", ylim=(0, 1))
    x, y = _series(rows, "lr")
    if x:
        ax_lr.plot(x, y, "-", color="k", marker=".", label="lr")
    ax_lr.set(title="learning rate", xlabel="epoch", ylabel="learning rate")
    ax_lr.ticklabel_format(axis="y", style="sci", scilimits=(-2, 2))
    for ax in (ax_loss, ax_map, ax_lr):
        ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
        if ax.get_lines():
            ax.legend(fontsize=8)
        else:
            ax.text(0.5, 0.5, "not logged (no validation)" if ax is ax_map else "not logged", ha="center",
                    va="center", transform=ax.transAxes, color="0.4")
    fig.tight_layout()
    return fig


def plot_metrics(csv_path: str | Path, out_path: str | Path) -> Path:
    """Writes results.png (metrics_figure) from a metrics.csv."""
    import matplotlib.pyplot as plt

    rows = read_metrics(csv_path)
    if not rows:
        raise ValueError(f"{csv_path}: no rows to plot")
    fig = metrics_figure(rows)
    out_path = Path(out_path)
    save_figure(fig, out_path, dpi=100)  # atomic: a full disk names the file, leaves no half image
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
