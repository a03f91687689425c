"""The `YOLO` facade: each method gives what the function behind its CLI command gives,
with the CLI's flag names and checks; `Detections` and `TrainResult` are easy to use."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

import yolo3
from yolo3 import YOLO
from yolo3.cli import main
from yolo3.darknet import save_darknet
from yolo3.eval.val import val as val_function
from yolo3.inference.detector import Detector
from yolo3.inference.draw import draw_boxes
from yolo3.inference.postprocess import NMSConfig
from yolo3.inference.results import Detections
from yolo3.inference.tta import TTAConfig
from yolo3.io.checkpoint import load_model

from _infer_utils import random_image, saved_model, small_model
from _train_utils import synth_data

NMS = NMSConfig(conf_threshold=0.2, iou_threshold=0.45)


def _same(a: Detections, b: Detections, box_tol: float = 1e-4, score_tol: float = 1e-6) -> None:
    assert len(a) == len(b) > 0
    for box, score, cls in zip(a.boxes, a.scores, a.class_ids):
        same = (b.class_ids == cls) & (np.abs(b.boxes - box).max(1) <= box_tol) & (np.abs(b.scores - score) <= score_tol)
        assert same.any(), (box, score, cls)


def test_import_is_cheap_and_help_shows_the_example() -> None:
    import subprocess
    import sys

    code = "import sys, yolo3; print('torch' in sys.modules); print(yolo3.YOLO.__name__, 'torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out[:2] == ["False", "YOLO"]  # torch loads only when a model is built
    for doc in (yolo3.__doc__, YOLO.__doc__):
        example = [line for line in doc.splitlines() if line.startswith(" " * 4) and line.strip()]
        assert any("from yolo3 import YOLO" in line for line in example)
        assert sum(line.strip().startswith(("model", "result", "metrics", "dets", "print")) for line in example) >= 8


def test_predict_from_a_checkpoint_equals_the_detector(tmp_path: Path) -> None:
    weights = saved_model(tmp_path)
    images = [random_image(96, 96, 0), random_image(70, 110, 1)]
    expected = Detector.load(weights, nms=NMS, backend="torch")(images)  # a loaded YOLO runs its model on torch
    got = YOLO(weights).predict(images, conf=0.2, iou=0.45)
    assert len(got) == 2
    for a, b in zip(got, expected):
        _same(a, b, 0, 0)
    # a file path and a folder give the same as the array read from it
    folder = tmp_path / "imgs"
    folder.mkdir()
    cv2.imwrite(str(folder / "a.png"), cv2.cvtColor(images[0], cv2.COLOR_RGB2BGR))
    (from_folder,) = YOLO(weights).predict(folder, conf=0.2)
    _same(from_folder, expected[0])  # batch of 1 vs 2: conv kernels may round differently
    assert from_folder.source.endswith("a.png")


def test_fresh_model_keywords_and_info() -> None:
    model = YOLO("yolov3-tiny", classes=["a", "b", "c"], width=0.25, imgsz=64)
    assert model.names == ["a", "b", "c"] and model.cfg.width == 0.25 and model.cfg.imgsz == 64
    assert YOLO("yolov3-tiny", classes=5).cfg.num_classes == 5
    info = model.info()
    assert info.parameters == sum(p.numel() for p in model.model.parameters())
    assert info.imgsz == 64 and "yolov3-tiny @ 64x64" in info.table()
    with pytest.raises(ValueError, match="nearest valid: 64 or 96"):
        YOLO("yolov3-tiny", imgsz=70)
    with pytest.raises(ValueError, match="fresh model only"):
        YOLO("best.safetensors", width=0.5)
    with pytest.raises(ValueError, match="no such file"):
        YOLO("nothing-here")


def test_keywords_are_the_cli_flags_and_checked_alike(tmp_path: Path) -> None:
    model = YOLO(saved_model(tmp_path))
    with pytest.raises(ValueError, match="unknown keyword 'confidence'.*conf"):
        model.predict(random_image(64, 64), confidence=0.3)
    with pytest.raises(ValueError, match="argument --conf: 'nan' is not a finite number"):
        model.predict(random_image(64, 64), conf=float("nan"))
    with pytest.raises(ValueError, match="argument --max-det: -1 must be at least 1"):
        model.predict(random_image(64, 64), max_det=-1)
    with pytest.raises(ValueError, match="argument --imgsz: 250 is not a positive multiple of 32"):
        model.predict(random_image(64, 64), imgsz=250)


def test_darknet_cfg_with_weights_predicts_like_the_model_it_was_written_from(tmp_path: Path) -> None:
    torch.manual_seed(0)
    net = small_model()
    save_darknet(net, tmp_path / "m.cfg", tmp_path / "m.weights")
    image = random_image(96, 96, 3)
    from yolo3.inference.backends import TorchBackend

    expected = Detector(TorchBackend(net), net.cfg.names, 96, nms=NMS)(image)[0]
    got = YOLO(tmp_path / "m.cfg", weights=tmp_path / "m.weights").predict(image, conf=0.2, imgsz=96)[0]
    _same(got, expected, 1e-3, 1e-4)  # darknet BN eps and folding round differently


def test_train_val_export_onnx_round_trip(tmp_path: Path) -> None:
    data = synth_data(tmp_path, n_train=8, n_val=4, imgsz=64)
    model = YOLO("yolov3-tiny", width=0.25)
    result = model.train(data=data, epochs=1, imgsz=64, batch_size=4, nbs=4, workers=0, amp="off",
                         project=tmp_path / "runs", name="r", no_tensorboard=True, no_progress=True, max_steps=2)
    assert result.best.is_file() and model.path == result.best and model.kind == "checkpoint"
    text = repr(result)
    assert len(text) < 200 and "Conv2d" not in text and str(result.run_dir) in text and "1 epochs" in text
    trained, _ = load_model(result.best)
    assert trained.cfg.imgsz == 64 and trained.cfg.width == 0.25

    metrics = model.val(data=data, imgsz=64, out=tmp_path / "val_a", no_plots=True, backend="torch")
    direct, _ = val_function(result.best, data, "val", 64, 8, None, tmp_path / "val_b", plots=False)
    assert metrics.metrics == pytest.approx(direct.metrics) and "mAP@0.5" in metrics.metrics
    augmented = model.val(data=data, imgsz=64, out=tmp_path / "val_c", no_plots=True, backend="torch", tta=True)
    direct, _ = val_function(result.best, data, "val", 64, 8, None, tmp_path / "val_d", plots=False,
                             tta=TTAConfig())
    assert augmented.metrics == pytest.approx(direct.metrics)

    onnx = model.export(format="onnx", out=tmp_path / "m.onnx")
    assert onnx == tmp_path / "m.onnx" and onnx.is_file()
    image = random_image(64, 64, 5)
    a = YOLO(onnx).predict(image, conf=0.001)[0]
    b = model.predict(image, conf=0.001)[0]
    assert len(a) == len(b)
    if len(a):
        _same(a, b, 1e-3, 1e-5)
    with pytest.raises(ValueError, match="can predict, val and info only"):
        YOLO(onnx).export()


def test_train_resume_takes_epochs_and_refuses_what_would_change_the_run(tmp_path: Path) -> None:
    """YOLO().train(resume=RUN, epochs=3) trained nothing (epochs was dropped, the run's
    saved config used as is), and lr0= and the like were silently ignored, where
    `yolo3 train --resume` takes --epochs and refuses --lr0."""
    data = synth_data(tmp_path, n_train=4, imgsz=64)
    first = YOLO("yolov3-tiny", width=0.25).train(data=data, epochs=1, imgsz=64, batch_size=4, nbs=4, workers=0,
                                                  amp="off", project=tmp_path / "runs", name="r",
                                                  no_tensorboard=True, no_progress=True, max_steps=1)
    model = YOLO("yolov3-tiny")
    resumed = model.train(resume=first.run_dir, epochs=2)
    assert resumed.run_dir == first.run_dir and resumed.epochs_done == 2
    assert [int(row["epoch"]) for row in resumed.metrics] == [1, 2]
    assert model.kind == "checkpoint" and model.path == resumed.best
    with pytest.raises(ValueError, match="--lr0 cannot be given with it"):
        YOLO("yolov3-tiny").train(resume=first.run_dir, lr0=0.5)


def test_train_with_a_recipe_keeps_its_sizes_unless_given_to_yolo(tmp_path: Path) -> None:
    """YOLO("yolov3-tiny").train(config=recipe) trained width 1.0 and depth 1.0 whatever the
    recipe said: the facade passed the fresh model's default sizes as if given."""
    data = synth_data(tmp_path, n_train=4, imgsz=64)
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text("imgsz: 64\nmodel:\n  arch: yolov3-tiny\n  width: 0.25\n")
    run = {"data": data, "epochs": 1, "batch_size": 4, "nbs": 4, "workers": 0, "amp": "off",
           "project": tmp_path / "runs", "no_tensorboard": True, "no_progress": True, "max_steps": 1}
    from_recipe = YOLO("yolov3-tiny").train(config=recipe, name="recipe", **run)
    trained, _ = load_model(from_recipe.best)
    assert (trained.cfg.width, trained.cfg.imgsz) == (0.25, 64)
    given = YOLO("yolov3-tiny", width=0.125).train(config=recipe, name="given", **run)
    trained, _ = load_model(given.best)
    assert (trained.cfg.width, trained.cfg.imgsz) == (0.125, 64)


def _drawn_by_hand(image: np.ndarray, dets: Detections) -> np.ndarray:
    return draw_boxes(image, dets.boxes, dets.class_ids, dets.class_names, dets.scores)[0]


def test_detections_plot_save_and_dict(tmp_path: Path) -> None:
    image = random_image(60, 80, 1)
    dets = Detections(np.array([[10, 5, 40, 30]], np.float32), np.array([0.9], np.float32), np.array([1]),
                      ["cat", "dog"], (60, 80), "x")
    drawn = dets.plot(image)
    assert np.array_equal(drawn, _drawn_by_hand(image, dets)) and not np.array_equal(drawn, image)
    with pytest.raises(ValueError, match="pass it"):
        dets.plot()
    dets.image = image
    assert np.array_equal(dets.plot(), drawn)
    saved = dets.save(tmp_path / "a.png")
    assert np.array_equal(cv2.cvtColor(cv2.imread(str(saved)), cv2.COLOR_BGR2RGB), drawn)  # png: lossless
    assert json.loads(dets.save(tmp_path / "a.json").read_text()) == [
        {"image_id": "x", "category_id": 2, "bbox": [10.0, 5.0, 30.0, 25.0], "score": 0.9}]  # index + 1
    assert dets.save(tmp_path / "a.txt").read_text() == "1 0.312500 0.291667 0.375000 0.416667 0.90000\n"
    d = dets.to_dict()
    assert d["boxes"].shape == (1, 4) and d["boxes"].dtype == np.float32 and d["labels"].tolist() == ["dog"]
    assert d["class_ids"].dtype == np.int64 and d["image_size"].tolist() == [60, 80]
    empty = Detections(np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros(0, np.int64), ["a"])
    assert empty.to_dict()["boxes"].shape == (0, 4)


def test_predict_keeps_arrays_for_plot(tmp_path: Path) -> None:
    image = random_image(64, 64, 2)
    dets = YOLO(saved_model(tmp_path)).predict(image, conf=0.2)[0]
    assert np.array_equal(dets.plot(), _drawn_by_hand(image, dets))


def test_predict_honours_preprocess_and_the_save_switches(tmp_path: Path) -> None:
    # found by hand: predict(preprocess="darknet") silently ran yolo3's letterbox, and predict(save=True,
    # no_txt=True, no_images=True, no_json=True) still wrote labels/, the annotated image and predictions.json
    weights = saved_model(tmp_path)
    image = random_image(70, 110, 1)
    darknet = Detector.load(weights, nms=NMS, backend="torch", preprocess="darknet")([image])[0]
    plain = Detector.load(weights, nms=NMS, backend="torch")([image])[0]
    assert len(darknet) != len(plain) or np.abs(darknet.boxes - plain.boxes).max() > 1e-3  # the modes differ here
    (got,) = YOLO(weights).predict(image, conf=0.2, iou=0.45, preprocess="darknet")
    _same(got, darknet, 0, 0)
    cv2.imwrite(str(tmp_path / "a.png"), image)
    summary = YOLO(weights).predict(tmp_path / "a.png", save=True, out=str(tmp_path / "det"), no_txt=True,
                                    no_images=True, no_json=True)
    assert summary.images == 1 and sorted(p.name for p in summary.out_dir.iterdir()) == []


def test_predict_save_refused_leaves_no_folder(tmp_path: Path) -> None:
    # found by hand: predict(save=True) with an unknown class left an empty numbered folder per try
    weights = saved_model(tmp_path)
    cv2.imwrite(str(tmp_path / "a.png"), random_image(64, 64))
    with pytest.raises(ValueError, match="class id 7 out of range"):
        YOLO(weights).predict(tmp_path / "a.png", save=True, out=str(tmp_path / "runs" / "det"), classes=[7])
    assert list((tmp_path / "runs").iterdir()) == []


def test_predict_save_with_an_array_is_a_clear_error(tmp_path: Path) -> None:
    # found by hand: predict(array, save=True) failed with "[Errno 36] File name too long: '[[[ 95 130 ...'"
    weights = saved_model(tmp_path)
    with pytest.raises(ValueError, match=r"save=True writes .* for paths.* input 0 is a ndarray; call predict\(\) "
                                         r"without save and dets.save\(path\)"):
        YOLO(weights).predict(random_image(64, 64), save=True, out=str(tmp_path / "runs" / "det"))
    assert not (tmp_path / "runs").exists()


def test_predict_takes_thresholds_and_roi_as_the_detector_does(tmp_path: Path, capsys) -> None:
    # found by hand: predict(thresholds=[0.3, 0.4, 0.5]) failed with "could not convert string to float: '[0.3'",
    # a {name: score} dict and an ROI mask array likewise (they went through the CLI's text parsing)
    weights = saved_model(tmp_path)
    image = random_image(96, 96, 3)
    det = Detector.load(weights, nms=NMS, backend="torch")
    mask = np.zeros((96, 96), np.uint8)
    mask[:, :48] = 255
    for controls in (dict(thresholds=[0.21, 0.3, 0.25]), dict(thresholds=(0.21, 0.3, 0.25)), dict(thresholds={"dog": 0.3}),
                     dict(roi=mask), dict(roi=[[[0, 0], [48, 0], [48, 96], [0, 96]]])):
        (got,) = YOLO(weights).predict(image, conf=0.2, iou=0.45, **controls)
        _same(got, det(image, **controls)[0], 0, 0)
    assert YOLO(weights).predict(image, conf=0.2, thresholds="0.21,0.3,0.25")[0].scores.tolist() == \
        det(image, thresholds=[0.21, 0.3, 0.25])[0].scores.tolist()
    with pytest.raises(ValueError, match="argument --thresholds: 'x' is not a number"):
        YOLO(weights).predict(image, thresholds="0.3,x,0.5")
    cv2.imwrite(str(tmp_path / "a.png"), image)
    with pytest.raises(SystemExit) as exit_:
        main(["detect", str(tmp_path / "a.png"), "--weights", str(weights), "--thresholds", "0.3,x,0.5"])
    assert exit_.value.code == 2
    assert capsys.readouterr().err.strip().endswith("argument --thresholds: 'x' is not a number")


def test_detections_save_with_an_unknown_suffix_is_a_clear_error(tmp_path: Path) -> None:
    # found by hand: dets.save("boxes.xyz") raised cv2.error "could not find encoder for the specified extension"
    dets = Detections(np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros(0, np.int64), ["a"], (8, 8),
                      image=np.zeros((8, 8, 3), np.uint8))
    with pytest.raises(OSError, match=r"boxes.xyz: OpenCV cannot write '.xyz' images; use .jpg, .png"):
        dets.save(tmp_path / "boxes.xyz")
    assert not (tmp_path / "boxes.xyz").exists()


def test_export_honours_precision_and_device(tmp_path: Path) -> None:
    # found by hand: YOLO(w).export(format="openvino", precision="bf16") wrote an fp32 model, and
    # export(format="onnx", precision="int8") wrote fp32 ONNX without a word (`yolo3 export` refuses it)
    pytest.importorskip("openvino")
    weights = saved_model(tmp_path)
    xml = YOLO(weights).export(format="openvino", precision="bf16", out=str(tmp_path / "ov"))
    assert Detector.load(xml.parent, precision=None).metadata["export"]["precision"] == "bf16"
    with pytest.raises(ValueError, match="onnx files are written in fp32"):
        YOLO(weights).export(format="onnx", precision="int8", out=str(tmp_path / "m.onnx"))
    with pytest.raises(ValueError, match="--precision int8 needs --data"):
        YOLO(weights).export(format="openvino", precision="int8", out=str(tmp_path / "ov8"))
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="no CUDA device here"):
            YOLO(weights).export(format="torchscript", device="cuda", out=str(tmp_path / "m.torchscript"))
    assert not (tmp_path / "m.onnx").exists() and not (tmp_path / "ov8").exists()


def test_predict_on_another_backend_or_int8_from_an_in_memory_model(tmp_path: Path) -> None:
    # found by hand: YOLO("yolov3-tiny").predict(img, backend="openvino") raised "TypeError: expected str, bytes or
    # os.PathLike object, not NoneType", and predict(precision="int8") said "unknown precision 'int8'"
    pytest.importorskip("openvino")
    torch.manual_seed(0)
    model = YOLO("yolov3-tiny", classes=3, width=0.25, imgsz=64)
    model.model = small_model(imgsz=64)  # confident heads: detections to compare
    image = random_image(64, 64, 2)
    (on_torch,) = model.predict(image, conf=0.2)
    (on_openvino,) = model.predict(image, conf=0.2, backend="openvino")
    _same(on_openvino, on_torch, box_tol=1e-3, score_tol=1e-5)
    with pytest.raises(ValueError, match="--backend onnxruntime cannot run a checkpoint"):
        model.predict(image, backend="onnxruntime")
    with pytest.raises(ValueError, match="int8 needs a quantised model; make one with `yolo3 export"):
        model.predict(image, precision="int8")


def test_predict_takes_a_webcam_index_as_an_int(tmp_path: Path) -> None:
    # found by hand: the README's `predict(0)` (webcam) raised "TypeError: input 0: unsupported type int";
    # only the string "0" reached the webcam
    from yolo3.inference.sources import SourceError

    model = YOLO(saved_model(tmp_path))
    for source in (97, "97"):  # no camera at index 97 here: the webcam's own error, not a TypeError
        with pytest.raises(SourceError, match=r"webcam 97: OpenCV cannot open it"):
            model.predict(source)


def test_an_openvino_export_loads_back_and_predicts_and_validates(tmp_path: Path) -> None:
    """YOLO(w).export(format="openvino") wrote a folder that YOLO() refused ("not a registered
    model ... and no such file"); an export now predicts and validates as `yolo3 detect/val
    --weights DIR` do, and refuses train/export naming the checkpoint it needs."""
    pytest.importorskip("openvino")
    import yaml
    from yolo3.io.checkpoint import save_model

    data = synth_data(tmp_path, n_train=2, n_val=2, imgsz=96)
    names = tuple(yaml.safe_load(data.read_text())["names"])
    torch.manual_seed(0)
    weights = tmp_path / "m.safetensors"
    save_model(weights, small_model(class_names=names))
    xml = YOLO(weights).export(format="openvino", out=str(tmp_path / "ov"))
    image = random_image(96, 96, 3)
    expected = Detector.load(weights, backend="openvino", nms=NMS)(image)[0]
    for given in (xml.parent, xml):
        model = YOLO(given)
        assert model.kind == "openvino" and model.names == list(names) and model.cfg.imgsz == 96
        _same(model.predict(image, conf=0.2)[0], expected, 0.0, 0.0)  # one engine, one file: the same numbers
    got = YOLO(xml.parent).val(data=data, out=tmp_path / "val_a", no_plots=True)
    direct, _ = val_function(xml.parent, data, "val", 96, 8, None, tmp_path / "val_b", plots=False,
                             backend="openvino")
    assert got.metrics == direct.metrics and "mAP@0.5" in got.metrics
    with pytest.raises(ValueError, match="OpenVINO export can predict, val and info only"):
        YOLO(xml.parent).export(format="onnx")
