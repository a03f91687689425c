"""The short path from images to detections: letterbox → model → decode → NMS → map back."""

from __future__ import annotations

import numpy as np
import torch

from yolo3.data.letterbox import LetterboxInfo, boxes_from_letterbox, letterbox
from yolo3.inference.postprocess import NMSConfig, postprocess
from yolo3.inference.preprocess import preprocess_batch
from yolo3.inference.results import Detections
from yolo3.models import YOLOv3Base
from yolo3.ops.decode import decode


def to_tensor(images: list[np.ndarray]) -> torch.Tensor:
    """List of (H, W, 3) uint8 RGB images of equal size → (B, 3, H, W) float32 in [0, 1]."""
    batch = torch.from_numpy(np.ascontiguousarray(np.stack(images).transpose(0, 3, 1, 2)))
    return batch.float().div_(255.0)


@torch.no_grad()
def predict_arrays(
    model: YOLOv3Base,
    images: list[np.ndarray],
    imgsz: int | None = None,
    nms: NMSConfig | None = None,
    sources: list[str] | None = None,
    class_names: list[str] | None = None,
    preprocess: str = "yolo3",
) -> list[Detections]:
    """Detects objects in RGB uint8 (h, w, 3) arrays; boxes come back in their pixels.

    Runs on the model's device, in its current mode; `class_names` default to the model's.
    preprocess: 'yolo3' letterbox or 'darknet' (see `yolo3.inference.preprocess.PREPROCESS_MODES`).
    """
    if not images:
        return []
    imgsz = imgsz or model.cfg.imgsz
    nms = nms or NMSConfig()
    names = class_names if class_names is not None else model.cfg.names
    if preprocess == "yolo3":
        boxed, infos = zip(*(letterbox(img, imgsz) for img in images))
        batch = to_tensor(list(boxed))
    else:
        batch, infos = preprocess_batch(images, imgsz, preprocess)
    raw = model(batch.to(next(model.parameters()).device))
    preds = decode(raw, model.anchors, model.strides, model.cfg.xy_mode)
    results = []
    for i, ((boxes, scores, labels), info) in enumerate(zip(postprocess(preds, nms), infos)):
        results.append(detections_from_network(boxes.cpu(), scores.cpu(), labels.cpu(), info, names,
                                               sources[i] if sources else f"image{i}"))
    return results


def detections_from_network(
    boxes: torch.Tensor, scores: torch.Tensor, labels: torch.Tensor, info: LetterboxInfo, names: list[str], source: str
) -> Detections:
    """Network-pixel detections → a Detections in original pixels."""
    return Detections(
        boxes=boxes_from_letterbox(boxes.float(), info).numpy().astype(np.float32),
        scores=scores.float().numpy(),
        class_ids=labels.numpy().astype(np.int64),
        class_names=names,
        image_size=info.original,
        source=source,
    )
