"""darknet .cfg parsing, writing, generic network layers and architecture matching."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from _darknet_utils import STOCK, hand_count_floats
from yolo3.config import COCO_ANCHORS, ModelConfig
from yolo3.darknet.cfg import Conv, DarknetCfg, DarknetCfgError, Net, MaxPool, Route, Yolo, format_cfg, load_cfg, parse_cfg
from yolo3.darknet.match import match_cfg
from yolo3.darknet.network import DarknetMaxPool, DarknetNetwork
from yolo3.darknet.templates import arch_layers, structure

HEAD = "[net]\nwidth=64\nheight=64\nchannels=3\n\n"


def test_stock_tiny_parsed_as_written() -> None:
    cfg = load_cfg(STOCK / "yolov3-tiny.cfg")
    assert len(cfg.layers) == 24 and (cfg.net.width, cfg.net.height) == (416, 416)
    assert cfg.net.extra["steps"] == "400000,450000" and cfg.net.extra["saturation"] == "1.5"
    pool = cfg.layers[11]
    assert isinstance(pool, MaxPool) and (pool.size, pool.stride, pool.padding) == (2, 1, 1)
    assert isinstance(cfg.layers[20], Route) and cfg.layers[20].layers == (-1, 8)
    yolo = cfg.layers[23]
    assert isinstance(yolo, Yolo) and yolo.mask == (1, 2, 3) and yolo.num == 6 and yolo.ignore_thresh == 0.7
    assert yolo.head_anchors == [[23, 27], [37, 58], [81, 82]]
    head = cfg.layers[22]
    assert isinstance(head, Conv) and (head.filters, head.batch_normalize, head.activation) == (255, 0, "linear")


@pytest.mark.parametrize(("name", "layers", "convs"), [("yolov3", 107, 75), ("yolov3-spp", 114, 76), ("yolov3-tiny", 24, 13)])
def test_stock_layer_counts(name: str, layers: int, convs: int) -> None:
    cfg = load_cfg(STOCK / f"{name}.cfg")
    assert len(cfg.layers) == layers
    assert sum(isinstance(layer, Conv) for layer in cfg.layers) == convs


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("[convolutional]\nfilters=8\nsize=3\ngroups=2\nactivation=leaky\n", 9, ["groups", "[convolutional]"]),
        ("[convolutional]\nfilters=8\nsize=3\nactivation=mish\n", 9, ["mish", "activation"]),
        ("[convolutional]\nfilters=8\nsize=3\n", 6, ["logistic"]),
        ("[yolo]\nmask=0\nanchors=10,13\nnum=1\nscale_x_y=1.05\n", 10, ["scale_x_y", "[yolo]"]),
        ("[dropout]\nprobability=.5\n", 6, ["[dropout]"]),
        ("[convolutional]\nfilters=8\nfilters=9\nactivation=leaky\n", 8, ["repeats line 7"]),
        ("[yolo]\nmask=0,7\nanchors=10,13,  16,30\nnum=2\n", 6, ["outside 0..1"]),
        ("[route]\nlayers=-1,x\n", 7, ["layers"]),
        # zero or negative sizes: a misleading 'two [yolo] layers share stride' or a torch error before
        ("[convolutional]\nfilters=8\nsize=3\nstride=0\nactivation=leaky\n", 6, ["stride=0", "at least 1"]),
        ("[convolutional]\nfilters=-8\nsize=3\nactivation=leaky\n", 6, ["filters=-8", "at least 1"]),
        ("[convolutional]\nfilters=8\nsize=0\nactivation=leaky\n", 6, ["size=0", "at least 1"]),
        ("[maxpool]\nsize=2\nstride=0\n", 6, ["[maxpool] stride=0"]),
        ("[yolo]\nmask=0\nanchors=10,13\nnum=1\nclasses=0\n", 6, ["[yolo] classes=0"]),
    ],
)
def test_unsupported_input_names_the_line(text: str, line: int, words: list[str]) -> None:
    with pytest.raises(DarknetCfgError) as err:
        parse_cfg(HEAD + text, "my.cfg")
    message = str(err.value)
    assert f"my.cfg:{line}:" in message
    for word in words:
        assert word in message


@pytest.mark.parametrize("size", ["width=-64\nheight=-64", "width=0\nheight=0"])
def test_a_net_size_that_is_not_positive_names_the_file(size: str) -> None:
    """[net] width=-64 height=-64 passed the square/multiple-of-32 test and failed later as
    'imgsz: -64 is not a positive multiple of 32', naming no file."""
    with pytest.raises(DarknetCfgError, match=r"my.cfg:1: \[net\] width=-?\d+ height=-?\d+; both must be positive"):
        parse_cfg(f"[net]\n{size}\n" + HEAD.split("\n", 3)[3], "my.cfg")


def test_route_to_a_later_layer_is_refused() -> None:
    text = HEAD + "[convolutional]\nfilters=8\nsize=1\nactivation=leaky\n\n[route]\nlayers=3\n"
    with pytest.raises(DarknetCfgError, match=r"my.cfg:11: layer index 3 of layer 1"):
        DarknetNetwork(parse_cfg(text, "my.cfg"))


def test_yolo_filters_must_fit_mask_and_classes() -> None:
    text = HEAD + "[convolutional]\nfilters=20\nsize=1\nactivation=linear\n\n[yolo]\nmask=0,1\nanchors=1,2,3,4\nnum=2\nclasses=4\n"
    with pytest.raises(DarknetCfgError, match=r"my.cfg:11: .*needs filters=18 .* has 20"):  # 2 anchors * (5 + 4)
        DarknetNetwork(parse_cfg(text, "my.cfg"))
    assert DarknetNetwork(parse_cfg(text.replace("classes=4", "classes=5"))).num_classes == 5


@pytest.mark.parametrize("name", ["yolov3", "yolov3-spp", "yolov3-tiny"])
def test_format_then_parse_keeps_every_layer(name: str) -> None:
    cfg = load_cfg(STOCK / f"{name}.cfg")
    again = parse_cfg(format_cfg(cfg), "again.cfg")
    assert structure(again.layers) == structure(cfg.layers)
    def yolos(layers: list) -> list[Yolo]:
        return [dataclasses.replace(y, line=0) for y in layers if isinstance(y, Yolo)]

    assert yolos(again.layers) == yolos(cfg.layers)
    assert again.net.extra == cfg.net.extra and again.net.width == cfg.net.width


def _darknet_maxpool(x: np.ndarray, size: int, stride: int, padding: int) -> np.ndarray:
    """darknet's forward_maxpool_layer loop, transcribed (out-of-image cells are skipped)."""
    h, w = x.shape
    oh, ow = (h + padding - size) // stride + 1, (w + padding - size) // stride + 1
    off = -(padding // 2)
    out = np.full((oh, ow), -np.inf)
    for i in range(oh):
        for j in range(ow):
            for n in range(size):
                for m in range(size):
                    r, c = off + i * stride + n, off + j * stride + m
                    if 0 <= r < h and 0 <= c < w:
                        out[i, j] = max(out[i, j], x[r, c])
    return out


@pytest.mark.parametrize(("size", "stride"), [(2, 1), (2, 2), (5, 1), (13, 1), (3, 2)])
def test_maxpool_matches_darknet_loop(size: int, stride: int) -> None:
    x = torch.randn(1, 1, 7, 6)
    ours = DarknetMaxPool(MaxPool(size, stride, size - 1))(x)[0, 0].numpy()
    np.testing.assert_array_equal(ours, _darknet_maxpool(x[0, 0].numpy(), size, stride, size - 1))


@pytest.mark.parametrize("name", ["yolov3", "yolov3-spp", "yolov3-tiny"])
def test_stock_cfgs_match_registered_archs(name: str) -> None:
    cfg = match_cfg(load_cfg(STOCK / f"{name}.cfg"))
    assert (cfg.arch, cfg.num_classes, cfg.width, cfg.depth) == (name, 80, 1.0, 1.0)
    if name == "yolov3-tiny":
        assert cfg.imgsz == 416
        assert cfg.anchors == [[[23, 27], [37, 58], [81, 82]], [[81, 82], [135, 169], [344, 319]]]
    else:
        assert cfg.imgsz == 608 and cfg.anchors == COCO_ANCHORS


@pytest.mark.parametrize(("arch", "width", "depth"), [("yolov3", 0.25, 0.33), ("yolov3-spp", 0.5, 0.5), ("yolov3-tiny", 0.25, 1.0)])
def test_scaled_variants_are_recognised(arch: str, width: float, depth: float) -> None:
    want = ModelConfig(arch=arch, num_classes=3, width=width, depth=depth, imgsz=96)
    text = format_cfg(DarknetCfg(Net(width=96, height=96), arch_layers(want)))
    got = match_cfg(parse_cfg(text))
    assert got.arch == arch and got.num_classes == 3 and got.imgsz == 96
    assert structure(arch_layers(got)) == structure(arch_layers(want))


def test_unregistered_structure_is_reported() -> None:
    cfg = load_cfg(STOCK / "yolov3-tiny.cfg")
    cfg.layers[0].filters = 24  # type: ignore[union-attr]
    with pytest.raises(DarknetCfgError, match="match none of yolo3's registered"):
        match_cfg(cfg)
    DarknetNetwork(cfg)  # the generic network still runs it


def test_hand_count_equals_official_file_sizes() -> None:
    from _darknet_utils import OFFICIAL_WEIGHTS_BYTES

    for name, size in OFFICIAL_WEIGHTS_BYTES.items():
        assert hand_count_floats(load_cfg(STOCK / f"{name}.cfg")) == (size - 20) // 4
