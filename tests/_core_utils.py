"""Helpers for the learning-core tests: tiny models and hand-made scenes."""

from __future__ import annotations

import torch

from yolo3.inference.postprocess import NMSConfig, postprocess
from yolo3.losses import LossConfig, YOLOLoss
from yolo3.models import create_model
from yolo3.ops.boxes import box_iou
from yolo3.ops.decode import decode

# Anchors for 128-px scenes, two scales (strides 16, 32) of yolov3-tiny.
SMALL_ANCHORS = [[[12, 12], [20, 32], [32, 20]], [[40, 40], [48, 72], [72, 48]]]


def tiny_model(xy_mode: str = "paper", num_classes: int = 3, anchors=None):
    """A yolov3-tiny at width 0.25 for 128-px inputs."""
    return create_model("yolov3-tiny", num_classes=num_classes, width=0.25, imgsz=128, xy_mode=xy_mode,
                        anchors=anchors or SMALL_ANCHORS)


def rectangles_batch() -> tuple[torch.Tensor, torch.Tensor]:
    """Two 128×128 images with solid coloured rectangles on grey; targets (M, 6) input pixels."""
    targets = torch.tensor([
        [0, 0, 8, 10, 40, 50],
        [0, 1, 60, 64, 120, 100],
        [1, 2, 20, 70, 52, 118],
        [1, 0, 70, 8, 110, 40],
    ])
    colours = {0: (1.0, 0.1, 0.1), 1: (0.1, 1.0, 0.1), 2: (0.1, 0.1, 1.0)}
    images = torch.full((2, 3, 128, 128), 0.45)
    for b, c, x1, y1, x2, y2 in targets.tolist():
        images[int(b), :, int(y1):int(y2), int(x1):int(x2)] = torch.tensor(colours[int(c)])[:, None, None]
    return images, targets.float()


def overfit(xy_mode: str, assign_mode: str, steps: int = 200, lr: float = 3e-3, box_loss: str = "paper"):
    """Trains a tiny model on one batch; returns (first loss, last loss, model, images, targets)."""
    torch.manual_seed(0)
    model = tiny_model(xy_mode)
    images, targets = rectangles_batch()
    criterion = YOLOLoss(model, LossConfig(assign_mode=assign_mode, box_loss=box_loss))
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    first = last = None
    model.train()
    for _ in range(steps):
        total, _ = criterion(model(images), targets)
        opt.zero_grad()
        total.backward()
        opt.step()
        first = first if first is not None else float(total.detach())
        last = float(total.detach())
    return first, last, model, images, targets


@torch.no_grad()
def detect(model, images: torch.Tensor, conf: float = 0.25) -> list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    """Decode + NMS in eval mode → per image (boxes, scores, labels) in input pixels."""
    model.eval()
    preds = decode(model(images), model.anchors, model.strides, model.cfg.xy_mode)
    return postprocess(preds, NMSConfig(conf_threshold=conf, iou_threshold=0.45))


def best_ious(dets, targets: torch.Tensor) -> torch.Tensor:
    """For each target row, the best IoU with a same-class detection of its image: (M,)."""
    out = torch.zeros(len(targets))
    for i, (b, c, *box) in enumerate(targets.tolist()):
        boxes, _, labels = dets[int(b)]
        keep = labels == int(c)
        if keep.any():
            out[i] = box_iou(torch.tensor([box]), boxes[keep]).max()
    return out


class StubModel:
    """Just what YOLOLoss reads from a model: anchors (S, A, 2), strides, classes, xy_mode."""

    def __init__(self, anchors, strides: tuple[int, ...], num_classes: int, xy_mode: str = "paper") -> None:
        self.anchors = torch.as_tensor(anchors, dtype=torch.float32)
        self.strides = strides
        self.num_classes = num_classes
        self.cfg = type("Cfg", (), {"xy_mode": xy_mode})()

    def zeros(self, imgsz: int, batch: int = 1, dtype: torch.dtype = torch.float32) -> list[torch.Tensor]:
        """Raw outputs of all zeros (requires_grad) for a square input of `imgsz`."""
        a = self.anchors.shape[1]
        return [torch.zeros(batch, a, imgsz // s, imgsz // s, 5 + self.num_classes, dtype=dtype, requires_grad=True)
                for s in self.strides]
