"""Outputs never overwrite: detect and val make a new numbered folder like train does
(one function, yolo3.io.runs.next_run_dir)."""

from __future__ import annotations

import os
import json
from pathlib import Path

import cv2
import yaml

from yolo3.cli import main
from yolo3.io.checkpoint import save_model
from yolo3.io.runs import next_run_dir
from yolo3.models import create_model
from yolo3.train.setup import new_run_dir

from _infer_utils import random_image, saved_model
from _train_utils import synth_data


def test_next_run_dir_numbers_and_claims(tmp_path: Path) -> None:
    assert next_run_dir(tmp_path, "exp") == tmp_path / "exp"
    assert next_run_dir(tmp_path, "exp") == tmp_path / "exp2"  # the first one now exists
    assert next_run_dir(tmp_path, "exp") == tmp_path / "exp3"
    assert next_run_dir(tmp_path, "exp", exist_ok=True) == tmp_path / "exp"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["exp", "exp2", "exp3"]
    assert new_run_dir(tmp_path, "exp", False) == tmp_path / "exp4" and (tmp_path / "exp4" / "weights").is_dir()


def test_detect_twice_into_the_same_out_keeps_the_first(tmp_path: Path, capsys) -> None:
    weights = saved_model(tmp_path)
    (tmp_path / "imgs").mkdir()
    cv2.imwrite(str(tmp_path / "imgs" / "a.jpg"), random_image(80, 120))
    argv = ["detect", str(tmp_path / "imgs"), "--weights", str(weights), "--out", str(tmp_path / "det"), "--conf", "0.2"]
    assert main(argv) == 0
    first = (tmp_path / "det" / "predictions.json").read_bytes()
    (tmp_path / "det" / "predictions.json").write_text("[]")  # a marker: must survive the second run
    assert main(argv) == 0
    assert (tmp_path / "det" / "predictions.json").read_text() == "[]"
    assert (tmp_path / "det2" / "predictions.json").read_bytes() == first
    assert str(tmp_path / "det2") in capsys.readouterr().out


def test_val_default_folders_are_numbered(tmp_path: Path, monkeypatch) -> None:
    data = synth_data(tmp_path, n_train=2, n_val=2, imgsz=64)
    names = yaml.safe_load(data.read_text())["names"]
    names = list(names.values()) if isinstance(names, dict) else names
    weights = tmp_path / "w.safetensors"
    save_model(weights, create_model("yolov3-tiny", num_classes=len(names), class_names=names, width=0.25, imgsz=64))
    monkeypatch.chdir(tmp_path)
    for expected in ("val", "val2"):
        assert main(["val", "--weights", str(weights), "--data", str(data), "--no-plots"]) == 0
        assert (tmp_path / "runs" / expected / "summary.json").is_file()
    assert sorted(os.listdir(tmp_path / "runs")) == ["val", "val2"]


def _synth_voc(tmp_path: Path) -> tuple[Path, list[str]]:
    from yolo3.data.formats import load_dataset, save_dataset

    data = synth_data(tmp_path / "src", n_train=2, n_val=2, imgsz=64)
    index = load_dataset(data)
    return save_dataset(index, tmp_path / "voc", "voc"), list(index.class_names)


def test_val_on_voc_with_other_classes_stops_like_yolo_and_coco(tmp_path: Path, capsys) -> None:
    voc, names = _synth_voc(tmp_path)
    other = tmp_path / "other.safetensors"
    save_model(other, create_model("yolov3-tiny", num_classes=2, class_names=["cat", "dog"], width=0.25, imgsz=64))
    assert main(["val", "--weights", str(other), "--data", str(voc), "--no-plots", "--out", str(tmp_path / "v")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("yolo3 val: error: ") and "the model's classes ['cat', 'dog'] differ from the dataset's" in err
    assert not (tmp_path / "v").exists()  # nothing written
    # the same names in another order read the same boxes: evaluated, not refused
    same = tmp_path / "same.safetensors"
    save_model(same, create_model("yolov3-tiny", num_classes=len(names), class_names=names[::-1], width=0.25, imgsz=64))
    assert main(["val", "--weights", str(same), "--data", str(voc), "--no-plots", "--out", str(tmp_path / "v")]) == 0
    summary = json.loads((tmp_path / "v" / "summary.json").read_text())
    assert summary["dataset_format"] == "voc" and summary["images"] == 2


def test_out_under_a_file_is_a_clear_error(tmp_path: Path, capsys) -> None:
    # found by hand: `detect --out notes.txt/run` printed only "[Errno 17] File exists: '.../notes.txt'"
    (tmp_path / "notes.txt").write_text("x")
    image = tmp_path / "a.png"
    cv2.imwrite(str(image), random_image(64, 64))
    out = tmp_path / "notes.txt" / "run"
    assert main(["detect", str(image), "--weights", str(saved_model(tmp_path)), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err == (f"yolo3 detect: error: cannot make the output folder {out}: {tmp_path / 'notes.txt'} is a file, "
                   "not a folder; choose another output folder")


def test_detect_refused_for_bad_controls_or_sources_leaves_no_folder(tmp_path: Path, capsys) -> None:
    # found by hand: every refused `detect` (unknown class, bad --roi, missing source, ...) left an empty
    # numbered folder, so after a few typos the next real run landed in runs/detect9
    image = tmp_path / "a.png"
    cv2.imwrite(str(image), random_image(64, 64))
    weights, out = saved_model(tmp_path), tmp_path / "runs" / "detect"
    for extra in (["--classes", "7"], ["--roi", "[[[0,0],[1,0]]]"], ["--thresholds", "0.1,0.2"], ["--tta", "--preprocess",
                  "darknet"]):
        assert main(["detect", str(image), "--weights", str(weights), "--out", str(out), "--backend", "torch"] + extra) == 2
    assert main(["detect", str(tmp_path / "missing.jpg"), "--weights", str(weights), "--out", str(out)]) == 2
    assert "missing.jpg: no such file" in capsys.readouterr().err
    assert not (tmp_path / "runs").exists() or list((tmp_path / "runs").iterdir()) == []
    assert main(["detect", str(image), "--weights", str(weights), "--out", str(out), "--backend", "torch"]) == 0
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == ["detect"]
