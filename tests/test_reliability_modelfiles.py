"""Model files from strangers: pickles that would run code, and safetensors files whose
metadata or tensors lie (issue 10). Complements tests/test_foundation_io.py, which
covers the plain pickle refusal and metadata type errors through load_model."""

from __future__ import annotations

import json
import pickle
import struct
import time
import zipfile
from pathlib import Path

import pytest
import torch

from yolo3.cli import main as cli_main
from yolo3.io.checkpoint import CheckpointError, load_checkpoint, load_model, read_metadata, save_checkpoint
from yolo3.models import create_model


class Payload:
    """Unpickling this writes `marker`: proof that code ran."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (exec, (f"open({str(self.marker)!r}, 'w').write('pwned')",))


@pytest.fixture
def tiny():
    return create_model("yolov3-tiny", num_classes=2, class_names=["cell", "dot"], width=0.25)


def _evil_files(tmp_path: Path, marker: Path) -> list[Path]:
    plain = tmp_path / "disguised.safetensors"  # a pickle under the safetensors name
    plain.write_bytes(pickle.dumps({"state_dict": Payload(marker)}))
    zipped = tmp_path / "evil.pt"  # torch.save's zip format, payload inside data.pkl
    torch.save({"state_dict": {"w": torch.zeros(1)}, "x": Payload(marker)}, zipped)
    assert zipfile.is_zipfile(zipped)
    return [plain, zipped]


def test_pickles_are_refused_by_every_entry_point_and_never_run(tmp_path: Path, capsys) -> None:
    marker = tmp_path / "marker"
    image = tmp_path / "a.png"
    import cv2

    cv2.imwrite(str(image), torch.zeros(32, 32, 3, dtype=torch.uint8).numpy())
    for evil in _evil_files(tmp_path, marker):
        with pytest.raises(CheckpointError, match="refuses"):
            load_model(evil)
        with pytest.raises(CheckpointError, match="weights_only"):
            load_checkpoint(evil, trust_pickle=True)
        assert cli_main(["detect", str(image), "--weights", str(evil), "--out", str(tmp_path / "o")]) == 2
        assert "refuses" in capsys.readouterr().err
        assert cli_main(["detect", str(image), "--weights", str(evil), "--trust-pickle", "--out",
                         str(tmp_path / "o")]) == 2
        assert "weights_only" in capsys.readouterr().err
        assert cli_main(["val", "--weights", str(evil), "--data", str(tmp_path / "none.yaml")]) == 2
        assert "refuses" in capsys.readouterr().err
        assert not marker.exists(), evil


def _header_file(path: Path, header: bytes, body: bytes = b"") -> Path:
    path.write_bytes(struct.pack("<Q", len(header)) + header + body)
    return path


def test_corrupt_files_are_clear_errors(tmp_path: Path, tiny) -> None:
    good = tmp_path / "good.safetensors"
    save_checkpoint(good, tiny.state_dict(), {"model": {"arch": "yolov3-tiny", "num_classes": 2, "width": 0.25}})
    data = good.read_bytes()
    cases = {
        "cut.safetensors": data[: len(data) // 2],
        "empty.safetensors": b"",
        "zeros.safetensors": bytes(64),
    }
    for name, content in cases.items():
        (tmp_path / name).write_bytes(content)
    _header_file(tmp_path / "list.safetensors", b"[1, 2]")
    _header_file(tmp_path / "badjson.safetensors", b"{not json")
    _header_file(tmp_path / "meta_int.safetensors", json.dumps({"__metadata__": {"yolo3": "5"}}).encode())
    _header_file(tmp_path / "meta_none.safetensors", json.dumps({"__metadata__": None}).encode())
    for path in sorted(tmp_path.glob("*.safetensors")):
        if path.name == "good.safetensors":
            continue
        with pytest.raises(CheckpointError) as err:
            load_model(path)
        assert str(path) in str(err.value), err.value
    for name in ("list.safetensors", "badjson.safetensors", "meta_none.safetensors"):
        with pytest.raises(CheckpointError, match=name):
            read_metadata(tmp_path / name)


@pytest.mark.parametrize("change, message", [
    ({"num_classes": 10**9, "class_names": None}, "num_classes=1000000000"),
    ({"width": 64.0}, "width=64.0"),
    ({"class_names": ["cell", 7]}, "expected str"),
    ({"class_names": ["cell"]}, "one name per class"),
    ({"class_names": ["cell", ""]}, "non-empty strings"),
    ({"anchors": [[[10, -13]] * 3] * 2}, r"\(w, h\) > 0"),
    ({"imgsz": 100}, "multiple of 32"),
    ({"arch": "yolov9"}, "yolov9"),
    ({"unknown_field": 1}, "unknown key"),
])
def test_lying_metadata_is_refused_before_building(tmp_path: Path, tiny, change: dict, message: str) -> None:
    model_meta = {"arch": "yolov3-tiny", "num_classes": 2, "class_names": ["cell", "dot"], "width": 0.25, **change}
    path = tmp_path / "liar.safetensors"
    save_checkpoint(path, tiny.state_dict(), {"model": model_meta})
    start = time.perf_counter()
    with pytest.raises((CheckpointError, KeyError, ValueError), match=message) as err:
        load_model(path)
    assert isinstance(err.value, CheckpointError), type(err.value)
    assert time.perf_counter() - start < 10  # refused from shapes, not after building a huge model


def test_non_finite_weights_are_refused(tmp_path: Path, tiny) -> None:
    state = {k: v.clone() for k, v in tiny.state_dict().items()}
    state["heads.0.conv.bias"][3] = float("nan")
    path = tmp_path / "nan.safetensors"
    save_checkpoint(path, state, {"model": {"arch": "yolov3-tiny", "num_classes": 2, "width": 0.25}})
    with pytest.raises(CheckpointError, match=r"NaN or inf \(e\.g\. heads\.0\.conv\.bias\)"):
        load_model(path)
