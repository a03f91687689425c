"""Sources, the detect run (images + video) and the `yolo3 detect` CLI."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from _infer_utils import random_image, saved_model
from yolo3.cli import main
from yolo3.inference.detector import Detector
from yolo3.inference.postprocess import NMSConfig
from yolo3.inference.run import detect_sources
from yolo3.inference.sources import SourceError, expand_sources


def _video(path: Path, frames: int = 10, size: int = 96) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10, (size, size))
    for i in range(frames):
        writer.write(random_image(size, size, seed=i))
    writer.release()
    return path


def _count_frames(path: Path) -> int:
    capture, n = cv2.VideoCapture(str(path)), 0
    while capture.read()[0]:
        n += 1
    return n


def _images(folder: Path, n: int) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / f"{i}.jpg" for i in range(n)]
    for i, p in enumerate(paths):
        cv2.imwrite(str(p), random_image(80, 120, seed=i))
    return paths


def test_expand_sources_files_folders_globs(tmp_path: Path) -> None:
    imgs = _images(tmp_path / "imgs", 3)
    (tmp_path / "imgs" / "notes.txt").write_text("x")
    vid = _video(tmp_path / "clip.mp4", frames=2)
    found = expand_sources([tmp_path / "imgs", str(tmp_path / "imgs" / "*.jpg"), vid])
    assert [f.path for f in found] == imgs + [vid]  # duplicates from the glob removed, txt ignored
    assert [f.kind for f in found] == ["image"] * 3 + ["video"]
    with pytest.raises(SourceError, match="no such file"):
        expand_sources([tmp_path / "missing.jpg"])
    with pytest.raises(SourceError, match="matches no image"):
        expand_sources([str(tmp_path / "*.png")])
    with pytest.raises(SourceError, match="unknown file type"):
        expand_sources([tmp_path / "imgs" / "notes.txt"])


def test_video_in_video_out_same_frame_count(tmp_path: Path) -> None:
    det = Detector.load(saved_model(tmp_path), nms=NMSConfig(conf_threshold=0.2), batch_size=4, backend="torch")
    video = _video(tmp_path / "in.mp4", frames=10)
    assert _count_frames(video) == 10
    summary = detect_sources(det, [video], tmp_path / "out", progress=False)
    assert summary.frames == 10 and summary.videos == 1
    out = tmp_path / "out" / "in.mp4"
    assert _count_frames(out) == 10
    assert len(list((tmp_path / "out" / "labels").glob("in_*.txt"))) == 10


def test_detect_cli_writes_json_txt_and_images(tmp_path: Path) -> None:
    weights = saved_model(tmp_path)
    _images(tmp_path / "imgs", 3)
    rc = main(["detect", "--weights", str(weights), str(tmp_path / "imgs"), "--out", str(tmp_path / "out"),
               "--conf", "0.2", "--classes", "cat", "car"])
    assert rc == 0
    records = json.loads((tmp_path / "out" / "predictions.json").read_text())
    assert {r["image_id"] for r in records} <= {0, 1, 2} and records
    assert {r["category_id"] for r in records} <= {1, 3}  # class index + 1, as convert --to coco numbers them
    lines = (tmp_path / "out" / "labels" / "0.txt").read_text().splitlines()
    assert len(lines) == sum(r["image_id"] == 0 for r in records)
    annotated = cv2.imread(str(tmp_path / "out" / "0.jpg"))
    assert annotated.shape == (80, 120, 3)


def test_detect_cli_auto_thresholds_error_is_clear(tmp_path: Path, capsys) -> None:
    weights = saved_model(tmp_path)
    _images(tmp_path / "imgs", 1)
    rc = main(["detect", "--weights", str(weights), str(tmp_path / "imgs"), "--out", str(tmp_path / "o"),
               "--thresholds", "auto"])
    assert rc == 2
    assert "yolo3 val --save-thresholds" in capsys.readouterr().err


def test_corrupt_video_in_a_folder_is_skipped_reported_and_the_rest_written(tmp_path: Path, capsys) -> None:
    # found by hand: a folder with a.jpg, broken.mp4 (not a video) and v.mp4 ended the run at broken.mp4 with
    # exit 2: v.mp4 never ran and predictions.json (with a.jpg's boxes) was never written
    folder = tmp_path / "in"
    _images(folder, 1)
    (folder / "broken.mp4").write_bytes(b"junk")
    _video(folder / "v.mp4", frames=3)
    weights, out = saved_model(tmp_path), tmp_path / "out"
    code = main(["detect", str(folder), "--weights", str(weights), "--out", str(out), "--backend", "torch",
                 "--conf", "0.2"])
    printed = capsys.readouterr().out
    assert code == 0
    assert "skipped 1 unreadable input(s)" in printed and f"{folder / 'broken.mp4'}: cannot open video" in printed
    assert (out / "v.mp4").is_file() and _count_frames(out / "v.mp4") == 3
    assert sorted(p.name for p in (out / "labels").iterdir()) == ["0.txt", "v_000000.txt", "v_000001.txt",
                                                                  "v_000002.txt"]
    assert (out / "predictions.json").is_file()


def test_an_image_of_another_size_than_the_roi_mask_is_skipped_and_reported(tmp_path: Path, capsys) -> None:
    # found by hand: `detect folder --roi mask.png` stopped at the first image of another size than the mask
    # (exit 2, naming only the mask): the images before it kept their labels but predictions.json was never
    # written and the images after it never ran
    folder = _images(tmp_path / "in", 3)  # 120x80 each
    cv2.imwrite(str(folder[1]), random_image(64, 96))  # 1.jpg: another size
    mask = np.zeros((80, 120), np.uint8)
    mask[:, :60] = 255
    cv2.imwrite(str(tmp_path / "mask.png"), mask)
    clip = _video(tmp_path / "clip.mp4", frames=2)  # 96x96: another size too
    out = tmp_path / "out"
    code = main(["detect", str(tmp_path / "in"), str(clip), "--weights", str(saved_model(tmp_path)), "--out", str(out),
                 "--roi", str(tmp_path / "mask.png"), "--conf", "0.2", "--backend", "torch", "--batch-size", "1"])
    printed = capsys.readouterr().out
    assert code == 0
    assert "skipped 2 unreadable input(s)" in printed
    assert f"{folder[1]}: 96x64, but the ROI mask {tmp_path / 'mask.png'} is 120x80" in printed
    assert f"{clip}: 96x96, but the ROI mask" in printed
    assert sorted(p.name for p in (out / "labels").iterdir()) == ["0.txt", "2.txt"]
    records = json.loads((out / "predictions.json").read_text())
    assert {r["image_id"] for r in records} <= {0, 2}


def test_detect_fails_when_every_input_was_skipped(tmp_path: Path, capsys) -> None:
    """detect exited 0 ("0 images, 0 videos") when no input could be read: scripts took
    the run for a success."""
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "a.jpg").write_bytes(b"not a jpeg")
    (folder / "v.mp4").write_bytes(b"junk")
    code = main(["detect", str(folder), "--weights", str(saved_model(tmp_path)), "--out", str(tmp_path / "out"),
                 "--backend", "torch"])
    captured = capsys.readouterr()
    assert code == 2
    assert "skipped 2 unreadable input(s)" in captured.out
    assert captured.err.strip() == ("yolo3 detect: error: none of the 2 inputs could be read (listed above); fix or "
                                    "replace them and run again")
