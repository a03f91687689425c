"""Model family: darknet's exact sizes, forward shapes, BN folding, configs."""

from __future__ import annotations

import pytest
import torch

from yolo3.config import ConfigError, ModelConfig, load_yaml, save_yaml
from yolo3.models import build_model, create_model, list_models
from yolo3.models.summary import info

# darknet's own figures for its networks at 416×416, 80 classes (SPEC §1.4).
DARKNET_FIGURES = {
    "yolov3": (61_949_149, 65.86, 75),
    "yolov3-tiny": (8_852_366, 5.56, 13),
    "yolov3-spp": (62_998_749, 66.22, 76),
}


def test_registry_lists_the_three_variants() -> None:
    assert set(DARKNET_FIGURES) <= set(list_models())
    with pytest.raises(ValueError, match="unknown model"):
        create_model("yolov9")


@pytest.mark.parametrize("name", sorted(DARKNET_FIGURES))
def test_parameters_and_gflops_equal_darknet(name: str) -> None:
    params, gflops, convs = DARKNET_FIGURES[name]
    result = info(name, imgsz=416, classes=80)
    assert result.parameters == params
    assert round(result.gflops, 2) == gflops
    assert len(result.layers) == convs


def test_gflops_follow_the_conv_formula_by_hand() -> None:
    # yolov3-tiny's first conv: 3→16, 3×3, output 416×416 → 2·16·3·9·416² FLOPs.
    first = info("yolov3-tiny", 416, 80).layers[0]
    assert first[-1] == pytest.approx(2 * 16 * 3 * 9 * 416 * 416 / 1e9)


@pytest.mark.parametrize("name", sorted(DARKNET_FIGURES))
@pytest.mark.parametrize("imgsz,classes", [(64, 1), (96, 3), (160, 7)])
def test_forward_shapes(name: str, imgsz: int, classes: int) -> None:
    model = create_model(name, num_classes=classes, width=0.25, depth=0.34).eval()
    with torch.no_grad():
        outputs = model(torch.rand(2, 3, imgsz, imgsz))
    assert len(outputs) == len(model.strides) == model.anchors.shape[0]
    for out, stride in zip(outputs, model.strides):
        assert out.shape == (2, 3, imgsz // stride, imgsz // stride, 5 + classes)


def test_non_square_input_divisible_by_32() -> None:
    model = create_model("yolov3-tiny", num_classes=2, width=0.25).eval()
    with torch.no_grad():
        out = model(torch.rand(1, 3, 64, 128))
    assert [o.shape[2:4] for o in out] == [(4, 8), (2, 4)]


def test_width_and_depth_multipliers_shrink_the_model() -> None:
    full = info("yolov3", 64, 3).parameters
    small = info("yolov3", 64, 3, width=0.25, depth=0.34).parameters
    assert small < full / 10


def test_prior_biases_give_small_initial_probabilities() -> None:
    model = create_model("yolov3-tiny", num_classes=4, width=0.25, prior_obj=0.01, prior_cls=0.02).eval()
    with torch.no_grad():
        out = model(torch.zeros(1, 3, 64, 64))[0]
    # weights ~N(0, 0.01): the sigmoid stays close to the prior.
    assert torch.sigmoid(out[..., 4]).mean().item() == pytest.approx(0.01, abs=0.005)
    assert torch.sigmoid(out[..., 5:]).mean().item() == pytest.approx(0.02, abs=0.01)


@pytest.mark.parametrize("name", sorted(DARKNET_FIGURES))
def test_fuse_keeps_outputs(name: str) -> None:
    model = create_model(name, num_classes=3, width=0.25, depth=0.34)
    # Non-trivial BN statistics: a few training-mode passes.
    model.train()
    with torch.no_grad():
        for _ in range(3):
            model(torch.rand(2, 3, 64, 64))
    model.eval()
    x = torch.rand(1, 3, 96, 96)
    with torch.no_grad():
        before = model(x)
        after = model.fuse()(x)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in model.modules())
    for a, b in zip(before, after):
        torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-4)


def test_model_config_yaml_round_trip(tmp_path) -> None:
    cfg = ModelConfig(arch="yolov3-tiny", num_classes=2, class_names=["a", "b"], width=0.5,
                      anchors=[[[10, 14], [23, 27], [37, 58]], [[81, 82], [135, 169], [344, 319]]])
    path = tmp_path / "model.yaml"
    save_yaml(cfg, path)
    loaded = load_yaml(ModelConfig, path)
    assert loaded == cfg
    assert torch.equal(build_model(loaded).anchors, torch.tensor(cfg.anchors))


@pytest.mark.parametrize(
    "text,message",
    [
        ("arch: yolov3\nnum_clases: 3\n", "unknown key"),
        ("num_classes: three\n", "expected int"),
        ("imgsz: 400\n", "multiple of 32"),
        ("num_classes: 2\nclass_names: [a]\n", "one name per class"),
        ("- 1\n- 2\n", "mapping"),
        # a ragged list used to end in numpy's 'setting an array element with a sequence'
        ("arch: yolov3-tiny\nanchors: [[[10, 14], [23, 27]], [[81, 82], [135, 169], [344, 319]]]\n",
         r"anchors: every scale needs the same number of \(w, h\) anchors, at least one, got \[2, 3\]"),
        ("arch: yolov3-tiny\nanchors: [[], []]\n", r"got \[0, 0\]"),
    ],
)
def test_bad_config_files_name_the_file_and_problem(tmp_path, text: str, message: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message) as err:
        load_yaml(ModelConfig, path)
    assert "bad.yaml" in str(err.value)


def test_anchor_groups_must_match_scales() -> None:
    with pytest.raises(ValueError, match="2 scales but 3 anchor groups"):
        create_model("yolov3-tiny", anchors=[[[1, 1]], [[2, 2]], [[3, 3]]])


def test_info_counts_without_allocating_the_model() -> None:
    # found by hand: `yolo3 info --width 100` (a typo for 1.00) was OOM-killed after taking 24 GB, since info
    # built the model's weights and ran a forward just to count; yolov3 at width 2 needs ~1 GB of weights
    import subprocess
    import sys

    script = ("import resource, torch\n"
              "from yolo3.models.summary import info\n"
              "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
              "r = info('yolov3', 416, 80, 2.0)\n"
              "print(r.parameters, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before)\n")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout.split()
    parameters, grown_kb = int(out[0]), int(out[1])
    with torch.device("meta"):  # shapes only
        expected = sum(p.numel() for p in create_model("yolov3", num_classes=80, width=2.0).parameters())
    assert parameters == expected
    assert grown_kb < 200_000, f"info grew the process by {grown_kb / 1e3:.0f} MB"
