"""The bad dataset of _reliability_utils through `train` (a few steps), `val` and
`detect`, by the CLI, under paths with unicode and spaces: each run finishes (or, for
detect, fails with a message naming the file) and reports what the check found."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import _reliability_utils as R
from yolo3.cli import main as cli_main
from yolo3.data.image_io import ImageReadError, read_image
from yolo3.io.checkpoint import load_model
from yolo3.ops.allocator import keep_freed_memory
from yolo3.train.logging import read_metrics


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("relpipe") / R.UNSAFE_DIR
    data = R.write_yolo(root / "yolo ds")
    code = cli_main(["train", "--data", str(data), "--model", "yolov3-tiny", "--width", "0.25", "--imgsz", "64",
                     "--epochs", "1", "--batch-size", "4", "--workers", "0", "--amp", "off", "--max-steps", "3",
                     "--project", str(root / "runs ü"), "--name", "bad run", "--no-tensorboard", "--no-progress",
                     "--val-interval", "1"])
    assert code == 0
    return {"data": data, "run": root / "runs ü" / "bad run", "root": root}


def test_train_finishes_on_the_bad_dataset_and_logs_the_check(trained) -> None:
    run = trained["run"]
    log = (run / "train.log").read_text(encoding="utf-8")
    for line in ("data check: unreadable: 4", "data check: too_large: 1", "data check: truncated_image: 1",
                 "data check: bad_label: 7", "data check: images_kept/train: 16", "data check: images_kept/val: 2"):
        assert line in log, line
    assert f"freed memory kept: {'yes' if keep_freed_memory() else 'no'}" in log  # ops/allocator.py, said once
    rows = read_metrics(run / "metrics.csv")
    assert [r["epoch"] for r in rows] == ["1"] and float(rows[0]["train/loss"]) > 0
    assert "mAP@0.5" in rows[0]  # validation ran on the two readable val images
    model, meta = load_model(run / "weights" / "last.safetensors")
    assert model.cfg.class_names == R.NAMES and meta["train"]["epoch"] == 0


def test_val_skips_broken_images_and_reports_counts(trained, capsys) -> None:
    out = trained["root"] / "val out"
    code = cli_main(["val", "--weights", str(trained["run"] / "weights" / "last.safetensors"), "--data",
                     str(trained["data"]), "--split", "val", "--imgsz", "64", "--out", str(out), "--no-plots"])
    assert code == 0, capsys.readouterr().err
    summary = json.loads((out / "summary.json").read_text())
    check = summary["data_check"]
    assert check["unreadable"] == 2 and check["non_rgb"] == 1 and check["images_kept/val"] == 2
    assert summary["images"] == 2


def test_detect_names_the_broken_file(trained, capsys) -> None:
    folder = trained["data"].parent / "images" / "train"
    code = cli_main(["detect", str(folder / "good one.jpg"), str(folder / "one_pixel.png"), str(folder / "grey.png"),
                     str(folder / "exif6.jpg"), str(folder / "sixteen.png"), "--weights",
                     str(trained["run"] / "weights" / "last.safetensors"), "--out", str(trained["root"] / "det ok"),
                     "--imgsz", "64", "--conf", "0.001"])
    assert code == 0, capsys.readouterr().err
    assert len(list((trained["root"] / "det ok" / "labels").glob("*.txt"))) == 5
    code = cli_main(["detect", str(folder), "--weights", str(trained["run"] / "weights" / "last.safetensors"),
                     "--out", str(trained["root"] / "det all"), "--imgsz", "64"])
    out = capsys.readouterr().out
    assert code == 0 and "empty.jpg: empty file" in out  # skipped, named, counted; the run goes on


def test_detect_on_a_folder_with_broken_files_processes_the_rest(trained, capsys) -> None:
    folder = trained["data"].parent / "images" / "train"
    code = cli_main(["detect", str(folder), "--weights", str(trained["run"] / "weights" / "last.safetensors"),
                     "--out", str(trained["root"] / "det rest"), "--imgsz", "64"])
    assert code == 0
    files = [f for f in folder.iterdir() if f.suffix.lower() in (".jpg", ".jpeg", ".png")]
    readable, unreadable = [], []
    for f in files:
        try:
            read_image(f)
            readable.append(f)
        except ImageReadError:
            unreadable.append(f)
    assert unreadable and readable  # the folder really mixes both
    assert len(list((trained["root"] / "det rest" / "labels").glob("*.txt"))) == len(readable)
    printed = capsys.readouterr().out
    assert f"skipped {len(unreadable)} unreadable image(s)" in printed
    assert all(f.name in printed for f in unreadable)


def test_the_configured_pixel_cap_reaches_every_reader_of_train_and_val(tmp_path: Path) -> None:
    """data_check.max_pixels raised above the 64 MP default: images the check lets through
    are read with that cap by the loader, validation, the val loss and val's image grid
    (each used to read with the fixed 64 MP cap and fail on them)."""
    import cv2
    import numpy as np
    import yaml

    from _train_utils import small_config
    from yolo3.data.augment.config import AugmentConfig
    from yolo3.data.image_io import MAX_PIXELS
    from yolo3.data.validate import CheckPolicy
    from yolo3.eval.val import val
    from yolo3.train import train
    from yolo3.train.diagnostics import overfit_batch

    side = 8001  # 64,016,001 px: just above the default cap; a flat grey PNG stays tiny on disk
    assert side * side > MAX_PIXELS
    grey = np.full((side, side), 90, np.uint8)
    grey[2000:6000, 1000:5000] = 200
    for split in ("train", "val"):
        for folder in ("images", "labels"):
            (tmp_path / "d" / folder / split).mkdir(parents=True)
        assert cv2.imwrite(str(tmp_path / "d" / "images" / split / "a.png"), grey)
        (tmp_path / "d" / "labels" / split / "a.txt").write_text("0 0.375 0.5 0.5 0.5\n")
    data = tmp_path / "d" / "data.yaml"
    data.write_text(yaml.safe_dump({"path": ".", "train": "images/train", "val": "images/val", "names": ["box"]}))
    with pytest.raises(ImageReadError, match="exceeds the cap of 64 MP"):  # what every reader did before
        read_image(tmp_path / "d" / "images" / "val" / "a.png")
    policy = CheckPolicy(max_pixels=65_000_000)
    cfg = small_config(data, tmp_path / "runs", epochs=1, val_interval=1, batch_size=1,
                       augment=AugmentConfig(mosaic=0.0), data_check=policy)
    assert overfit_batch(cfg, steps=1).losses  # the diagnostics' loader (lr-find, overfit, diagnose) too
    result = train(cfg)
    [row] = read_metrics(result.run_dir / "metrics.csv")
    assert "mAP@0.5" in row and float(row["val/loss"]) > 0
    out = tmp_path / "val"
    res, _ = val(result.run_dir / "weights" / "last.safetensors", data, imgsz=64, out_dir=out, plots=True,
                 check_policy=policy)
    assert (out / "val_images.jpg").exists() and len(res.detections) == 1
    assert res.data_check.counts.get("too_large", 0) == 0
