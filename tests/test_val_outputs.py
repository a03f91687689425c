"""val's files: --save-json writes exactly what was scored (pycocotools on the two files
gives val's numbers); --save-thresholds writes a copy unless --in-place confirms, and
refuses degenerate thresholds; detect's JSON uses the category ids of convert --to coco."""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from yolo3.cli import main
from yolo3.data.formats import load_dataset, save_dataset
from yolo3.eval.coco import COCO_METRIC_NAMES
from yolo3.io.checkpoint import read_metadata, save_model
from yolo3.models import create_model



def _setup(tmp_path: Path, bias: float) -> tuple[Path, Path, list[str]]:
    """A YOLO dataset of 4 images, 64 px, each with one box over 95 % of the image (what
    an untrained model's clipped, full-image boxes overlap at IoU 0.9), and a model."""
    import cv2

    from _infer_utils import random_image

    names = ["a", "b"]
    for split in ("images/val", "labels/val"):
        (tmp_path / split).mkdir(parents=True)
    for i in range(4):
        cv2.imwrite(str(tmp_path / "images" / "val" / f"{i}.png"), random_image(64, 64, seed=i))
        (tmp_path / "labels" / "val" / f"{i}.txt").write_text(f"{i % 2} 0.5 0.5 0.95 0.95\n")
    data = tmp_path / "data.yaml"
    data.write_text(f"path: {tmp_path}\ntrain: images/val\nval: images/val\nnames: {names}\n")
    torch.manual_seed(0)
    model = create_model("yolov3-tiny", num_classes=len(names), class_names=names, width=0.25, imgsz=64)
    with torch.no_grad():  # bias > 0: confident detections from an untrained model; 0: the prior (~1e-4 scores)
        for head in model.heads:
            head.conv.bias.add_(bias)
    weights = tmp_path / "w.safetensors"
    save_model(weights, model.eval())
    return data, weights, names


def test_save_json_recomputes_with_pycocotools(tmp_path: Path) -> None:
    data, weights, _ = _setup(tmp_path, 6.0)
    out = tmp_path / "v"
    assert main(["val", "--weights", str(weights), "--data", str(data), "--out", str(out), "--no-plots",
                 "--save-json"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO(str(out / "ground_truth.json"))
        dt = gt.loadRes(str(out / "predictions.json"))
        ev = COCOeval(gt, dt, "bbox")  # the reference evaluator, not yolo3's fast copy
        ev.evaluate(), ev.accumulate(), ev.summarize()
    assert len(gt.getImgIds()) == 4 and len(dt.getAnnIds()) > 0 and ev.stats[1] > 0  # something matched
    metrics = summary["metrics"]
    assert [metrics[k] for k in COCO_METRIC_NAMES] == pytest.approx(list(ev.stats), abs=1e-9)


def test_save_thresholds_writes_a_copy_unless_in_place(tmp_path: Path, capsys) -> None:
    data, weights, names = _setup(tmp_path, 6.0)
    before = weights.read_bytes()
    assert main(["val", "--weights", str(weights), "--data", str(data), "--out", str(tmp_path / "v"), "--no-plots",
                 "--save-thresholds"]) == 0
    copy = tmp_path / "v" / "w.safetensors"
    assert weights.read_bytes() == before  # the original is untouched
    thresholds = read_metadata(copy)["class_thresholds"]
    assert len(thresholds) == len(names) and min(thresholds) >= 0.01
    assert f"yolo3 detect --weights {copy} --thresholds auto" in capsys.readouterr().out
    assert main(["val", "--weights", str(weights), "--data", str(data), "--out", str(tmp_path / "v2"), "--no-plots",
                 "--save-thresholds", "--in-place"]) == 0
    assert read_metadata(weights)["class_thresholds"] == thresholds
    assert main(["val", "--weights", str(weights), "--data", str(data), "--in-place"]) == 2
    assert "--in-place only applies with --save-thresholds" in capsys.readouterr().err


def test_degenerate_thresholds_are_refused(tmp_path: Path, capsys) -> None:
    data, weights, _ = _setup(tmp_path, 0.0)  # untrained: scores near the 0.01·0.01 prior
    before = weights.read_bytes()
    rc = main(["val", "--weights", str(weights), "--data", str(data), "--out", str(tmp_path / "v"), "--no-plots",
               "--save-thresholds", "--in-place"])
    captured = capsys.readouterr()
    assert rc == 2 and "mAP@0.5:0.95" in captured.out  # the metrics are still shown
    err = captured.err.strip().splitlines()[-1]
    assert err.startswith("yolo3 val: error: --save-thresholds: ") and "below 0.01" in err and "nothing written" in err
    assert weights.read_bytes() == before and not (tmp_path / "v" / "w.safetensors").exists()


def test_detect_json_category_ids_match_convert_to_coco(tmp_path: Path, capsys) -> None:
    data, weights, names = _setup(tmp_path, 6.0)
    coco_root = save_dataset(load_dataset(data), tmp_path / "coco", "coco", images="none")
    categories = json.loads((coco_root / "annotations" / "val.json").read_text())["categories"]
    id_of = {c["name"]: c["id"] for c in categories}
    out = tmp_path / "det"
    assert main(["detect", str(data.parent / "images" / "val"), "--weights", str(weights), "--out", str(out),
                 "--conf", "0.3", "--no-images"]) == 0
    assert "category_id = class index + 1" in capsys.readouterr().out
    records = json.loads((out / "predictions.json").read_text())
    assert records
    for txt in (out / "labels").glob("*.txt"):  # the txt files hold class indices, the JSON category ids
        classes = sorted(int(line.split()[0]) for line in txt.read_text().splitlines())
        ids = sorted(r["category_id"] for r in records if str(r["image_id"]) == txt.stem)
        assert ids == sorted(id_of[names[c]] for c in classes)


def test_thresholds_chosen_without_ground_truth_are_refused(tmp_path: Path, capsys) -> None:
    """A split of background images: no class has a box to choose a threshold by, so every
    threshold is the fallback default (0.25); --save-thresholds stored them as if chosen."""
    data, weights, _ = _setup(tmp_path, 6.0)
    for label in (tmp_path / "labels" / "val").glob("*.txt"):
        label.write_text("")
    rc = main(["val", "--weights", str(weights), "--data", str(data), "--out", str(tmp_path / "v"), "--no-plots",
               "--save-thresholds"])
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert rc == 2 and err.startswith("yolo3 val: error: --save-thresholds: ") and "nothing written" in err
    assert "no class" in err and not (tmp_path / "v" / "w.safetensors").exists()


def _same_detections(a: list, b: list) -> bool:
    return len(a) == len(b) and all(
        np.array_equal(x.boxes, y.boxes) and np.array_equal(x.scores, y.scores)
        and np.array_equal(x.class_ids, y.class_ids) for x, y in zip(a, b))


def test_val_measures_what_the_detector_computes_with_tta_and_darknet_preprocess(tmp_path: Path) -> None:
    """val's --preprocess and --tta reach the Detector that scores the split: its
    detections equal those of a Detector loaded by hand with the same settings (and
    differ from the default pipeline's, so the comparison can fail)."""
    from yolo3.eval.detector_eval import detector_detections
    from yolo3.eval.result import VAL_NMS
    from yolo3.eval.val import val
    from yolo3.inference.detector import Detector
    from yolo3.inference.tta import TTAConfig

    data, weights, _ = _setup(tmp_path, 6.0)
    samples = load_dataset(data).splits["val"]  # 64 px images at 96: both letterboxes resize

    def by_hand(precision: str, preprocess: str = "yolo3", tta: TTAConfig | None = None) -> list:
        detector = Detector.load(weights, precision=precision, backend="torch", imgsz=96, preprocess=preprocess)
        return detector_detections(detector, samples, VAL_NMS, tta)

    def by_val(name: str, precision: str, **kwargs) -> list:
        result, _ = val(weights, data, imgsz=96, out_dir=tmp_path / name, plots=False, backend="torch",
                        precision=precision, **kwargs)
        return result.detections

    darknet = by_val("darknet", "bf16", preprocess="darknet")
    assert _same_detections(darknet, by_hand("bf16", "darknet"))
    assert not _same_detections(darknet, by_hand("bf16"))
    tta = by_val("tta", "fp32", tta=TTAConfig())
    assert _same_detections(tta, by_hand("fp32", tta=TTAConfig()))
    assert not _same_detections(tta, by_hand("fp32"))

    out = tmp_path / "cli"
    assert main(["val", "--weights", str(weights), "--data", str(data), "--imgsz", "96", "--backend", "torch",
                 "--tta", "--out", str(out), "--no-plots"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["tta"] == {"scales": [1.0, 0.83, 0.67], "flip": True, "merge": True, "merge_iou": 0.6}
    assert summary["metrics"]["mAP@0.5:0.95"] == pytest.approx(
        json.loads((tmp_path / "tta" / "summary.json").read_text())["metrics"]["mAP@0.5:0.95"], rel=1e-12)


def test_tta_scales_reach_val_and_detect(tmp_path: Path, capsys) -> None:
    """--tta-scales (detect, val, the YOLO facade) sets the views and implies --tta; a
    scale ≤ 0 is refused before anything runs."""
    from yolo3 import YOLO
    from yolo3.inference.detector import Detector
    from yolo3.inference.tta import TTAConfig

    data, weights, _ = _setup(tmp_path, 6.0)
    out = tmp_path / "v"
    assert main(["val", "--weights", str(weights), "--data", str(data), "--backend", "torch", "--tta-scales", "1",
                 "1.5", "--out", str(out), "--no-plots"]) == 0
    assert json.loads((out / "summary.json").read_text())["tta"]["scales"] == [1.0, 1.5]
    with pytest.raises(SystemExit):
        main(["val", "--weights", str(weights), "--data", str(data), "--tta-scales", "0"])
    assert "argument --tta-scales: 0 must be greater than 0" in capsys.readouterr().err

    image = str(data.parent / "images" / "val" / "0.png")
    views = TTAConfig(scales=(1.0, 1.5))
    expected = Detector.load(weights, backend="torch", nms=None)(image, tta=views)
    got = YOLO(weights).predict(image, tta_scales=[1.0, 1.5], backend="torch", conf=0.25, iou=0.45)
    plain = YOLO(weights).predict(image, backend="torch", conf=0.25, iou=0.45)
    assert _same_detections(got, expected) and not _same_detections(got, plain)


def test_save_thresholds_on_an_export_is_refused_before_evaluating(tmp_path: Path, capsys) -> None:
    # found by hand: `val --weights m.onnx --save-thresholds` evaluated the whole split, copied the .onnx into the
    # val folder, then said "<val folder>/m.onnx: corrupt or not a checkpoint ... re-download or re-export it"
    from yolo3.export import export_checkpoint

    data, weights, _ = _setup(tmp_path, 6.0)
    onnx_path = export_checkpoint(weights, "onnx", tmp_path / "m.onnx")
    rc = main(["val", "--weights", str(onnx_path), "--data", str(data), "--out", str(tmp_path / "v"), "--no-plots",
               "--save-thresholds"])
    captured = capsys.readouterr()
    assert rc == 2 and "mAP@0.5:0.95" not in captured.out
    assert captured.err.strip() == (f"yolo3 val: error: --save-thresholds writes into a .safetensors checkpoint; "
                                    f"{onnx_path} is not one (give the checkpoint it was exported from)")
    assert not (tmp_path / "v").exists()


def test_a_coco_datasets_category_ids_reach_detects_json(tmp_path: Path, capsys) -> None:
    """A model trained on a COCO file with ids 3 and 7 wrote predictions.json with ids 1
    and 2: nothing recorded the dataset's ids, so the file could not be scored against the
    user's own annotations. Training now records them; detect and Detections.to_json use
    them (without them: index + 1)."""
    from _train_utils import small_config
    from yolo3.inference.detector import Detector
    from yolo3.io.checkpoint import load_model
    from yolo3.train import train

    data, weights, _ = _setup(tmp_path / "yolo", 6.0)
    coco = save_dataset(load_dataset(data), tmp_path / "coco", "coco")
    for split in ("train", "val"):
        path = coco / "annotations" / f"{split}.json"
        doc = json.loads(path.read_text())
        new_id = {1: 3, 2: 7}  # 'a' → 3, 'b' → 7 (by id the class order stays a, b)
        for c in doc["categories"]:
            c["id"] = new_id[c["id"]]
        for a in doc["annotations"]:
            a["category_id"] = new_id[a["category_id"]]
        path.write_text(json.dumps(doc))
    result = train(small_config(coco, tmp_path / "runs", epochs=1, max_steps_per_epoch=1, augment=None))
    assert read_metadata(result.best)["category_ids"] == [3, 7]
    trained_on_yolo = small_config(data, tmp_path / "runs", name="y", epochs=1, max_steps_per_epoch=1, augment=None)
    assert "category_ids" not in read_metadata(train(trained_on_yolo).best)  # 1..C: nothing to record

    confident, _ = load_model(weights)  # heads biased: detections to look at, with the trained run's ids
    save_model(tmp_path / "ids.safetensors", confident, category_ids=[3, 7])
    out = tmp_path / "det"
    assert main(["detect", str(coco / "images" / "val"), "--weights", str(tmp_path / "ids.safetensors"),
                 "--out", str(out), "--conf", "0.3", "--no-images", "--backend", "torch"]) == 0
    assert "category_id = the checkpoint's category_ids" in capsys.readouterr().out
    records = json.loads((out / "predictions.json").read_text())
    assert records and {r["category_id"] for r in records} <= {3, 7}
    for txt in (out / "labels").glob("*.txt"):
        classes = sorted(int(line.split()[0]) for line in txt.read_text().splitlines())
        assert sorted(r["category_id"] for r in records if str(r["image_id"]) == txt.stem) == [
            [3, 7][c] for c in classes]
    image = coco / "images" / "val" / "0.png"
    dets = Detector.load(tmp_path / "ids.safetensors", backend="torch")(image)[0]
    assert len(dets) and [r["category_id"] for r in dets.to_json()] == [[3, 7][c] for c in dets.class_ids]
    plain = Detector.load(weights, backend="torch")(image)[0]
    assert [r["category_id"] for r in plain.to_json()] == [c + 1 for c in plain.class_ids]


def _model_named_b_a(tmp_path: Path, class_b_boost: float = 0.0) -> Path:
    """A confident untrained 2-class model whose classes are named (b, a): datasets without
    a class list read them sorted (a, b). class_b_boost raises class 0's logit everywhere."""
    torch.manual_seed(0)
    model = create_model("yolov3-tiny", num_classes=2, class_names=["b", "a"], width=0.25, imgsz=64)
    with torch.no_grad():
        for head in model.heads:
            head.conv.bias.add_(6.0)
            head.conv.bias.view(-1, 7)[:, 5] += class_b_boost
    path = tmp_path / "ba.safetensors"
    save_model(path, model.eval())
    return path


def test_benchmark_measures_the_map_val_measures_on_a_voc_dataset(tmp_path: Path) -> None:
    """A VOC dataset lists no class order (sorted names: a, b); a model trained as (b, a)
    is scored by val in the model's order, and benchmark's mAP must be that same number."""
    from yolo3.eval.benchmark import benchmark
    from yolo3.eval.val import val

    data, _, _ = _setup(tmp_path, 6.0)
    yolo = load_dataset(data)
    voc = save_dataset(dataclasses.replace(yolo, class_names=["b", "a"]), tmp_path / "voc", "voc")
    (voc / "classes.txt").unlink()
    assert load_dataset(voc).class_names == ["a", "b"]
    weights = _model_named_b_a(tmp_path, class_b_boost=4.0)  # class 0 ('b') scores above class 1 everywhere
    result, _ = val(weights, voc, plots=False, out_dir=tmp_path / "v", backend="torch")
    table = benchmark(weights, voc, batch=1, rounds=1, int8=False, rows=[("torch", "fp32")])
    assert table.rows[0].map50 == pytest.approx(100 * result.metrics["mAP@0.5"], abs=1e-9)
    other = tmp_path / "xy.safetensors"
    save_model(other, create_model("yolov3-tiny", num_classes=2, class_names=["x", "y"], width=0.25, imgsz=64))
    with pytest.raises(ValueError, match="differ from the dataset's"):  # as val: no mAP of unrelated classes
        benchmark(other, data, batch=1, rounds=1, int8=False, rows=[("torch", "fp32")])


def test_benchmark_reports_undefined_map_as_undefined(tmp_path: Path) -> None:
    """A split without ground truth has no mAP (val prints n/a): benchmark said 0.00."""
    from yolo3.eval.benchmark import benchmark

    data, weights, _ = _setup(tmp_path, 6.0)
    for label in (tmp_path / "labels" / "val").glob("*.txt"):
        label.write_text("")
    table = benchmark(weights, data, batch=1, rounds=1, int8=False, rows=[("torch", "fp32")])
    assert table.val_images == 4 and table.rows[0].map50 is None and table.rows[0].map is None
    assert "| — | — |" in table.format()


def test_benchmark_on_a_missing_split_names_the_splits_there_are(tmp_path: Path, capsys) -> None:
    data, weights, _ = _setup(tmp_path, 6.0)
    assert main(["benchmark", "--weights", str(weights), "--data", str(data), "--split", "test", "--no-int8"]) == 2
    err = capsys.readouterr().err
    assert "no 'test' split" in err and "['train', 'val']" in err and "--split" in err


def test_val_reads_labelme_classes_in_the_models_order(tmp_path: Path) -> None:
    """LabelMe files name their classes as VOC's do; without classes.txt they read sorted
    (a, b), and val refused a model of (b, a) although the names are the same."""
    from yolo3.eval.val import val

    data, weights, _ = _setup(tmp_path, 6.0)
    yolo = load_dataset(data)
    labelme = save_dataset(dataclasses.replace(yolo, class_names=["b", "a"]), tmp_path / "lm", "labelme")
    (labelme / "classes.txt").unlink()
    assert load_dataset(labelme).class_names == ["a", "b"]
    ba = _model_named_b_a(tmp_path)
    theirs = dataclasses.replace(yolo, class_names=["b", "a"])  # the same boxes, named in the model's order
    yolo_root = save_dataset(theirs, tmp_path / "yolo_ba", "yolo")
    ref, _ = val(ba, yolo_root, plots=False, out_dir=tmp_path / "v1", backend="torch")
    got, _ = val(ba, labelme, plots=False, out_dir=tmp_path / "v2", backend="torch")
    assert got.metrics == ref.metrics and got.n_gt == ref.n_gt
