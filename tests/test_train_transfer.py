"""Transfer learning the darknet way (issue 18 part 3): darknet partial backbone files,
checkpoints of another class count, and a backbone frozen for the first epochs.

The darknet files are written by the tests in darknet's layout (header + float32 per conv
layer, `yolo3.darknet.weights.save_weights`) and cut after N layers' worth of floats,
counted from the cfg text alone (`hand_count_floats`), as darknet's `partial` command does.
"""

from __future__ import annotations

import dataclasses
import types
from pathlib import Path

import pytest
import torch
import yaml
from _darknet_utils import STOCK, hand_count_floats, randomise
from _train_utils import small_config, synth_data

from yolo3.cli import main as cli_main
from yolo3.config import ConfigError, ModelConfig
from yolo3.darknet.cfg import load_cfg
from yolo3.darknet.convert import darknet_cfg_for
from yolo3.darknet.weights import DarknetWeightsError, save_weights
from yolo3.io.checkpoint import load_checkpoint, save_model
from yolo3.models import build_model, create_model
from yolo3.models.layers import ConvBNAct
from yolo3.train import train
from yolo3.train.optim import is_backbone
from yolo3.train.setup import build_train_model, seed_everything


def _layer_tensors(layer: torch.nn.Module) -> list[torch.Tensor]:
    return [t for t in layer.state_dict().values() if t.is_floating_point()]


def _same(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    return all(torch.equal(x, y) for x, y in zip(_layer_tensors(a), _layer_tensors(b)))


def _partial_file(tmp_path: Path, source: torch.nn.Module, cfg_layers: list, n_layers: int, name: str) -> Path:
    """darknet's `partial`: the full .weights of `source`, cut after its first `n_layers` cfg layers."""
    full = tmp_path / "full.weights"
    save_weights(full, source.conv_layers())
    floats = hand_count_floats(types.SimpleNamespace(layers=cfg_layers[:n_layers]))
    out = tmp_path / name
    out.write_bytes(full.read_bytes()[: 20 + 4 * floats])  # header 0.2.0: 3 int32 + uint64 seen
    return out


def _check_partial(path: Path, source: torch.nn.Module, cfg: ModelConfig, n_conv: int) -> str:
    """Loads `path` as the run does; the first n_conv conv layers equal the source's, the
    others equal a fresh model built from the same seed (and differ from the source)."""
    torch.manual_seed(7)
    fresh = build_model(cfg)
    torch.manual_seed(7)
    model, note = build_train_model(cfg, str(path))
    layers, src, new = model.conv_layers(), source.conv_layers(), fresh.conv_layers()
    assert all(_same(layers[k], src[k]) for k in range(n_conv))
    assert not _same(new[0], src[0])  # the check above could fail
    for k in range(n_conv, len(layers)):
        assert _same(layers[k], new[k]), k
        if _layer_tensors(layers[k])[0].shape == _layer_tensors(src[k])[0].shape:
            assert not _same(layers[k], src[k]), k
    return note


def test_yolov3_tiny_conv_15_loads_9_of_13_conv_layers(tmp_path: Path) -> None:
    """yolov3-tiny.conv.15: the stock cfg's first 15 layers hold 9 convs (7 backbone, the
    1×1 256 and the 3×3 512 before the first [yolo] head)."""
    stock = load_cfg(STOCK / "yolov3-tiny.cfg")
    torch.manual_seed(0)
    source = create_model("yolov3-tiny", num_classes=80)
    randomise(source, seed=1)
    path = _partial_file(tmp_path, source, stock.layers, 15, "yolov3-tiny.conv.15")
    note = _check_partial(path, source, ModelConfig(arch="yolov3-tiny", num_classes=3), 9)
    assert "first 9 of 13 conv layers" in note and "4 start fresh" in note


def test_darknet53_conv_74_loads_the_52_backbone_convs(tmp_path: Path) -> None:
    """darknet53.conv.74 for yolov3 (at width 0.25 to stay small; same layer structure):
    the first 74 cfg layers hold Darknet-53's 52 convs; the 23 of the neck and heads start fresh."""
    torch.manual_seed(0)
    source = create_model("yolov3", num_classes=80, width=0.25)
    randomise(source, seed=2)
    cfg_layers = darknet_cfg_for(source).layers
    path = _partial_file(tmp_path, source, cfg_layers, 74, "darknet53.conv.74")
    run = ModelConfig(arch="yolov3", num_classes=2, width=0.25)
    note = _check_partial(path, source, run, 52)
    assert "first 52 of 75 conv layers" in note
    model = build_model(run)  # the 52 layers loaded are exactly Darknet-53's convs
    assert {id(m) for m in model.conv_layers()[:52]} == {id(m) for m in model.backbone.modules()
                                                           if isinstance(m, ConvBNAct)}


def test_a_file_cut_inside_a_layer_is_refused_with_where(tmp_path: Path) -> None:
    stock = load_cfg(STOCK / "yolov3-tiny.cfg")
    source = create_model("yolov3-tiny", num_classes=80)
    path = _partial_file(tmp_path, source, stock.layers, 15, "cut")
    path.write_bytes(path.read_bytes()[:-40])  # 10 floats short of layer 9's end
    with pytest.raises(DarknetWeightsError, match=r"cut: ends inside conv layer 9 of 13"):
        build_train_model(ModelConfig(arch="yolov3-tiny", num_classes=3), str(path))


def test_full_darknet_file_of_another_class_count_transfers_all_but_the_heads(tmp_path: Path) -> None:
    torch.manual_seed(0)
    source = create_model("yolov3-tiny", num_classes=80, width=0.25)
    randomise(source, seed=3)
    save_weights(tmp_path / "coco.weights", source.conv_layers())
    run = ModelConfig(arch="yolov3-tiny", num_classes=3, width=0.25)
    torch.manual_seed(5)
    fresh = build_model(run)
    torch.manual_seed(5)
    model, note = build_train_model(run, str(tmp_path / "coco.weights"))
    src, own, new = source.state_dict(), model.state_dict(), fresh.state_dict()
    for k, v in own.items():
        if not v.is_floating_point():
            continue
        assert torch.equal(v, new[k] if k.startswith("heads.") else src[k]), k
    assert "80 classes" in note and "re-initialised for 3 classes: heads.0, heads.1" in note


def test_darknet_file_of_another_class_count_for_a_run_with_class_names(tmp_path: Path) -> None:
    """A run's model config names its classes (the dataset's); the 80-class file still
    transfers all but the heads (it failed with 'class_names has 3 names but num_classes
    is 4' while sizing the file's class count)."""
    torch.manual_seed(0)
    source = create_model("yolov3-tiny", num_classes=80, width=0.25)
    randomise(source, seed=3)
    save_weights(tmp_path / "coco.weights", source.conv_layers())
    run = ModelConfig(arch="yolov3-tiny", num_classes=3, width=0.25, class_names=["RBC", "WBC", "Platelets"])
    model, note = build_train_model(run, str(tmp_path / "coco.weights"))
    assert model.cfg.class_names == ["RBC", "WBC", "Platelets"]
    src = source.state_dict()
    body = [k for k, v in model.state_dict().items() if v.is_floating_point() and not k.startswith("heads.")]
    assert body and all(torch.equal(model.state_dict()[k], src[k]) for k in body)
    assert "(darknet, 80 classes)" in note and "re-initialised for 3 classes: heads.0, heads.1" in note


def test_yolo3_checkpoint_of_another_class_count_and_a_wrong_one(tmp_path: Path) -> None:
    torch.manual_seed(0)
    source = create_model("yolov3-tiny", num_classes=5, width=0.25)
    randomise(source, seed=4)
    save_model(tmp_path / "five.safetensors", source)
    run = ModelConfig(arch="yolov3-tiny", num_classes=2, width=0.25)
    model, note = build_train_model(run, str(tmp_path / "five.safetensors"))
    for k, v in model.state_dict().items():
        if not k.startswith("heads."):
            assert torch.equal(v, source.state_dict()[k]), k
    assert model.heads[0].conv.weight.shape[0] == 3 * 7
    assert "5 classes" in note and "re-initialised for 2 classes: heads.0, heads.1" in note
    with pytest.raises(ConfigError, match=r"five.safetensors: \d+ tensors outside the heads do not fit .* width 0.5"):
        build_train_model(dataclasses.replace(run, width=0.5), str(tmp_path / "five.safetensors"))


def test_freeze_backbone_for_one_epoch_then_unfreeze(tmp_path: Path) -> None:
    """freeze_epochs 1: in epoch 0 the backbone keeps its init and the optimizer holds no
    state for it; from epoch 1 it trains and every parameter has its momentum buffer."""
    data = synth_data(tmp_path, n_train=8)
    cfg = small_config(data, tmp_path / "runs", epochs=2)
    cfg = dataclasses.replace(cfg, optim=dataclasses.replace(cfg.optim, freeze="backbone", freeze_epochs=1))
    saved: list[dict] = []

    def keep(epoch: int, row: dict) -> None:
        tensors, meta = load_checkpoint(tmp_path / "runs" / "run" / "weights" / "last.safetensors")
        saved.append({"tensors": tensors, "meta": meta})

    result = train(cfg, callbacks=[keep])
    log = (result.run_dir / "train.log").read_text()
    assert "freeze: backbone (" in log and "for the first 1 epochs" in log
    model = result.model
    names = [n for n, _ in model.named_parameters()]
    backbone = [n for n in names if is_backbone(n)]
    seed_everything(cfg.seed, False)  # the run's own seeding: its initial weights
    init, _ = build_train_model(dataclasses.replace(cfg.model, num_classes=6, class_names=None), None)
    first, second = (s["tensors"] for s in saved)
    assert backbone and all(torch.equal(first[f"raw.{n}"], init.state_dict()[n]) for n in backbone)
    assert not all(torch.equal(second[f"raw.{n}"], init.state_dict()[n]) for n in backbone)
    assert all(p.requires_grad for p in model.parameters())
    groups = saved[1]["meta"]["train"]["optimizer"]["param_groups"]
    assert any(g["name"].startswith("backbone/") for g in groups)
    assert sum(len(g["params"]) for g in groups) == len(names)  # the optimizer holds every parameter
    buffers = [[k for k in s["tensors"] if k.endswith(".momentum_buffer")] for s in saved]
    assert len(buffers[0]) == len(names) - len(backbone) and len(buffers[1]) == len(names)


def test_freeze_epochs_needs_freeze_backbone() -> None:
    from yolo3.train.config import OptimConfig

    with pytest.raises(ConfigError, match="freeze_epochs"):
        OptimConfig(freeze_epochs=3)


def _cli_config(argv: list[str]):
    """The TrainConfig `yolo3 train ARGV` runs (plots off: matplotlib costs seconds)."""
    from yolo3.cli import build_parser
    from yolo3.cli.train import train_config_from_args

    return dataclasses.replace(train_config_from_args(build_parser().parse_args(["train", *argv])), plots=False)


def test_cli_darknet_partial_file_with_cfg_freeze_and_recipe(tmp_path: Path, capsys) -> None:
    """`yolo3 train --cfg yolov3-tiny.cfg --weights yolov3-tiny.conv.15 --freeze backbone
    --freeze-epochs 1`, and the same freeze from a recipe YAML."""
    data = synth_data(tmp_path, n_train=8)
    stock = load_cfg(STOCK / "yolov3-tiny.cfg")
    source = create_model("yolov3-tiny", num_classes=80)
    path = _partial_file(tmp_path, source, stock.layers, 15, "yolov3-tiny.conv.15")
    common = ["--data", str(data), "--imgsz", "64", "--batch-size", "4", "--workers", "0", "--epochs", "2",
              "--max-steps", "1", "--no-progress", "--no-tensorboard", "--amp", "off", "--project", str(tmp_path)]
    cfg = _cli_config(["--cfg", str(STOCK / "yolov3-tiny.cfg"), "--weights", str(path), "--freeze", "backbone",
                       "--freeze-epochs", "1", "--name", "cli", *common])
    assert (cfg.model.arch, cfg.model.width, cfg.optim.freeze_epochs) == ("yolov3-tiny", 1.0, 1)
    assert cfg.model.anchors == [[[23, 27], [37, 58], [81, 82]], [[81, 82], [135, 169], [344, 319]]]  # masks 1,2,3 / 3,4,5
    train(cfg)
    log = (tmp_path / "cli" / "train.log").read_text()
    assert "first 9 of 13 conv layers" in log and "for the first 1 epochs" in log
    assert "auto-anchor: skipped" not in log  # fresh heads: anchors are checked against the data
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(yaml.safe_dump({"model": {"arch": "yolov3-tiny", "width": 0.25},
                                      "optim": {"freeze": "backbone", "freeze_epochs": 1}}))
    cfg = _cli_config(["--config", str(recipe), "--name", "recipe", *common])
    assert cfg.optim.freeze == "backbone" and cfg.optim.freeze_epochs == 1
    capsys.readouterr()
    assert cli_main(["train", "--cfg", str(STOCK / "yolov3-tiny.cfg"), "--model", "yolov3", *common]) == 2
    assert "yolo3 train: error: --cfg and --model both name the model" in capsys.readouterr().err


@pytest.mark.parametrize("option", [["--width", "0.5"], ["--depth", "0.33"], ["--anchors", "1,1 2,2 3,3 4,4 5,5 6,6"]])
def test_cli_cfg_refuses_the_model_options_it_would_override(option: list[str], tmp_path: Path, capsys) -> None:
    """--cfg sets the architecture, width, depth and anchors: --width/--depth/--anchors given
    with it were parsed and silently dropped (the cfg's values were trained)."""
    assert cli_main(["train", "--data", str(tmp_path / "data.yaml"), "--cfg", str(STOCK / "yolov3-tiny.cfg"),
                     *option, "--project", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"yolo3 train: error: --cfg and {option[0]} both set the model") and len(err.splitlines()) == 1
    assert not list(tmp_path.iterdir())


class _Stop(Exception):
    pass


def test_resume_inside_the_frozen_epochs_equals_the_unbroken_run(tmp_path: Path) -> None:
    """Killed while the backbone is frozen, resumed: it unfreezes at the same epoch and ends
    bitwise equal to the unbroken run (weights, EMA, optimizer state)."""
    from yolo3.train import TrainConfig

    data = synth_data(tmp_path, n_train=8)
    base = small_config(data, tmp_path, epochs=3)
    base = dataclasses.replace(base, optim=dataclasses.replace(base.optim, freeze="backbone", freeze_epochs=2))
    unbroken = train(dataclasses.replace(base, name="full"))

    def stop(epoch: int, row: dict) -> None:
        if epoch == 0:
            raise _Stop

    with pytest.raises(_Stop):
        train(dataclasses.replace(base, name="broken"), callbacks=[stop])
    resumed = train(dataclasses.replace(TrainConfig(), resume=str(tmp_path / "broken")))
    a, _ = load_checkpoint(unbroken.last)
    b, _ = load_checkpoint(resumed.last)
    keys = [k for k in a if k.startswith(("model.", "raw.", "optim."))]
    assert keys and set(a) == set(b) and all(torch.equal(a[k], b[k]) for k in keys)
    assert any(k.startswith("optim.") and k.endswith("momentum_buffer") for k in keys)


def test_cli_weights_of_another_size_and_class_count_bring_their_model(tmp_path: Path) -> None:
    """The README's `yolo3 train --data D --weights runs/other/weights/best.safetensors` (a yolo3
    model with another class count) was refused for any checkpoint not of the default
    yolov3-tiny width 1 depth 1 ("tensors outside the heads do not fit"): with nothing else
    naming the model, the run now takes the checkpoint's architecture, width and depth."""
    torch.manual_seed(0)
    source = create_model("yolov3", num_classes=5, width=0.125, depth=0.34)
    randomise(source, seed=5)
    weights = tmp_path / "other.safetensors"
    save_model(weights, source)
    data = synth_data(tmp_path, n_train=4)
    cfg = _cli_config(["--data", str(data), "--weights", str(weights), "--project", str(tmp_path)])
    assert (cfg.model.arch, cfg.model.width, cfg.model.depth) == ("yolov3", 0.125, 0.34)
    model, note = build_train_model(dataclasses.replace(cfg.model, num_classes=6), str(weights))
    body = [k for k, v in source.state_dict().items() if v.is_floating_point() and not k.startswith("heads.")]
    assert body and all(torch.equal(model.state_dict()[k], source.state_dict()[k]) for k in body)
    assert "5 classes" in note and "re-initialised for 6 classes: heads.0, heads.1, heads.2" in note
    # a size given on the command line still wins, and a mismatch is still refused
    assert _cli_config(["--data", str(data), "--weights", str(weights), "--width", "0.5"]).model.width == 0.5
    assert _cli_config(["--data", str(data), "--model", "yolov3-tiny", "--weights", str(weights)]).model.arch \
        == "yolov3-tiny"
