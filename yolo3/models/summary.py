"""`yolo3 info`: layers, parameters and GFLOPs of a model (darknet's way of counting)."""

from __future__ import annotations

import dataclasses

import torch
from torch import nn

from yolo3.models.registry import create_model
from yolo3.models.yolov3 import YOLOv3Base


@dataclasses.dataclass
class ModelInfo:
    """Size of a model at one input size.

    parameters: conv weights + conv biases + BatchNorm scale and shift.
    gflops: 2 FLOPs per multiply-add of every convolution (as darknet counts), 1e9 units.
    layers: one row per convolution: (name, in, out, kernel, stride, output H×W, GFLOPs).
    """

    name: str
    imgsz: int
    num_classes: int
    parameters: int
    gflops: float
    layers: list[tuple[str, int, int, int, int, str, float]]

    def table(self) -> str:
        rows = [f"{'#':>3} {'layer':<34} {'in':>5} {'out':>5} {'k':>2} {'s':>2} {'output':>9} {'GFLOPs':>7}"]
        for i, (name, cin, cout, k, s, hw, gf) in enumerate(self.layers):
            rows.append(f"{i:>3} {name:<34} {cin:>5} {cout:>5} {k:>2} {s:>2} {hw:>9} {gf:>7.3f}")
        rows.append(
            f"{self.name} @ {self.imgsz}x{self.imgsz}, {self.num_classes} classes: "
            f"{len(self.layers)} conv layers, {self.parameters:,} parameters, {self.gflops:.2f} GFLOPs"
        )
        return "\n".join(rows)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def measure(model: YOLOv3Base, imgsz: int, name: str = "") -> ModelInfo:
    """Runs one forward on zeros at `imgsz` and counts every conv's multiply-adds."""
    names = {m: n for n, m in model.named_modules()}
    layers: list[tuple[str, int, int, int, int, str, float]] = []

    def hook(module: nn.Conv2d, _inputs: tuple, output: torch.Tensor) -> None:
        macs = output.numel() // output.shape[0] * module.in_channels // module.groups * module.kernel_size[0] * module.kernel_size[1]
        layers.append(
            (names[module], module.in_channels, module.out_channels, module.kernel_size[0], module.stride[0],
             f"{output.shape[2]}x{output.shape[3]}", 2 * macs / 1e9)
        )

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, nn.Conv2d)]
    try:
        was_training = model.training
        model.eval()
        with torch.no_grad():
            model(torch.zeros(1, 3, imgsz, imgsz, device=next(model.parameters()).device))
        model.train(was_training)
    finally:
        for h in handles:
            h.remove()
    return ModelInfo(name or model.cfg.arch, imgsz, model.num_classes, count_parameters(model),
                     sum(row[-1] for row in layers), layers)


def info(model: str = "yolov3", imgsz: int = 416, classes: int = 80, width: float = 1.0, depth: float = 1.0) -> ModelInfo:
    """Builds a registered model and measures it (the `yolo3 info` command), on the meta
    device: shapes only, so no size asked for allocates its weights or activations."""
    with torch.device("meta"):
        net = create_model(model, num_classes=classes, width=width, depth=depth, imgsz=imgsz)
    return measure(net, imgsz, model)
