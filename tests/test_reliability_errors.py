"""Tracebacks that reached users from dataset files (issue 14, point 12): COCO integers
too large for a float, JSON nested deeper than Python's stack, `names: 5`. Each must
be one line `yolo3 COMMAND: error: ...` naming the file, exit 2."""

from __future__ import annotations

import json
import re
from pathlib import Path

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
