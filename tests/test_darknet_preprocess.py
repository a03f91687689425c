"""darknet-exact inference: darknet's bilinear resize and 0.5 letterbox (hand-worked pixels),
the Detector/val plumbing of `preprocess="darknet"`, and darknet's CPU BatchNorm formula."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from _darknet_utils import randomise
from yolo3.cli import main
from yolo3.darknet import convert_darknet, load_darknet, save_darknet
from yolo3.darknet.weights import load_weights
from yolo3.data.letterbox import LetterboxInfo
from yolo3.inference.darknet_preprocess import darknet_letterbox, darknet_resize, darknet_sizes
from yolo3.inference.detector import Detector
from yolo3.io.checkpoint import load_model, read_metadata
from yolo3.models import create_model


def _row(values: list[float]) -> np.ndarray:
    return np.asarray(values, np.float32)[None, :, None]  # (1, w, 1)


def test_resize_upscale_one_row_hand_worked() -> None:
    # w 3 → 4: scale 2/3; c=1: sx 2/3 → 1/3·0 + 2/3·0.6 = 0.4; c=2: sx 4/3 → 2/3·0.6 + 1/3·0.3 = 0.5;
    # c=3 copies 0.3
    out = darknet_resize(_row([0.0, 0.6, 0.3]), 4, 1)
    np.testing.assert_allclose(out[0, :, 0], [0.0, 0.4, 0.5, 0.3], atol=1e-6)


def test_resize_downscale_samples_points_not_areas() -> None:
    # w 4 → 3: scale 3/2; c=1: sx 1.5 → (0.2 + 0.4)/2; the last column copies 0.8
    # (no area averaging, unlike INTER_AREA)
    out = darknet_resize(_row([0.1, 0.2, 0.4, 0.8]), 3, 1)
    np.testing.assert_allclose(out[0, :, 0], [0.1, 0.3, 0.8], atol=1e-6)


def test_resize_two_dimensions_hand_worked() -> None:
    image = np.asarray([[0.2, 0.4], [0.6, 1.0]], np.float32)[:, :, None]
    out = darknet_resize(np.repeat(image, 3, axis=2), 3, 3)  # scale 1/2 both ways: midpoints
    expected = [[0.2, 0.3, 0.4], [0.4, 0.55, 0.7], [0.6, 0.8, 1.0]]
    for c in range(3):
        np.testing.assert_allclose(out[:, :, c], expected, atol=1e-6)


def test_resize_last_row_keeps_darknets_float32_rounding() -> None:
    # h 4 → 38: h_scale = float32(3/37); 37·h_scale rounds to 2.9999998 < 3, so darknet's last row is
    # (1 − dy)·row[2] with dy ≈ 1 (its add of dy·row[3] is skipped on the last row): nearly black.
    column = np.full((4, 1, 1), 0.8, np.float32)
    out = darknet_resize(column, 1, 38)
    assert abs(out[36, 0, 0] - 0.8) < 1e-6
    assert out[37, 0, 0] < 1e-5


def test_sizes_floor_like_darknet() -> None:
    assert darknet_sizes((576, 768), (416, 416)) == (416, 312)
    assert darknet_sizes((427, 640), (416, 416)) == (416, 277)  # 277.55 floored (yolo3's letterbox rounds: 278)
    assert darknet_sizes((640, 427), (416, 416)) == (277, 416)


def test_letterbox_pads_half_and_maps_with_float_offset() -> None:
    image = np.zeros((1, 3, 3), np.uint8)
    image[0, :, 0] = [0, 153, 255]  # 0, 0.6, 1.0
    boxed, info = darknet_letterbox(image, 4)
    # new 4×1 (1·4 // 3), embedded at row (4 − 1) // 2 = 1; the rest is 0.5
    assert boxed.dtype == np.float32 and boxed.shape == (4, 4, 3)
    np.testing.assert_allclose(boxed[1, :, 0], [0.0, 0.4, 2 / 3 * 0.6 + 1 / 3, 1.0], atol=1e-6)
    assert np.all(boxed[[0, 2, 3]] == 0.5) and np.all(boxed[1, :, 1:] == 0)
    assert info == LetterboxInfo((4 / 3, 1.0), (0.0, 1.5), (1, 3), (4, 4))


class _Recorder:
    """A backend that records its input and predicts one box at network pixels (8, 8, 24, 24)."""

    name = "recorder"

    def __init__(self) -> None:
        self.seen: list[torch.Tensor] = []

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        self.seen.append(images.clone())
        pred = torch.zeros(images.shape[0], 1, 6)
        pred[:, 0] = torch.tensor([8.0, 8.0, 24.0, 24.0, 0.9, 1.0])
        return pred


def test_detector_feeds_darknet_letterbox_and_maps_back() -> None:
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (20, 30, 3), dtype=np.uint8)
    backend = _Recorder()
    detector = Detector(backend, ["a"], 32, preprocess="darknet")
    (dets,) = detector(image)
    expected, _ = darknet_letterbox(image, 32)
    torch.testing.assert_close(backend.seen[0][0].permute(1, 2, 0), torch.from_numpy(expected), rtol=0, atol=0)
    # new 32×21 (20·32 // 30), offset (32 − 21)/2 = 5.5, scale 32/30 and 21/20
    np.testing.assert_allclose(dets.boxes[0], [7.5, 2.5 / 1.05, 22.5, 18.5 / 1.05], rtol=1e-6)
    with pytest.raises(ValueError, match="preprocess='darknet'"):
        detector(image, tta=True)
    with pytest.raises(ValueError, match="preprocess='opencv'"):
        Detector(backend, ["a"], 32, preprocess="opencv")


def test_val_cli_runs_with_darknet_preprocess(tmp_path: Path) -> None:
    from yolo3.data.synth import SHAPES, write_synth_dataset
    from yolo3.io.checkpoint import save_model

    data = write_synth_dataset(tmp_path / "s", n_train=1, n_val=2, imgsz=48, seed=0, max_objects=2)
    model = create_model("yolov3-tiny", num_classes=len(SHAPES), width=0.25, imgsz=64, class_names=list(SHAPES))
    save_model(tmp_path / "m.safetensors", model)
    assert main(["val", "--weights", str(tmp_path / "m.safetensors"), "--data", str(data), "--no-plots",
                 "--out", str(tmp_path / "v"), "--preprocess", "darknet"]) == 0
    import json

    assert json.loads((tmp_path / "v" / "summary.json").read_text())["preprocess"] == "darknet"


@pytest.fixture()
def tiny_darknet(tmp_path: Path) -> tuple[Path, Path]:
    """A width-0.25 yolov3-tiny in darknet files; first BN: mean 1, var 1e-4, gamma 1, beta 0 on channel 0."""
    model = create_model("yolov3-tiny", num_classes=2, width=0.25, imgsz=64)
    randomise(model)
    with torch.no_grad():
        bn = model.conv_layers()[0].bn
        bn.running_mean[0], bn.running_var[0], bn.weight[0], bn.bias[0] = 1.0, 1e-4, 1.0, 0.0
    save_darknet(model.eval(), tmp_path / "m.cfg", tmp_path / "m.weights")
    return tmp_path / "m.cfg", tmp_path / "m.weights"


def _first_bn_of_two(model: torch.nn.Module) -> float:
    bn = model.conv_layers()[0].bn.eval()
    x = torch.zeros(1, bn.num_features, 1, 1)
    x[0, 0] = 2.0
    with torch.no_grad():
        return float(bn(x)[0, 0, 0, 0])


def test_cpu_bn_formula_hand_numbers(tiny_darknet: tuple[Path, Path], tmp_path: Path) -> None:
    cfg, weights = tiny_darknet
    gpu, _ = load_darknet(cfg, weights)
    cpu, meta = load_darknet(cfg, weights, bn="darknet-cpu")
    # (2 − 1)/√(1e-4 + 1e-5) = 95.3462589… (cuDNN);
    # (2 − 1)/(√1e-4 + 1e-6) = 1/0.010001 = 99.9900009… (darknet CPU)
    assert _first_bn_of_two(gpu) == pytest.approx(95.3462589, rel=1e-6)
    assert _first_bn_of_two(cpu) == pytest.approx(99.9900009, rel=1e-6)
    assert meta["darknet"]["bn"] == "darknet-cpu" and cpu.cfg.bn_eps == 0.0
    # the checkpoint keeps the formula, and darknet export gives the variances back
    assert main(["convert-darknet", str(cfg), str(weights), "--out", str(tmp_path / "c.safetensors"),
                 "--bn", "darknet-cpu"]) == 0
    again, meta = load_model(tmp_path / "c.safetensors")
    assert read_metadata(tmp_path / "c.safetensors")["darknet"]["bn"] == "darknet-cpu"
    assert _first_bn_of_two(again) == pytest.approx(99.9900009, rel=1e-6)
    assert main(["convert-darknet", str(tmp_path / "c.safetensors"), "--out", str(tmp_path / "back.weights")]) == 0
    back = create_model("yolov3-tiny", num_classes=2, width=0.25, imgsz=64)
    load_weights(tmp_path / "back.weights", back.conv_layers())
    for a, b in zip(back.conv_layers(), gpu.conv_layers()):
        if getattr(a, "bn", None) is not None:
            torch.testing.assert_close(a.bn.running_var, b.bn.running_var, rtol=1e-5, atol=1e-9)
    with pytest.raises(ValueError, match="bn='cuda'"):
        convert_darknet(cfg, weights, tmp_path / "x.safetensors", bn="cuda")
    assert not (tmp_path / "x.safetensors").exists()
