"""convert-darknet without --names: an 80-class cfg gets the 80 COCO names shipped as
package data (the README's example runs from any folder)."""

from __future__ import annotations

from pathlib import Path

import torch

from yolo3.cli import main
from yolo3.darknet import save_darknet
from yolo3.io.checkpoint import read_metadata
from yolo3.models import create_model

# A few of darknet's data/coco.names entries, by index (its spelling: motorbike, tvmonitor).
COCO_SPOT_CHECK = {0: "person", 3: "motorbike", 9: "traffic light", 62: "tvmonitor", 79: "toothbrush"}


def _darknet_files(tmp_path: Path, classes: int) -> tuple[Path, Path]:
    torch.manual_seed(0)
    model = create_model("yolov3-tiny", num_classes=classes, width=0.25, imgsz=64)
    cfg, weights = tmp_path / f"m{classes}.cfg", tmp_path / f"m{classes}.weights"
    save_darknet(model, cfg, weights)
    return cfg, weights


def test_80_class_cfg_gets_the_coco_names(tmp_path: Path, monkeypatch, capsys) -> None:
    cfg, weights = _darknet_files(tmp_path, 80)
    monkeypatch.chdir(tmp_path)  # no coco.names here
    for extra in ([], ["--names", "coco.names"]):  # the README's line runs as written
        out = tmp_path / f"m{len(extra)}.safetensors"
        assert main(["convert-darknet", str(cfg), str(weights), "--out", str(out), *extra]) == 0
        names = read_metadata(out)["model"]["class_names"]
        assert len(names) == 80 == len(set(names))
        assert {i: names[i] for i in COCO_SPOT_CHECK} == COCO_SPOT_CHECK
    assert "COCO class names shipped with yolo3" in capsys.readouterr().out


def test_other_class_counts_keep_ids_and_names_file_wins(tmp_path: Path) -> None:
    cfg, weights = _darknet_files(tmp_path, 3)
    assert main(["convert-darknet", str(cfg), str(weights), "--out", str(tmp_path / "a.safetensors")]) == 0
    assert read_metadata(tmp_path / "a.safetensors")["model"]["class_names"] is None
    (tmp_path / "my.names").write_text("a\nb\nc\n")
    assert main(["convert-darknet", str(cfg), str(weights), "--out", str(tmp_path / "b.safetensors"),
                 "--names", str(tmp_path / "my.names")]) == 0
    assert read_metadata(tmp_path / "b.safetensors")["model"]["class_names"] == ["a", "b", "c"]


def test_a_names_file_of_another_class_count_names_both_files(tmp_path: Path, capsys) -> None:
    """A .names file with 2 names for a 3-class cfg said only 'class_names has 2 names but
    num_classes is 3', naming neither file."""
    cfg, weights = _darknet_files(tmp_path, 3)
    (tmp_path / "two.names").write_text("a\nb\n")
    assert main(["convert-darknet", str(cfg), str(weights), "--out", str(tmp_path / "x.safetensors"),
                 "--names", str(tmp_path / "two.names")]) == 2
    err = capsys.readouterr().err.strip()
    assert err == (f"yolo3 convert-darknet: error: {tmp_path / 'two.names'}: 2 class names, but {cfg} has classes=3; "
                   "give one name per line for each class (or drop --names)"), err
    assert not (tmp_path / "x.safetensors").exists()


def test_to_darknet_writes_the_names_that_come_back_with_names(tmp_path: Path, capsys) -> None:
    """checkpoint → darknet wrote .cfg and .weights but no .names: the class names were lost
    on the way to darknet and back. A .names file (darknet's format: one per line) is
    written beside --out, or at --names-out; without names in the checkpoint, none."""
    from yolo3.io.checkpoint import save_model

    torch.manual_seed(0)
    model = create_model("yolov3-tiny", num_classes=3, width=0.25, imgsz=64, class_names=["red cell", "wbc", "plt"])
    save_model(tmp_path / "m.safetensors", model)
    assert main(["convert-darknet", str(tmp_path / "m.safetensors"), "--out", str(tmp_path / "d" / "m.weights")]) == 0
    assert f"{tmp_path / 'd' / 'm.names'}: yolov3-tiny, 3 classes" in capsys.readouterr().out
    assert (tmp_path / "d" / "m.names").read_text() == "red cell\nwbc\nplt\n"
    assert main(["convert-darknet", str(tmp_path / "d" / "m.cfg"), str(tmp_path / "d" / "m.weights"),
                 "--out", str(tmp_path / "back.safetensors"), "--names", str(tmp_path / "d" / "m.names")]) == 0
    assert read_metadata(tmp_path / "back.safetensors")["model"]["class_names"] == ["red cell", "wbc", "plt"]
    assert main(["convert-darknet", str(tmp_path / "m.safetensors"), "--out", str(tmp_path / "e" / "m.weights"),
                 "--names-out", str(tmp_path / "e" / "m.weights")]) == 2  # would overwrite the .weights
    assert "--out and --names-out are both" in capsys.readouterr().err
    save_model(tmp_path / "anon.safetensors", create_model("yolov3-tiny", num_classes=3, width=0.25, imgsz=64))
    assert main(["convert-darknet", str(tmp_path / "anon.safetensors"), "--out", str(tmp_path / "f" / "a.weights")]) == 0
    assert "no .names written" in capsys.readouterr().out and not (tmp_path / "f" / "a.names").exists()
