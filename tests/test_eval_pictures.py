"""Pictures people read: results.png, confusion matrix, PR legend, image grid, annotated labels, val table."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from _eval_utils import random_case
from yolo3.data.sample import Sample
from yolo3.eval import compute_metrics
from yolo3.eval import plots
from yolo3.eval.result import VAL_NMS
from yolo3.eval.matching import match_dataset
from yolo3.eval.report import MIN_STABLE_BOXES, format_result, save_plots
from yolo3.inference.draw import class_color, draw_boxes, layout_labels, text_color
from yolo3.inference.results import Detections
from yolo3.train.logging import metrics_figure, plot_metrics


def _disjoint(rects: list[tuple[int, int, int, int]]) -> bool:
    return all(not (a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3])
               for i, a in enumerate(rects) for b in rects[i + 1:])


def test_crowded_labels_never_overlap_and_stay_inside() -> None:
    rng = np.random.default_rng(0)
    xy = rng.uniform(20, 140, (40, 2))  # 40 boxes piled on a 200×160 frame
    boxes = np.concatenate([xy, xy + rng.uniform(10, 40, (40, 2))], 1)
    texts = [f"person {s:.2f}" for s in rng.uniform(0.3, 1, 40)]
    layout = layout_labels(boxes, texts, rng.uniform(0, 1, 40), (160, 200), 0.5, 1)
    placed = [r for r in layout.rects if r is not None]
    assert _disjoint(placed) and len(placed) + layout.skipped == 40 and len(placed) >= 8
    assert all(0 <= x1 and 0 <= y1 and x2 <= 200 and y2 <= 160 for x1, y1, x2, y2 in placed)
    assert min(layout.scales) < 0.5  # some were shrunk to fit


def test_sparse_labels_sit_above_their_boxes_at_full_size() -> None:
    boxes = np.array([[10, 40, 60, 90], [120, 40, 180, 100]], float)
    layout = layout_labels(boxes, ["cat 0.91", "dog 0.50"], np.array([0.91, 0.5]), (120, 200), 0.5, 1)
    for (x1, y1, x2, y2), box in zip(layout.rects, boxes):
        assert x1 == box[0] and y2 == box[1]  # left-aligned, bottom edge on the box's top
    assert layout.scales == [0.5, 0.5] and layout.skipped == 0


def test_label_at_the_top_edge_moves_inside_and_most_confident_wins() -> None:
    boxes = np.array([[10, 0, 80, 50], [10, 0, 80, 50]], float)  # two boxes on the same spot at the image top
    layout = layout_labels(boxes, ["a 0.10", "b 0.90"], np.array([0.1, 0.9]), (100, 100), 0.5, 1)
    assert layout.rects[1][:2] == (10, 0)  # the 0.90 label took the first spot (clamped inside)
    assert _disjoint([r for r in layout.rects if r is not None]) and layout.rects[0] is not None


def test_drawn_labels_use_class_colours_and_readable_text() -> None:
    image = np.full((120, 160, 3), 90, np.uint8)
    boxes = np.array([[20, 30, 70, 90], [25, 35, 75, 95], [30, 40, 80, 100]], float)
    out, layout = draw_boxes(image, boxes, np.array([0, 1, 2]), ["a", "b", "c"], np.array([0.9, 0.8, 0.7]))
    assert _disjoint([r for r in layout.rects if r is not None])
    for rect, cls in zip(layout.rects, (0, 1, 2)):
        assert tuple(out[rect[1], rect[0]]) == class_color(cls)  # label background corner
    assert text_color((255, 255, 0)) == (0, 0, 0) and text_color((20, 20, 120)) == (255, 255, 255)


def test_confusion_numbers_are_white_on_dark_cells_and_title_names_thresholds() -> None:
    matrix = np.array([[90, 2, 8], [1, 40, 3], [5, 0, 0]])
    colors = plots.cell_text_colors(matrix)
    assert colors[0, 0] == "white" and colors[0, 1] == "black" and colors[2, 2] == "black"
    fig = plots.plot_confusion(matrix, ["a", "b"], None, np.array([0.25, 0.6]), 0.5)
    counts = fig.axes[0]
    by_text = {t.get_text(): t.get_color() for t in counts.texts}
    assert by_text["90"] == "white" and by_text["2"] == "black"
    title = fig._suptitle.get_text()
    assert "IoU > 0.5" in title and "0.250–0.600" in title and "conf" in title


def _case(tmp_path: Path, n: int = 6) -> tuple[list[Sample], list[Detections]]:
    samples, dets = random_case(np.random.default_rng(3), n, 3)
    for s in samples:
        path = tmp_path / s.image_path.name
        cv2.imwrite(str(path), np.full((480, 640, 3), 120, np.uint8))
        s.image_path = path
    return samples, dets


def test_pr_legend_shows_the_headline_coco_ap(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    samples, dets = _case(tmp_path)
    names = ["0", "1", "2"]
    result = compute_metrics(samples, dets, names, VAL_NMS)
    seen = {}
    real = plots.plot_pr_curves
    monkeypatch.setattr(plots, "plot_pr_curves", lambda m, n, ap, p: seen.setdefault("ap", ap) and real(m, n, ap, p))
    save_plots(result, samples, tmp_path)
    assert seen["ap"] == [result.metrics[f"AP@0.5/{n}"] for n in names]  # not the VOC2010 numbers
    fig = real(match_dataset(samples, dets, 3, 0.5), names, seen["ap"], None)
    legend = fig.axes[0].get_legend()
    texts = [t.get_text() for t in legend.get_texts()]
    assert legend.get_title().get_text() == "AP@0.5 (COCO 101-point)"
    assert f"all classes mAP@0.5={result.metrics['mAP@0.5']:.3f}" in texts


def test_image_grid_has_column_headers(tmp_path: Path) -> None:
    samples, dets = _case(tmp_path, 2)
    grid = plots.plot_image_grid(samples, dets, ["0", "1", "2"], np.full(3, 0.5), tmp_path / "g.jpg", tile=160)
    assert grid.shape == (plots.HEADER_HEIGHT + 2 * 160, 2 * 160 + 4, 3)
    header = grid[: plots.HEADER_HEIGHT]
    assert (header[:, :160] < 100).any() and (header[:, 164:] < 100).any()  # a header over each column
    assert (grid[plots.HEADER_HEIGHT:] == 255).mean() < 0.5 and (tmp_path / "g.jpg").stat().st_size > 0
    assert plots.GRID_HEADERS[0] == "ground truth" and plots.GRID_HEADERS[1].startswith("predictions")


def _rows() -> list[dict[str, str]]:
    rows = []
    for e in range(5):
        row = {"epoch": str(e + 1), "train/box": str(1 - 0.1 * e), "train/obj": str(0.5 - 0.05 * e),
               "train/cls": str(0.3 - 0.02 * e), "train/loss": "9", "lr": str(0.01 * (5 - e) / 5),
               "train/box/s16": "1", "images_per_s": "10", "mAP@0.5": "", "mAP@0.5:0.95": ""}
        if e in (1, 4):
            row.update({"mAP@0.5": str(0.2 * e), "mAP@0.5:0.95": str(0.1 * e), "val/box": "0.7"})
        rows.append(row)
    return rows


def test_results_figure_is_three_labelled_panels(tmp_path: Path) -> None:
    fig = metrics_figure(_rows())
    loss, maps, lr = fig.axes
    assert len(fig.axes) == 3
    for ax in fig.axes:
        assert ax.get_xlabel() == "epoch" and ax.get_ylabel()
    lines = {ln.get_label(): ln for ln in loss.get_lines()}
    assert set(lines) == {"train box", "train obj", "train cls", "val box"}
    assert list(lines["train box"].get_xdata()) == [1, 2, 3, 4, 5]  # 1-based epochs
    assert lines["val box"].get_linestyle() == "--"
    m = {ln.get_label(): ln for ln in maps.get_lines()}
    assert list(m["mAP@0.5"].get_xdata()) == [2, 5] and list(m["mAP@0.5:0.95"].get_ydata()) == [0.1, 0.4]
    assert [ln.get_label() for ln in lr.get_lines()] == ["lr"]
    csv = tmp_path / "metrics.csv"
    cols = list(_rows()[0]) + ["val/box"]
    csv.write_text(",".join(cols) + "\n" + "".join(",".join(r.get(c, "") for c in cols) + "\n" for r in _rows()))
    assert plot_metrics(csv, tmp_path / "results.png").stat().st_size > 10_000


def test_val_table_keeps_long_class_names_and_warns_on_few_boxes(tmp_path: Path) -> None:
    samples, dets = _case(tmp_path)
    names = ["a_very_long_class_name_indeed", "1", "2"]
    for d in dets:
        d.class_names = names
    result = compute_metrics(samples, dets, names, VAL_NMS)
    text = format_result(result)
    assert "a_very_long_class_name_indeed" in text
    few = [n for n, k in zip(names, result.n_gt) if 0 < k < MIN_STABLE_BOXES]
    assert few and all(f"{n} ({k})" in text for n, k in zip(names, result.n_gt) if n in few)
    assert "fewer than 20 ground-truth boxes" in text
    rows = [ln for ln in text.splitlines() if ln.startswith(names[0])]
    assert len(rows) == 2 and all(r.split()[0] == names[0] + "*" for r in rows)


def test_training_logs_val_loss_terms_for_results_png(tmp_path: Path) -> None:
    from _train_utils import small_config, synth_data
    from yolo3.train import train
    from yolo3.train.logging import read_metrics

    data = synth_data(tmp_path / "d", n_train=8, n_val=4)
    result = train(small_config(data, tmp_path / "runs", epochs=1, val_interval=1, plots=True))
    [row] = read_metrics(result.run_dir / "metrics.csv")
    for term in ("box", "obj", "cls"):
        assert float(row[f"val/{term}"]) >= 0 and row[f"train/{term}"]
    assert float(row["val/loss"]) == pytest.approx(sum(float(row[f"val/{t}"]) for t in ("box", "obj", "cls")),
                                                   rel=1e-5)
    labels = {ln.get_label() for ln in metrics_figure([row]).axes[0].get_lines()}
    assert {"val box", "val obj", "val cls", "train box"} <= labels


def test_confusion_figure_of_80_classes_stays_a_sensible_size() -> None:
    # COCO's 80 classes drew a 19640 × 8300 px figure (163 Mpx, 46 s and 3.7 GB to save).
    n = 80
    fig = plots.plot_confusion(np.ones((n + 1, n + 1), np.int64), [f"c{i}" for i in range(n)], None)
    width, height = fig.get_size_inches() * fig.dpi
    plots.plt.close(fig)
    assert width * height <= 16e6 and max(width, height) <= 6000
    small = plots.plot_confusion(np.ones((3, 3), np.int64), ["a", "b"], None)
    assert tuple(small.get_size_inches()) == (2 + 1.2 * 3 * 2, 2 + 3)  # few classes: unchanged
    plots.plt.close(small)
