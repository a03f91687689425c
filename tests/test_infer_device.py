"""`--device`: one shared parser (`resolve_device`), and a one-line error for a device that is not there.

The CUDA device count is monkeypatched, so these tests mean the same on CPU-only and GPU machines.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from _infer_utils import saved_model
from yolo3.cli import main
from yolo3.inference.device import resolve_device


def test_resolve_device(monkeypatch: pytest.MonkeyPatch) -> None:
    import yolo3.inference.device as device

    assert resolve_device("cpu") == torch.device("cpu") and resolve_device(None) == torch.device("cpu")
    monkeypatch.setattr(device, "cuda_count", lambda: 0)
    for spec in ("cuda", "0", "cuda:1"):
        with pytest.raises(ValueError, match="no CUDA device here"):
            resolve_device(spec)
    with pytest.raises(ValueError, match="not a device name"):
        resolve_device("gpu0")
    with pytest.raises(ValueError, match="yolo3 runs on"):
        resolve_device("meta")
    monkeypatch.setattr(device, "cuda_count", lambda: 2)
    monkeypatch.setattr(torch.cuda, "current_device", lambda: 0)
    assert resolve_device("1") == torch.device("cuda", 1) and resolve_device("cuda") == torch.device("cuda", 0)
    with pytest.raises(ValueError, match=r"has 2 CUDA device\(s\)"):
        resolve_device("cuda:2")


@pytest.mark.parametrize("command", ["detect", "val", "export"])
def test_device_error_is_one_line(tmp_path: Path, command: str, monkeypatch: pytest.MonkeyPatch,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    import yolo3.inference.device as device

    monkeypatch.setattr(device, "cuda_count", lambda: 0)
    weights = str(saved_model(tmp_path))
    args = {"detect": ["detect", "x.png", "--weights", weights],
            "val": ["val", "--weights", weights, "--data", "nowhere.yaml"],
            "export": ["export", "--weights", weights, "--format", "torchscript"]}[command]
    assert main([*args, "--device", "cuda:3"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"yolo3 {command}: error: --device 'cuda:3': no CUDA device here " \
                  f"(torch {torch.__version__} sees none); use --device cpu"


@pytest.mark.parametrize(("spec", "expected"), [("cuda", "no CUDA device here"), ("gpu", "not a device name")])
def test_train_device_error_is_one_line_before_the_run_folder(spec: str, expected: str, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    """`yolo3 train --device cuda` on a machine without CUDA (or `device: gpu` in a recipe)
    ended in torch's 'AssertionError: Torch not compiled with CUDA enabled' (a RuntimeError
    for 'gpu') after the run folder was made."""
    import yolo3.inference.device as device
    from _train_utils import synth_data

    monkeypatch.setattr(device, "cuda_count", lambda: 0)
    data = synth_data(tmp_path, n_train=4, imgsz=64)
    assert main(["train", "--data", str(data), "--width", "0.25", "--imgsz", "64", "--epochs", "1",
                 "--project", str(tmp_path / "runs"), "--device", spec]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"yolo3 train: error: --device {spec!r}: {expected}") and len(err.splitlines()) == 1, err
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize("command", ["overfit", "lr-find", "diagnose"])
def test_diagnostics_take_their_device_option(command: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    """lr-find, overfit and diagnose parsed --device and ran on the CPU whatever it said."""
    import yolo3.inference.device as device
    from _train_utils import synth_data

    monkeypatch.setattr(device, "cuda_count", lambda: 0)
    data = synth_data(tmp_path, n_train=4, imgsz=64)
    assert main([command, "--data", str(data), "--width", "0.25", "--imgsz", "64", "--device", "cuda:1"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"yolo3 {command}: error: --device 'cuda:1': no CUDA device here"), err


def test_fp16_is_a_cuda_precision(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """fp16 inference runs on CUDA (torch backend); on CPU every path refuses it and names bf16."""
    from yolo3.inference.backends import TorchBackend
    from yolo3.inference.choose import choose_backend
    from yolo3.inference.detector import Detector
    from yolo3.io.checkpoint import load_model

    weights = saved_model(tmp_path)
    assert choose_backend("checkpoint", "auto", "fp16", "cuda")[0] == "torch"
    for backend in ("auto", "torch", "openvino"):
        with pytest.raises(ValueError, match=r"fp16 runs on CUDA only \(--device cuda\); on CPU use --precision bf16"):
            Detector.load(weights, precision="fp16", backend=backend)
    with pytest.raises(ValueError, match="fp16 runs on CUDA only"):
        TorchBackend(load_model(weights)[0], "fp16")  # the facade's in-memory path
    image = tmp_path / "x.png"
    image.write_bytes(b"")
    assert main(["detect", str(image), "--weights", str(weights), "--precision", "fp16"]) == 2
    assert "fp16 runs on CUDA only" in capsys.readouterr().err
