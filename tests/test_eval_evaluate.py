"""End-to-end evaluate(): model → detections → metrics, plots, summary.json, CLI, thresholds."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from yolo3.data.sample import Sample
from yolo3.eval import COCO_METRIC_NAMES, EvalResult, compute_metrics, evaluate, store_thresholds
from yolo3.eval.result import VAL_NMS
from yolo3.eval.report import format_result
from yolo3.inference.postprocess import NMSConfig
from yolo3.inference.predict import predict_arrays
from yolo3.inference.results import Detections
from yolo3.io.checkpoint import load_model, read_metadata, save_model
from yolo3.models import create_model

NAMES = ["red", "green", "blue"]


def _write_images(root: Path, n: int = 5) -> list[Sample]:
    """Coloured rectangles on grey, 96×128 (h×w); the class is the colour channel."""
    rng = np.random.default_rng(0)
    samples = []
    for i in range(n):
        img = np.full((96, 128, 3), 100, np.uint8)
        boxes, classes = [], []
        for _ in range(2):
            x, y, w, h = int(rng.integers(0, 80)), int(rng.integers(0, 50)), int(rng.integers(12, 45)), int(rng.integers(12, 45))
            c = int(rng.integers(0, 3))
            img[y : y + h, x : x + w] = 0
            img[y : y + h, x : x + w, c] = 255
            boxes.append([x, y, x + w, y + h]), classes.append(c)
        path = root / f"im{i}.png"
        cv2.imwrite(str(path), img[:, :, ::-1])
        samples.append(Sample(path, boxes, classes))
    return samples


@pytest.fixture
def tiny() -> torch.nn.Module:
    model = create_model("yolov3-tiny", num_classes=3, width=0.25, class_names=NAMES, imgsz=64)
    with torch.no_grad():  # raise objectness and class logits so an untrained model yields detections
        for head in model.heads:
            head.conv.bias.add_(2.0)
    return model.train()


def test_evaluate_end_to_end_writes_plots_and_summary(tiny, tmp_path: Path) -> None:
    samples = _write_images(tmp_path)
    out = tmp_path / "run"
    result = evaluate(tiny, samples, NAMES, 64, batch_size=2, out_dir=out, plots=True, run_info={"split": "val"})
    assert isinstance(result, EvalResult) and tiny.training  # mode restored
    assert set(COCO_METRIC_NAMES) <= set(result.metrics) and len(result.class_thresholds) == 3
    assert sum(len(d) for d in result.detections) > 0
    for name in ("pr_curve.png", "f1_curve.png", "confusion_matrix.png", "val_images.jpg"):
        assert (out / name).stat().st_size > 1000, name
    summary = json.loads((out / "summary.json").read_text())
    assert summary["metrics"]["mAP@0.5"] == result.metrics["mAP@0.5"]
    assert summary["settings"]["nms"]["conf_threshold"] == VAL_NMS.conf_threshold == 0.001
    assert summary["split"] == "val" and "commit" in summary and len(summary["per_class"]) == 3
    rep = result.thresholds
    for c, (row, name) in enumerate(zip(summary["per_class"], NAMES)):  # every per-class number the table prints
        assert row["AP@0.5(VOC07)"] == result.metrics[f"AP@0.5(VOC07)/{name}"]
        assert row["AP@0.5(VOC2010)"] == result.metrics[f"AP@0.5(VOC2010)/{name}"]
        p, r = row["precision"], row["recall"]
        assert row["f1"] == pytest.approx(2 * p * r / (p + r) if p + r else 0.0, abs=1e-6)
        assert (row["f1"], row["f1@global"]) == (float(rep.f1_class[c]), float(rep.f1_global[c]))
    assert result.confusion.sum() == sum(len(s) for s in samples) + (result.confusion[-1].sum())
    text = format_result(result)
    assert "mAP@0.5:0.95" in text and "conf>0.001" in text and "conf>0.25" in text


def test_detections_equal_the_inference_path(tiny, tmp_path: Path) -> None:
    """evaluate() must score what predict_arrays would return, in original pixels."""
    samples = _write_images(tmp_path, 3)
    result = evaluate(tiny, samples, NAMES, 64, batch_size=3)
    from yolo3.data.image_io import read_image

    ref = predict_arrays(tiny.eval(), [read_image(s.image_path) for s in samples], 64, NMSConfig(**vars(VAL_NMS)))
    for got, want in zip(result.detections, ref):
        np.testing.assert_allclose(got.boxes, want.boxes, atol=1e-4)
        np.testing.assert_allclose(got.scores, want.scores, atol=1e-6)
        assert got.image_size == (96, 128)


def test_perfect_detector_metrics(tmp_path: Path) -> None:
    samples = _write_images(tmp_path, 4)
    dets = [Detections(s.boxes.astype(np.float32), np.full(len(s), 0.9, np.float32), s.class_ids, NAMES, (96, 128))
            for s in samples]
    r = compute_metrics(samples, dets, NAMES, VAL_NMS)
    present = {NAMES[c] for s in samples for c in s.class_ids}
    assert r.metrics["mAP@0.5"] == pytest.approx(1.0) and r.metrics["mAP@0.5(VOC2010 all-point)"] == pytest.approx(1.0)
    for c, name in enumerate(NAMES):
        if name in present:
            assert r.thresholds.f1_class[c] == pytest.approx(1.0) and r.class_thresholds[c] == pytest.approx(0.45)
    assert np.trace(r.confusion) == sum(len(s) for s in samples) and r.confusion[-1].sum() == 0


def test_bad_inputs_are_named(tiny, tmp_path: Path) -> None:
    samples = _write_images(tmp_path, 1)
    with pytest.raises(ValueError, match="predicts 3 classes but the dataset has 2"):
        evaluate(tiny, samples, ["a", "b"], 64)
    with pytest.raises(ValueError, match="multiple of the largest stride"):
        evaluate(tiny, samples, NAMES, 70)
    bad = [Sample(samples[0].image_path, [[0, 0, 5, 5]], [7], annotation_path=tmp_path / "im0.txt")]
    det = Detections(np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros(0, np.int64), NAMES, (96, 128))
    with pytest.raises(ValueError, match="im0.txt: class id 7"):
        compute_metrics(bad, [det], NAMES, VAL_NMS)


def test_store_thresholds_round_trip(tiny, tmp_path: Path) -> None:
    weights = tmp_path / "w.safetensors"
    save_model(weights, tiny, note="kept")
    store_thresholds(weights, [0.1, 0.2, 0.3])
    meta = read_metadata(weights)
    assert meta["class_thresholds"] == [0.1, 0.2, 0.3] and meta["note"] == "kept"
    model, _ = load_model(weights)
    torch.testing.assert_close(model.state_dict(), tiny.state_dict())
    with pytest.raises(ValueError, match="2 thresholds for a model of 3 classes"):
        store_thresholds(weights, [0.1, 0.2])


def test_cli_val_on_a_yolo_dataset(tiny, tmp_path: Path, capsys) -> None:
    """`yolo3 val` on a tiny YOLO-format dataset; its untrained thresholds are refused."""
    pytest.importorskip("yolo3.data.formats")
    from yolo3.cli import main

    img_dir, lbl_dir = tmp_path / "images" / "val", tmp_path / "labels" / "val"
    img_dir.mkdir(parents=True), lbl_dir.mkdir(parents=True)
    samples = _write_images(img_dir, 3)
    for s in samples:
        lines = [f"{c} {(b[0] + b[2]) / 256:.6f} {(b[1] + b[3]) / 192:.6f} {(b[2] - b[0]) / 128:.6f} {(b[3] - b[1]) / 96:.6f}"
                 for b, c in zip(s.boxes, s.class_ids)]
        (lbl_dir / f"{s.image_path.stem}.txt").write_text("\n".join(lines) + "\n")
    (tmp_path / "data.yaml").write_text(f"path: {tmp_path}\ntrain: images/val\nval: images/val\nnames: {NAMES}\n")
    weights = tmp_path / "w.safetensors"
    save_model(weights, tiny)
    rc = main(["val", "--weights", str(weights), "--data", str(tmp_path / "data.yaml"), "--out", str(tmp_path / "run"),
               "--save-thresholds", "--in-place", "--no-plots"])
    captured = capsys.readouterr()
    out = captured.out
    # an untrained model's thresholds are degenerate: refused (exit 2), the metrics still printed
    # (storing good ones: tests/test_val_outputs.py)
    assert rc == 2 and "below 0.01" in captured.err, out
    assert "mAP@0.5:0.95" in out and "AR@100" in out
    assert "class_thresholds" not in read_metadata(weights)
    assert json.loads((tmp_path / "run" / "summary.json").read_text())["dataset_format"] == "yolo"


def test_summary_commit_is_none_for_code_another_repository_does_not_track(tmp_path: Path) -> None:
    """yolo3 installed in a project's .venv sits inside the project's git checkout (ignored,
    untracked): summary.json named the project's HEAD as yolo3's commit."""
    import subprocess

    from yolo3.eval.report import git_commit

    def git(*args: str) -> str:
        return subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=tmp_path,
                              capture_output=True, text=True, check=True).stdout.strip()

    git("init", "-q")
    (tmp_path / "train.py").write_text("print('project')\n")
    git("add", "train.py")
    git("commit", "-qm", "project")
    package = tmp_path / ".venv" / "yolo3" / "eval"
    package.mkdir(parents=True)
    (package / "report.py").write_text("# installed copy\n")
    assert git_commit(tmp_path) == git("rev-parse", "HEAD")  # tracked code: its commit
    assert git_commit(package) is None
