"""Tracebacks that reached users from dataset files (issue 14, point 12): COCO integers
too large for a float, JSON nested deeper than Python's stack, `names: 5`. Each must
be one line `yolo3 COMMAND: error: ...` naming the file, exit 2."""

from __future__ import annotations

import json
import re
from pathlib import Path

import cv2
import numpy as np
import pytest

from yolo3.cli import main as cli_main
from yolo3.data.formats import load_dataset


def _coco(images: list[dict]) -> dict:
    return {"images": images, "annotations": [], "categories": [{"id": 1, "name": "cell"}]}


@pytest.mark.parametrize("name, text, fragment", [
    ("huge.json", json.dumps(_coco([{"id": 1, "file_name": "a.jpg", "height": 10**400, "width": 5}])),
     "'images[0].height' must be a finite number, got an integer of 401 digits"),
    ("deep.json", "[" * 100_000 + "]" * 100_000, "nested too deeply"),
    ("data.yaml", "path: .\ntrain: a.jpg\nval: a.jpg\nnames: 5\n", "'names' must be a list of class names"),
])
def test_hostile_dataset_files_are_one_line(tmp_path: Path, capsys, name: str, text: str, fragment: str) -> None:
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(ValueError, match=re.escape(fragment)) as err:
        load_dataset(path)
    assert str(path) in str(err.value)
    assert cli_main(["anchors", str(path), "--plot", str(tmp_path / "a.png")]) == 2
    err_text = capsys.readouterr().err
    lines = err_text.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"yolo3 anchors: error: {path}") and fragment in lines[0], err_text


def test_deeply_nested_roi_json_is_one_line_everywhere(tmp_path: Path, capsys) -> None:
    """`--roi` / a served `roi` field of 10⁵ nested brackets: json raises RecursionError,
    which must reach the user as one line naming the option (CLI exit 2, HTTP 422)."""
    from yolo3.cli import main
    from yolo3.io.text import parse_json_text

    hostile = "[" * 100_000 + "]" * 100_000
    with pytest.raises(ValueError, match="roi: JSON nested too deeply"):
        parse_json_text(hostile, "roi", "[[x, y], ...]")
    with pytest.raises(ValueError, match=r"roi: not valid JSON \(Expecting value\)"):
        parse_json_text("[[1, 2], ", "roi", "[[x, y], ...]")
    image = tmp_path / "a.png"
    cv2.imwrite(str(image), np.full((32, 32, 3), 100, np.uint8))
    weights = tmp_path / "m.safetensors"
    from yolo3.io.checkpoint import save_model
    from yolo3.models import create_model

    save_model(weights, create_model("yolov3-tiny", num_classes=1, width=0.25, imgsz=64))
    assert main(["detect", str(image), "--weights", str(weights), "--backend", "torch", "--roi", hostile,
                 "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("yolo3 detect: error: --roi: JSON nested too deeply"), err
    from fastapi.testclient import TestClient

    from yolo3.inference.detector import Detector
    from yolo3.serve import create_app

    with TestClient(create_app(Detector.load(weights, backend="torch", threads=1))) as client:
        answer = client.post("/v1/detect", files={"image": ("a.png", image.read_bytes(), "image/png")},
                             data={"roi": hostile})
    assert answer.status_code == 422 and "roi: JSON nested too deeply" in answer.json()["error"], answer.text
