"""Detect, then classify: re-label detections with a crop classifier.

The detector is used class-agnostically: each prediction's objectness alone ranks the
candidates (threshold, NMS across all classes). Every kept box is cut from the original
image with the classifier's context (`yolo3.data.crops`), classified (softmax), and gets
the most probable *allowed* classifier class (the call's class subset) with score
objectness × that class's probability; boxes whose new score misses the threshold of
their class are dropped.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from yolo3.data.crops import crop_with_context, crops_to_tensor
from yolo3.io.classifier import load_classifier
from yolo3.models.classifier import CropClassifier


class CropRelabeler:
    """A loaded crop classifier: (image, boxes) → class probabilities."""

    def __init__(self, model: CropClassifier, source: str = "classifier", batch_size: int = 64) -> None:
        self.model = model.eval()
        self.cfg = model.cfg
        self.class_names = list(model.cfg.class_names)
        self.source = source
        self.batch_size = batch_size

    @classmethod
    def load(cls, path: str | Path) -> "CropRelabeler":
        model, _ = load_classifier(path)
        return cls(model, str(path))

    @torch.inference_mode()
    def probabilities(self, image: np.ndarray, boxes: np.ndarray) -> np.ndarray:
        """(h, w, 3) uint8 RGB image, (K, 4) xyxy original pixels → (K, C) softmax probabilities."""
        if len(boxes) == 0:
            return np.zeros((0, len(self.class_names)), np.float32)
        out = []
        for start in range(0, len(boxes), self.batch_size):
            crops = [crop_with_context(image, b, self.cfg.imgsz, self.cfg.context)
                     for b in boxes[start : start + self.batch_size]]
            out.append(torch.softmax(self.model(crops_to_tensor(crops)), 1))
        return torch.cat(out).numpy()

    def relabel(
        self, image: np.ndarray, boxes: np.ndarray, objectness: np.ndarray, classes: list[int] | None,
        thresholds: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Boxes (K, 4) with objectness (K,) → (kept indices, scores obj × p, classifier class ids).

        classes: allowed classifier class ids (None = all); thresholds: (C,) minimum score per class.
        """
        probs = self.probabilities(image, boxes)
        if classes is not None:
            allowed = np.zeros(len(self.class_names), bool)
            allowed[classes] = True
            probs = np.where(allowed[None], probs, -1.0)
        labels = probs.argmax(1) if len(probs) else np.zeros(0, np.int64)
        scores = objectness * probs[np.arange(len(labels)), labels] if len(probs) else np.zeros(0, np.float32)
        keep = np.nonzero(scores > thresholds[labels])[0] if len(labels) else np.zeros(0, np.int64)
        return keep, scores[keep].astype(np.float32), labels[keep].astype(np.int64)
