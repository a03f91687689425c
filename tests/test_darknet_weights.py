"""darknet .weights: byte-identical round trips, equal outputs, errors, conversion, fine-tuning."""

from __future__ import annotations

import io
import math
import struct
from pathlib import Path

import pytest
import torch

from _darknet_utils import STOCK, hand_count_floats, random_network, randomise
from yolo3.cli import main
from yolo3.darknet import (
    DarknetNetwork, DarknetWeightsError, WeightsHeader, convert_darknet, load_cfg, load_darknet,
    load_for_finetuning, load_weights, save_darknet, save_weights,
)
from yolo3.darknet.cfg import Yolo
from yolo3.darknet.templates import structure
from yolo3.darknet.weights import read_header, write_weights
from yolo3.io.checkpoint import load_model, read_metadata
from yolo3.models import create_model

HEADER = WeightsHeader(major=0, minor=2, revision=5, seen=32_013_312_123)  # seen > 2**32: needs the 64-bit field


@pytest.fixture(scope="module")
def stock_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, Path, DarknetNetwork]]:
    """Per stock cfg (80 classes): (cfg, random .weights written by the generic network, that network)."""
    root = tmp_path_factory.mktemp("darknet")
    files = {}
    for name in ("yolov3", "yolov3-tiny", "yolov3-spp"):
        cfg_path = STOCK / f"{name}.cfg"
        net = random_network(load_cfg(cfg_path))
        save_weights(root / f"{name}.weights", net.conv_layers(), HEADER)
        files[name] = (cfg_path, root / f"{name}.weights", net)
    return files


@pytest.fixture(scope="module")
def loaded(stock_files: dict) -> dict[str, tuple]:
    """Per stock cfg: (our registered model, metadata) loaded from the random .weights."""
    return {name: load_darknet(cfg_path, weights) for name, (cfg_path, weights, _) in stock_files.items()}


def test_header_seen_width_follows_version() -> None:
    old = struct.pack("<iiiI", 0, 1, 0, 7) + b"rest"
    assert read_header(old) == WeightsHeader(0, 1, 0, 7) and WeightsHeader(0, 1, 0).nbytes == 16
    new = struct.pack("<iiiQ", 0, 2, 0, 2**40) + b"rest"
    assert read_header(new) == WeightsHeader(0, 2, 0, 2**40) and WeightsHeader(0, 2, 0).nbytes == 20
    assert WeightsHeader(1000, 2, 0).seen_bytes == 4  # darknet's sanity limit on major
    assert WeightsHeader(0, 2, 5, 9).to_bytes() == struct.pack("<iiiQ", 0, 2, 5, 9)


@pytest.mark.parametrize("name", ["yolov3", "yolov3-tiny", "yolov3-spp"])
def test_stock_round_trip_is_byte_identical(name: str, stock_files: dict, loaded: dict) -> None:
    cfg_path, weights, _ = stock_files[name]
    data = weights.read_bytes()
    assert len(data) == 20 + 4 * hand_count_floats(load_cfg(cfg_path))
    model, meta = loaded[name]
    assert model.cfg.arch == name and meta["darknet"]["header"]["seen"] == HEADER.seen
    again = io.BytesIO()
    write_weights(again, model.conv_layers(), WeightsHeader(**meta["darknet"]["header"]))
    assert again.getvalue() == data


def test_old_header_round_trip(tmp_path: Path) -> None:
    net = random_network(load_cfg(STOCK / "yolov3-tiny.cfg"))
    save_weights(tmp_path / "v01.weights", net.conv_layers(), WeightsHeader(0, 1, 0, 123))
    data = (tmp_path / "v01.weights").read_bytes()
    assert data[12:16] == struct.pack("<I", 123) and len(data) == 16 + 4 * 8_858_734
    model, meta = load_darknet(STOCK / "yolov3-tiny.cfg", tmp_path / "v01.weights")
    save_weights(tmp_path / "again.weights", model.conv_layers(), WeightsHeader(**meta["darknet"]["header"]))
    assert (tmp_path / "again.weights").read_bytes() == data


@pytest.mark.parametrize("name", ["yolov3", "yolov3-tiny", "yolov3-spp"])
@torch.no_grad()
def test_loaded_model_outputs_equal_generic_network(name: str, stock_files: dict, loaded: dict) -> None:
    cfg_path, weights, source = stock_files[name]
    generic = DarknetNetwork(load_cfg(cfg_path)).eval()
    load_weights(weights, generic.conv_layers())
    ours = loaded[name][0]
    x = torch.rand(1, 3, 64, 96)
    expected = generic(x)
    got = ours(x)
    assert [tuple(t.shape) for t in got] == [tuple(t.shape) for t in expected]
    assert got[0].shape[-1] == 85 and got[0].shape[2:4] == (64 // ours.strides[0], 96 // ours.strides[0])
    for a, b in zip(got, expected):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)
    for a, b in zip(source(x), expected):  # the network that wrote the file computes the same
        torch.testing.assert_close(a, b, rtol=0, atol=0)


@pytest.mark.parametrize(("delta", "found"), [(-4, "found 8858733"), (8, "found 8858736"), (2, "8858734 and 2 stray bytes")])
def test_wrong_size_says_expected_and_found(delta: int, found: str, stock_files: dict, tmp_path: Path) -> None:
    cfg_path, weights, _ = stock_files["yolov3-tiny"]
    data = weights.read_bytes()
    bad = tmp_path / "bad.weights"
    bad.write_bytes(data[:delta] if delta < 0 else data + b"\0" * delta)
    with pytest.raises(DarknetWeightsError) as err:
        load_darknet(cfg_path, bad)
    message = str(err.value)
    assert str(bad) in message and "expected 8858734 floats after the header" in message and found in message


def test_convert_checkpoint_and_back(stock_files: dict, tmp_path: Path) -> None:
    cfg_path, weights, source = stock_files["yolov3-tiny"]
    names = tmp_path / "coco.names"
    names.write_text("\n".join(f"class{i}" for i in range(80)) + "\n")
    assert main(["convert-darknet", str(cfg_path), str(weights), "--out", str(tmp_path / "t.safetensors"),
                 "--names", str(names)]) == 0
    meta = read_metadata(tmp_path / "t.safetensors")
    assert meta["ignore_thresh"] == 0.7 and meta["model"]["imgsz"] == 416 and meta["model"]["num_classes"] == 80
    assert meta["model"]["anchors"][0] == [[23, 27], [37, 58], [81, 82]] and meta["model"]["class_names"][3] == "class3"
    model, _ = load_model(tmp_path / "t.safetensors")
    x = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        for a, b in zip(model(x), source(x)):
            torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)
    assert main(["convert-darknet", str(tmp_path / "t.safetensors"), "--out", str(tmp_path / "back.weights")]) == 0
    assert (tmp_path / "back.weights").read_bytes() == weights.read_bytes()
    original, back = load_cfg(cfg_path), load_cfg(tmp_path / "back.cfg")
    assert structure(back.layers) == structure(original.layers)
    assert [y.mask for y in back.layers if isinstance(y, Yolo)] == [(3, 4, 5), (1, 2, 3)]
    assert back.net.extra == original.net.extra


def test_cli_reports_bad_weights(stock_files: dict, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    cfg_path, weights, _ = stock_files["yolov3-tiny"]
    (tmp_path / "short.weights").write_bytes(weights.read_bytes()[:1000])
    assert main(["convert-darknet", str(cfg_path), str(tmp_path / "short.weights"), "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("yolo3 convert-darknet: error: ") and "expected 8858734 floats" in err


def test_cli_refuses_an_output_that_is_an_input_or_the_other_output(stock_files: dict, tmp_path: Path,
                                                                    capsys: pytest.CaptureFixture) -> None:
    """`--out` equal to the input .cfg replaced the user's cfg by a checkpoint; `--cfg-out`
    equal to `--out` left a .cfg where the .weights should be; both reported success."""
    cfg_path, weights, _ = stock_files["yolov3-tiny"]
    cfg_copy = tmp_path / "tiny.cfg"
    cfg_copy.write_bytes(cfg_path.read_bytes())
    before = cfg_copy.read_bytes(), weights.read_bytes()
    assert main(["convert-darknet", str(cfg_copy), str(weights), "--out", str(cfg_copy)]) == 2
    assert capsys.readouterr().err.startswith(f"yolo3 convert-darknet: error: --out {cfg_copy} is also an input")
    assert main(["convert-darknet", str(cfg_copy), str(weights), "--out", str(weights)]) == 2
    assert "is also an input" in capsys.readouterr().err
    assert (cfg_copy.read_bytes(), weights.read_bytes()) == before
    checkpoint = tmp_path / "t.safetensors"
    assert main(["convert-darknet", str(cfg_copy), str(weights), "--out", str(checkpoint)]) == 0
    kept = checkpoint.read_bytes()
    assert main(["convert-darknet", str(checkpoint), "--out", str(checkpoint)]) == 2
    assert "--out" in capsys.readouterr().err and checkpoint.read_bytes() == kept
    both = tmp_path / "both.weights"
    assert main(["convert-darknet", str(checkpoint), "--out", str(both), "--cfg-out", str(both)]) == 2
    err = capsys.readouterr().err
    assert f"--out and --cfg-out are both {both}" in err and not both.exists()


@pytest.mark.parametrize("size", [16, 17, 19])
def test_a_file_cut_inside_the_64_bit_seen_is_a_clear_error(size: int, stock_files: dict, tmp_path: Path,
                                                           capsys: pytest.CaptureFixture) -> None:
    """Version 0.2 stores `seen` in 8 bytes, so its header is 20 bytes; a file of 16–19
    bytes used to end in a raw struct.error."""
    cfg_path, weights, _ = stock_files["yolov3-tiny"]
    cut = tmp_path / "cut.weights"
    cut.write_bytes(weights.read_bytes()[:size])
    with pytest.raises(DarknetWeightsError, match=rf"cut.weights: {size} bytes is too short for .* header of version 0.2.5"):
        read_header(cut.read_bytes(), str(cut))
    assert main(["convert-darknet", str(cfg_path), str(cut), "--out", str(tmp_path / "x.safetensors")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"yolo3 convert-darknet: error: {cut}: {size} bytes") and "Traceback" not in err, err


@pytest.mark.parametrize(("arch", "width", "depth"), [("yolov3", 0.25, 0.33), ("yolov3-spp", 0.125, 0.25), ("yolov3-tiny", 0.25, 1.0)])
@torch.no_grad()
def test_our_model_runs_as_darknet(arch: str, width: float, depth: float, tmp_path: Path) -> None:
    model = create_model(arch, num_classes=3, width=width, depth=depth, imgsz=96,
                         anchors=[[[12, 10], [20, 30], [40, 22]]] * (2 if arch == "yolov3-tiny" else 3))
    randomise(model)
    model.eval()
    save_darknet(model, tmp_path / "m.cfg", tmp_path / "m.weights")
    net = DarknetNetwork(load_cfg(tmp_path / "m.cfg")).eval()
    header = load_weights(tmp_path / "m.weights", net.conv_layers())
    assert header == WeightsHeader(0, 2, 0, 0) and net.anchors == model.anchors.tolist()
    x = torch.rand(2, 3, 96, 64)
    for a, b in zip(net(x), model(x)):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)
    again, _ = load_darknet(tmp_path / "m.cfg", tmp_path / "m.weights")
    assert (again.cfg.arch, again.cfg.num_classes) == (arch, 3)
    for (k, a), b in zip(model.state_dict().items(), again.state_dict().values()):
        if "num_batches_tracked" not in k:  # darknet does not store it
            assert torch.equal(a, b), k


def test_v5_decoding_cannot_be_exported(tmp_path: Path) -> None:
    model = create_model("yolov3-tiny", num_classes=2, width=0.25, xy_mode="v5")
    with pytest.raises(ValueError, match="xy_mode='v5'"):
        save_darknet(model, tmp_path / "m.cfg", tmp_path / "m.weights")


def test_finetune_reinitialises_only_heads(stock_files: dict, tmp_path: Path) -> None:
    cfg_path, weights, _ = stock_files["yolov3-tiny"]
    convert_darknet(cfg_path, weights, tmp_path / "coco.safetensors")
    source, _ = load_model(tmp_path / "coco.safetensors")
    model, meta, fresh = load_for_finetuning(tmp_path / "coco.safetensors", 3, ["a", "b", "c"])
    assert meta["ignore_thresh"] == 0.7 and model.cfg.anchors == source.cfg.anchors
    assert sorted(fresh) == ["heads.0.conv.bias", "heads.0.conv.weight", "heads.1.conv.bias", "heads.1.conv.weight"]
    old = source.state_dict()
    for k, v in model.state_dict().items():
        if not k.startswith("heads."):
            assert torch.equal(v, old[k]), k
    bias = model.heads[0].conv.bias.view(3, 8)
    assert model.heads[0].conv.weight.shape == (24, 256, 1, 1)
    torch.testing.assert_close(bias[:, 4], torch.full((3,), math.log(0.01 / 0.99)))
    torch.testing.assert_close(bias[:, :4], torch.zeros(3, 4))
    assert model.heads[0].conv.weight.std().item() == pytest.approx(0.01, rel=0.1)
