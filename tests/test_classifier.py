"""Detect, then classify: crops with context (hand pixels), class-balanced sampling, training a crop
classifier (Python and CLI), and the Detector re-labelling detections by it."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
import yaml

from yolo3.cli import main
from yolo3.data.crops import crop_with_context
from yolo3.inference.classify import CropRelabeler
from yolo3.inference.detector import Detector
from yolo3.io.checkpoint import CheckpointError, read_metadata, save_model
from yolo3.io.classifier import load_classifier
from yolo3.models import create_model
from yolo3.train.classifier import balanced_weights, schedule_lr, train_classifier

COLOURS = {0: (220, 30, 30), 1: (30, 30, 220)}  # red, blue


def test_crop_square_with_context_hand_pixels() -> None:
    image = np.arange(100, dtype=np.uint8).reshape(10, 10)[:, :, None].repeat(3, 2)
    # box [2,2,6,6], context 0.25: side 4·1.5 = 6 centred at (4, 4) → rows/cols 1..6, unscaled at size 6
    np.testing.assert_array_equal(crop_with_context(image, [2, 2, 6, 6], 6, 0.25), image[1:7, 1:7])
    # at the corner the square reaches outside: grey 114 there
    corner = crop_with_context(image, [0, 0, 4, 4], 6, 0.25)
    assert (corner[0] == 114).all() and (corner[:, 0] == 114).all()
    np.testing.assert_array_equal(corner[1:, 1:], image[0:5, 0:5])
    # half size: each output pixel is the mean of a 2×2 block, e.g. (11 + 12 + 21 + 22)/4 = 16.5
    half = crop_with_context(image, [2, 2, 6, 6], 3, 0.25)[:, :, 0].astype(float)
    np.testing.assert_allclose(half, [[16.5, 18.5, 20.5], [36.5, 38.5, 40.5], [56.5, 58.5, 60.5]], atol=0.51)


def test_balanced_weights_make_every_class_equally_likely() -> None:
    np.testing.assert_allclose(balanced_weights(np.array([0, 0, 0, 1]), 3), [1 / 6, 1 / 6, 1 / 6, 1 / 2])
    draws = np.random.default_rng(0).choice(4, 4000, p=balanced_weights(np.array([0, 0, 0, 1]), 2))
    assert 0.45 < (draws == 3).mean() < 0.55


def test_schedule_warms_up_then_cosines_to_five_percent() -> None:
    assert schedule_lr(1.0, 0.0) == 0.0 and schedule_lr(1.0, 0.025) == pytest.approx(0.5)  # half of the 5 % warm-up
    assert schedule_lr(1.0, 0.05) == pytest.approx(1.0)
    assert schedule_lr(1.0, 0.525) == pytest.approx(0.05 + 0.95 * 0.5)  # half-way through the cosine
    assert schedule_lr(2.0, 1.0) == pytest.approx(0.1) and schedule_lr(2.0, 3.0) == pytest.approx(0.1)


def _colour_dataset(root: Path, n_train: int = 16, n_val: int = 6) -> tuple[Path, dict[str, list]]:
    """64×64 grey images with red / blue squares (classes 'red', 'blue'); returns data.yaml and val boxes."""
    rng = np.random.default_rng(0)
    val_boxes: dict[str, list] = {}
    for split, n in (("train", n_train), ("val", n_val)):
        (root / "images" / split).mkdir(parents=True)
        (root / "labels" / split).mkdir(parents=True)
        for i in range(n):
            img = rng.normal(128, 10, (64, 64, 3)).clip(0, 255).astype(np.uint8)
            lines, boxes = [], []
            for k in range(2):
                c = (i + k) % 2
                s = int(rng.integers(10, 20))
                x, y = int(rng.integers(0, 28 - s)) + 32 * k, int(rng.integers(0, 64 - s))
                img[y : y + s, x : x + s] = COLOURS[c]
                lines.append(f"{c} {(x + s / 2) / 64} {(y + s / 2) / 64} {s / 64} {s / 64}\n")
                boxes.append((c, [x, y, x + s, y + s]))
            cv2.imwrite(str(root / "images" / split / f"{i}.png"), cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
            (root / "labels" / split / f"{i}.txt").write_text("".join(lines))
            val_boxes[str(root / "images" / split / f"{i}.png")] = boxes
    data = {"path": str(root), "train": "images/train", "val": "images/val", "names": ["red", "blue"]}
    (root / "data.yaml").write_text(yaml.safe_dump(data))
    return root / "data.yaml", val_boxes


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict]:
    root = tmp_path_factory.mktemp("colours")
    data, boxes = _colour_dataset(root / "d")
    result = train_classifier(data, root / "c.safetensors", epochs=6, imgsz=32, width=8, batch_size=16)
    assert result.val_accuracy is not None and result.val_accuracy >= 0.9, result
    assert result.train_counts == {"red": 16, "blue": 16} and result.epochs == 6
    return data, root / "c.safetensors", boxes


def test_classifier_file_has_metadata_and_loads(trained, tmp_path: Path) -> None:
    _, path, _ = trained
    meta = read_metadata(path)
    assert meta["kind"] == "crop_classifier" and meta["classifier"]["class_names"] == ["red", "blue"]
    assert meta["classifier"]["imgsz"] == 32 and meta["train_counts"] == {"red": 16, "blue": 16}
    model, _ = load_classifier(path)
    assert model.cfg.context == 0.2 and not model.training
    save_model(tmp_path / "det.safetensors", create_model("yolov3-tiny", num_classes=2, width=0.25, imgsz=64))
    with pytest.raises(CheckpointError, match="not a crop classifier"):
        load_classifier(tmp_path / "det.safetensors")


def test_cli_trains_a_classifier(trained, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    data, _, _ = trained
    assert main(["train-classifier", "--data", str(data), "--out", str(tmp_path / "k.safetensors"), "--epochs", "1",
                 "--imgsz", "32", "--width", "8"]) == 0
    assert "2 classes, 32 training crops, 1 epochs" in capsys.readouterr().out
    assert (tmp_path / "k.safetensors").is_file()


def test_cli_refuses_an_out_that_is_not_a_classifier(trained, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """`--out data.yaml` (or a detector's best.safetensors) was overwritten by the classifier."""
    data, _, _ = trained
    detector = tmp_path / "best.safetensors"
    save_model(detector, create_model("yolov3-tiny", num_classes=2, width=0.25, imgsz=64))
    for out in (data, detector, tmp_path):
        before = None if out.is_dir() else out.read_bytes()
        assert main(["train-classifier", "--data", str(data), "--out", str(out), "--epochs", "1",
                     "--imgsz", "32", "--width", "8"]) == 2
        err = capsys.readouterr().err.strip()
        assert err == (f"yolo3 train-classifier: error: {out}: exists and is not a crop classifier, so writing the "
                       "classifier there would destroy it; choose another --out (e.g. classifier.safetensors)"), err
        assert before is None or out.read_bytes() == before
    again = tmp_path / "again.safetensors"  # a classifier file is retrained in place
    for _ in range(2):
        assert main(["train-classifier", "--data", str(data), "--out", str(again), "--epochs", "1",
                     "--imgsz", "32", "--width", "8"]) == 0


class _GTBackend:
    """A class-agnostic 'detector' that predicts the given boxes with objectness 0.8 (one class)."""

    name = "gt"

    def __init__(self, boxes: list[list[float]]) -> None:
        self.boxes = boxes

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        pred = torch.zeros(images.shape[0], len(self.boxes), 6)
        pred[:, :, :4] = torch.tensor(self.boxes)
        pred[:, :, 4], pred[:, :, 5] = 0.8, 1.0
        return pred


def test_detector_relabels_by_crop_with_objectness_times_probability(trained) -> None:
    from yolo3.data.image_io import read_image

    _, path, val = trained
    source, gts = next(iter(val.items()))
    image = read_image(source)
    backend = _GTBackend([box for _, box in gts])
    detector = Detector(backend, ["object"], 64, classifier=path)
    assert detector.class_names == ["red", "blue"]
    (dets,) = detector(image, nms=None)
    probs = CropRelabeler.load(path).probabilities(image, np.array([box for _, box in gts], np.float32))
    order = np.argsort(-probs.max(1))
    assert dets.class_ids.tolist() == [gts[i][0] for i in order]  # re-labelled by colour
    np.testing.assert_allclose(dets.scores, 0.8 * probs.max(1)[order], rtol=1e-5)
    # the class subset names the classifier's classes: only blue, each box scored by its blue probability
    (only_blue,) = detector(image, classes=["blue"], thresholds={"blue": 0.0})
    assert set(only_blue.labels) == {"blue"} and len(only_blue) == len(gts)
    np.testing.assert_allclose(np.sort(only_blue.scores), np.sort(0.8 * probs[:, 1]), rtol=1e-5)
    with pytest.raises(ValueError, match="unknown class 'object'"):
        detector(image, classes=["object"])
    with pytest.raises(ValueError, match="with a classifier"):
        detector(image, thresholds="auto")


def test_class_errors_with_a_classifier_name_the_classifier_file(trained) -> None:
    """`detect --weights det.safetensors --classifier c.safetensors --classes WBC` said
    "det.safetensors has classes ['red', 'blue']": the classes are the classifier's."""
    _, path, _ = trained
    detector = Detector(_GTBackend([[0, 0, 8, 8]]), ["object"], 64, classifier=path)
    detector.source = "det.safetensors"  # as Detector.load sets it
    with pytest.raises(ValueError) as err:
        detector.class_ids(["object"])
    assert str(err.value) == f"unknown class 'object'; classifier {path} has classes ['red', 'blue']"
    with pytest.raises(ValueError) as err:
        detector.class_ids([2])
    assert str(err.value) == f"class id 2 out of range; classifier {path} has 2 classes"


def test_served_detector_with_a_classifier_answers_like_the_detector(trained) -> None:
    """`yolo3 serve --classifier`: the server's batched forward + per-image finish re-labels
    each box by its crop exactly as a direct Detector call does."""
    from fastapi.testclient import TestClient

    from _serve_utils import encode
    from yolo3.data.image_io import read_image
    from yolo3.serve import create_app

    _, path, val = trained
    source, gts = next(iter(val.items()))
    image = read_image(source)
    detector = Detector(_GTBackend([box for _, box in gts]), ["object"], 64, classifier=path)
    (ref,) = detector(image)
    with TestClient(create_app(detector)) as client:
        body = client.post("/v1/detect", content=encode(image), headers={"content-type": "image/png"}).json()
    assert [d["class_name"] for d in body["detections"]] == ref.labels
    np.testing.assert_allclose([d["score"] for d in body["detections"]], ref.scores, rtol=1e-5)
    np.testing.assert_allclose([d["box"] for d in body["detections"]], ref.boxes, atol=1e-3)


def test_the_time_budget_stops_inside_an_epoch(trained, tmp_path: Path, monkeypatch) -> None:
    """`train-classifier --minutes 0.1` on BCCD ran 44 s: the budget was checked only after
    whole epochs (2,805 crops each)."""
    import yolo3.train.classifier as module

    data, _, _ = trained
    steps = []
    real_batch = module._batch

    def counting_batch(images, items, idx, cfg, rng):
        if rng is not None:  # a training batch (validation passes no rng)
            steps.append(len(idx))
        return real_batch(images, items, idx, cfg, rng)

    monkeypatch.setattr(module, "_batch", counting_batch)
    result = train_classifier(data, tmp_path / "k.safetensors", epochs=3, imgsz=32, width=8, batch_size=2,
                              max_minutes=1e-9)
    assert steps == [2]  # one step (something to save), then the spent budget stops it: not 3 × 16 steps
    assert result.epochs == 1 and result.val_accuracy is not None and (tmp_path / "k.safetensors").is_file()


def test_cli_names_classes_without_crops(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """A class named in the dataset but never boxed: the summary said "3 classes" and listed
    the val accuracy of the two others only, never saying that 'green' was not learned."""
    data, _ = _colour_dataset(tmp_path / "d", n_train=4, n_val=2)
    spec = yaml.safe_load(data.read_text())
    data.write_text(yaml.safe_dump({**spec, "names": ["red", "blue", "green"]}))
    assert main(["train-classifier", "--data", str(data), "--out", str(tmp_path / "k.safetensors"), "--epochs", "1",
                 "--imgsz", "32", "--width", "8"]) == 0
    captured = capsys.readouterr()
    lines = captured.out.splitlines()
    assert lines[0].startswith(f"{tmp_path / 'k.safetensors'}: 3 classes, 8 training crops, 1 epochs")
    assert [line.split(":")[0] for line in lines[1:]] == ["  red", "  blue", "  green"]
    assert lines[3] == "  green: n/a (no val crops)"
    assert captured.err.strip() == ("warning: green: no training crops, so the classifier never learns it (it keeps "
                                    "an output for it); box some in the train split, or drop it from the names")


def test_a_classifier_given_as_weights_says_where_it_goes(trained, tmp_path: Path, capsys) -> None:
    """`detect --weights classifier.safetensors` said "metadata has no 'model' section describing the
    architecture", as for a corrupt file, not that it is a classifier that belongs to --classifier."""
    _, path, val = trained
    image = next(iter(val))
    for command in (["detect", image, "--out", str(tmp_path / "o")], ["export", "--out", str(tmp_path / "m.onnx")]):
        assert main([*command, "--weights", str(path)]) == 2
        assert capsys.readouterr().err.strip() == (
            f"yolo3 {command[0]}: error: {path}: a crop classifier (`yolo3 train-classifier`), not a detector: give "
            "it to --classifier of detect or serve, and a detector checkpoint to --weights")


def test_difficult_and_crowd_boxes_are_not_training_crops(trained, tmp_path: Path, monkeypatch) -> None:
    """A COCO crowd region (iscrowd: many people in one box) was cut as one 'person' crop, and
    VOC difficult boxes too, where detector training and evaluation leave them out by default."""
    import dataclasses

    import yolo3.data.formats as formats

    data, _, _ = trained
    index = formats.load_dataset(data)
    marked = [dataclasses.replace(s, difficult=np.array([True, False]), crowd=np.array([True, False]))
              for s in index.splits["train"]]  # box 0 of image i has class i % 2, box 1 (i + 1) % 2
    index = dataclasses.replace(index, splits={**index.splits, "train": marked})
    monkeypatch.setattr(formats, "load_dataset", lambda _: index)
    result = train_classifier(data, tmp_path / "k.safetensors", epochs=1, imgsz=32, width=8, batch_size=16)
    assert result.train_counts == {"red": 8, "blue": 8}  # was 16 + 16: the difficult half too
    assert result.difficult == 16


def test_max_det_counts_the_boxes_kept_after_relabelling(trained) -> None:
    """`detect --classifier c --classes WBC --max-det 3` lost WBCs: max_det cut the objectness-ranked
    boxes of every kind before the classifier named them, so red boxes took the blue one's place."""
    from yolo3.data.image_io import read_image
    from yolo3.inference.postprocess import NMSConfig

    _, path, val = trained
    source, gts = next(iter(val.items()))
    red, blue = [box for c, box in sorted(gts, key=lambda g: g[0])]

    class Ranked(_GTBackend):  # the red box has the higher objectness
        def __call__(self, images: torch.Tensor) -> torch.Tensor:
            pred = super().__call__(images)
            pred[:, 0, 4] = 0.9
            return pred

    image = read_image(source)
    detector = Detector(Ranked([red, blue]), ["object"], 64, classifier=path)
    probs = CropRelabeler.load(path).probabilities(image, np.array([red, blue], np.float32))
    p_blue = probs[1, 1]
    (dets,) = detector(image, classes=["blue"], thresholds={"blue": 0.3}, nms=NMSConfig(max_det=1))
    assert dets.labels == ["blue"]
    np.testing.assert_allclose(dets.boxes, [blue], atol=1e-3)
    np.testing.assert_allclose(dets.scores, [0.8 * p_blue], rtol=1e-5)
    (both,) = detector(image, thresholds=[0.0, 0.0], nms=NMSConfig(max_det=1))
    best = [0.9 * probs[0].max(), 0.8 * probs[1].max()]  # the cap keeps the best re-labelled score
    assert len(both) == 1
    np.testing.assert_allclose(both.scores, [max(best)], rtol=1e-5)
    np.testing.assert_allclose(both.boxes, [[red, blue][int(np.argmax(best))]], atol=1e-3)
