"""Helpers for the darknet tests: stock cfg paths, independent float counts, random nets."""

from __future__ import annotations

from pathlib import Path

import torch

from yolo3.darknet.cfg import Conv, DarknetCfg, Route
from yolo3.darknet.network import DarknetNetwork

STOCK = Path(__file__).parent / "data" / "darknet"
STOCK_CFGS = ("yolov3", "yolov3-tiny", "yolov3-spp")
# Sizes of the official darknet files, bytes: (size − 20-byte header) / 4 floats.
OFFICIAL_WEIGHTS_BYTES = {"yolov3": 248_007_048, "yolov3-tiny": 35_434_956, "yolov3-spp": 252_209_544}


def hand_count_floats(cfg: DarknetCfg) -> int:
    """Floats a .weights file needs, counted from the cfg text alone (not from any module)."""
    channels: list[int] = []
    ch, total = 3, 0
    for i, layer in enumerate(cfg.layers):
        if isinstance(layer, Conv):
            total += layer.filters * ch * layer.size ** 2 + layer.filters * (4 if layer.batch_normalize else 1)
            ch = layer.filters
        elif isinstance(layer, Route):
            ch = sum(channels[j + i if j < 0 else j] for j in layer.layers)
        channels.append(ch)
    return total


@torch.no_grad()
def randomise(net: torch.nn.Module, seed: int = 0) -> None:
    """Random BN statistics/affine and head biases, so every stored float matters."""
    g = torch.Generator().manual_seed(seed)
    for layer in net.conv_layers():
        conv, bn = (layer, None) if isinstance(layer, torch.nn.Conv2d) else (layer.conv, layer.bn)
        if bn is not None:
            bn.running_mean.copy_(torch.randn(bn.num_features, generator=g) * 0.1)
            bn.running_var.copy_(torch.rand(bn.num_features, generator=g) + 0.5)
            bn.weight.copy_(torch.rand(bn.num_features, generator=g) + 0.5)
            bn.bias.copy_(torch.randn(bn.num_features, generator=g) * 0.1)
        if conv.bias is not None:
            conv.bias.copy_(torch.randn(conv.out_channels, generator=g) * 0.1)


def random_network(cfg: DarknetCfg, seed: int = 0) -> DarknetNetwork:
    torch.manual_seed(seed)
    net = DarknetNetwork(cfg)
    randomise(net, seed)
    return net.eval()
