"""`Detector`: the Python API of detection (SPEC §8).

    detector = Detector.load("best.safetensors")   # or an exported .onnx / OpenVINO folder
    dets = detector(["a.jpg", rgb_array, pil_image], classes=["cat"], roi=[[(0, 0), ...]])

Pipeline per batch: letterbox → backend (model + decode) → candidates (score =
obj × cls, per-class thresholds, class subset) → ROI on the candidates' centres → NMS
→ optional TTA box merge → boxes in original pixels (`Detections`).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

from yolo3.config import imgsz_problem
from yolo3.data.letterbox import LetterboxInfo, boxes_from_letterbox
from yolo3.inference.backends import Backend
from yolo3.inference.choose import open_model
from yolo3.inference.fast import configure_threads
from yolo3.inference.postprocess import NMSConfig, candidates, select
from yolo3.inference.predict import detections_from_network
from yolo3.inference.preprocess import ImageInput, letterbox_batch, load_input
from yolo3.inference.results import Detections
from yolo3.inference.roi import RoiInput, make_roi
from yolo3.inference.tta import TTAConfig, merge_boxes, tta_predict

Thresholds = None | str | Sequence[float] | dict[str, float]


class Detector:
    """Runs a backend on batches of images and returns one `Detections` per image."""

    def __init__(
        self,
        backend: Backend,
        class_names: list[str],
        imgsz: int,
        metadata: dict[str, Any] | None = None,
        nms: NMSConfig | None = None,
        batch_size: int = 8,
    ) -> None:
        if imgsz_problem(imgsz):
            raise ValueError(f"imgsz: {imgsz_problem(imgsz)}")
        if batch_size < 1:
            raise ValueError(f"batch_size {batch_size}: must be at least 1")
        self.backend = backend
        self.class_names = list(class_names)
        self.imgsz = imgsz
        self.metadata = metadata or {}
        self.nms = nms or NMSConfig()
        self.batch_size = batch_size
        self.source = str(self.metadata.get("path", "model"))
        self.backend_name: str = getattr(backend, "name", "custom")
        self.precision: str = getattr(backend, "precision", "fp32")
        self.backend_note = self.backend_name  # why this backend ran (set by `load`)

    @classmethod
    def load(
        cls,
        path: str | Path,
        device: str = "cpu",
        precision: str | None = "fp32",
        trust_pickle: bool = False,
        threads: int | None = None,
        imgsz: int | None = None,
        nms: NMSConfig | None = None,
        batch_size: int = 8,
        backend: str = "auto",
    ) -> "Detector":
        """From a yolo3 checkpoint (.safetensors; pickles only with `trust_pickle`), an .onnx,
        or an OpenVINO model (a folder with model.xml, or the .xml).

        Args:
            device: 'cpu', 'cuda', 'cuda:N' or 'N' (see `resolve_device`); only the torch
                backend runs on CUDA.
            precision: 'fp32', 'bf16' or 'int8' (int8: a model quantised by
                `yolo3 export --format openvino --precision int8`); None: an OpenVINO
                export's own precision, else fp32.
            backend: 'auto' (the fastest installed for this file, precision and device;
                see `yolo3.inference.choose`), 'torch', 'onnxruntime' or 'openvino'.
            threads: intra-op threads (default: the usable cores).

        The chosen engine is `detector.backend_name`, the precision it runs at
        `detector.precision`, and the reason for the choice `detector.backend_note`.
        """
        configure_threads(threads)
        opened = open_model(path, backend, precision, device, threads, trust_pickle, imgsz)
        detector = cls(opened.backend, opened.cfg.names, imgsz or opened.cfg.imgsz, opened.metadata, nms, batch_size)
        detector.source = str(path)
        detector.backend_name, detector.precision, detector.backend_note = (
            opened.backend_name, opened.precision, opened.note)
        return detector

    def __call__(
        self,
        images: ImageInput | Sequence[ImageInput],
        classes: Sequence[int | str] | None = None,
        roi: RoiInput | None = None,
        thresholds: Thresholds = None,
        nms: NMSConfig | None = None,
        tta: TTAConfig | bool | None = None,
    ) -> list[Detections]:
        """Detects objects; always returns a list (one `Detections` per input image).

        Args:
            images: one or several paths, RGB uint8 numpy arrays or PIL images.
            classes: class ids or names to consider; the others are never scored, kept
                or allowed to suppress anything in NMS.
            roi: polygons / mask / mask file; detections with centres outside are dropped
                before NMS.
            thresholds: per-class minimum scores — a list of C floats, a {name: score}
                dict (other classes keep the global threshold), or 'auto' for the
                checkpoint's `class_thresholds`.
            nms: overrides the detector's NMSConfig for this call.
            tta: True or a TTAConfig for flip + multi-scale test-time augmentation.
        """
        single = isinstance(images, (str, Path, np.ndarray)) or not isinstance(images, Sequence)
        items = [images] if single else list(images)
        cfg = self.call_config(nms, classes, thresholds)
        region = make_roi(roi) if roi is not None else None
        tta_cfg = TTAConfig() if tta is True else (tta or None)
        results: list[Detections] = []
        for start in range(0, len(items), self.batch_size):
            loaded = [load_input(item, start + i) for i, item in enumerate(items[start : start + self.batch_size])]
            arrays, sources = [a for a, _ in loaded], [s for _, s in loaded]
            results += self.detect_arrays(arrays, sources, cfg, region, tta_cfg)
        return results

    def call_config(self, nms: NMSConfig | None, classes: Sequence[int | str] | None, thresholds: Thresholds) -> NMSConfig:
        """The NMSConfig of one call: base settings plus class subset and thresholds."""
        cfg = dataclasses.replace(nms or self.nms)
        if classes is not None:
            cfg.classes = self.class_ids(classes)
        if thresholds is not None:
            cfg.class_thresholds = self.class_thresholds(thresholds, cfg.conf_threshold)
        return cfg

    def class_ids(self, classes: Sequence[int | str]) -> list[int]:
        """Names or ids → ids, checked against the model's classes."""
        ids = []
        for c in classes:
            if isinstance(c, str) and not c.isdigit():
                if c not in self.class_names:
                    raise ValueError(f"unknown class {c!r}; {self.source} has classes {self.class_names}")
                ids.append(self.class_names.index(c))
            else:
                i = int(c)
                if not 0 <= i < len(self.class_names):
                    raise ValueError(f"class id {i} out of range; {self.source} has {len(self.class_names)} classes")
                ids.append(i)
        return ids

    def class_thresholds(self, thresholds: Thresholds, default: float) -> list[float]:
        """'auto' (checkpoint metadata), a list of C floats, or {name: score} → list of C floats."""
        n = len(self.class_names)
        if isinstance(thresholds, str):
            if thresholds != "auto":
                raise ValueError(f"thresholds={thresholds!r}; use 'auto', a list of {n} floats or {{name: score}}")
            values = self.metadata.get("class_thresholds")
            if values is None:
                raise ValueError(
                    f"{self.source} stores no per-class thresholds (metadata key 'class_thresholds'); "
                    "run `yolo3 val --save-thresholds` on validation data to add them, or give them explicitly"
                )
        elif isinstance(thresholds, dict):
            values = [default] * n
            for name, value in thresholds.items():
                values[self.class_ids([name])[0]] = value
        else:
            values = list(thresholds)
        if len(values) != n or not all(isinstance(v, (int, float)) and 0 <= v <= 1 for v in values):
            raise ValueError(f"per-class thresholds must be {n} numbers in [0, 1] (one per class), got {values!r}")
        return [float(v) for v in values]

    def detect_arrays(
        self, arrays: list[np.ndarray], sources: list[str], cfg: NMSConfig, roi: Any = None, tta: TTAConfig | None = None
    ) -> list[Detections]:
        """One batch of RGB uint8 arrays through the pipeline (see module docstring)."""
        if not arrays:
            return []
        preds, infos = self.forward(arrays, tta)
        return [self.finish(pred, info, source, cfg, roi, tta) for pred, info, source in zip(preds, infos, sources)]

    def forward(
        self, arrays: list[np.ndarray], tta: TTAConfig | None = None
    ) -> tuple[torch.Tensor, list[LetterboxInfo]]:
        """Letterbox + backend for one batch → (decoded predictions (B, N, 5+C), letterbox infos).

        The per-image controls (thresholds, classes, ROI, NMS) come after, in `finish`, so
        a server can batch requests with different controls into one forward pass.
        """
        if tta is not None:
            return tta_predict(self.backend, arrays, self.imgsz, tta)
        batch, infos = letterbox_batch(arrays, self.imgsz)
        return self.backend(batch), infos

    def finish(
        self, pred: torch.Tensor, info: LetterboxInfo, source: str, cfg: NMSConfig, roi: Any = None,
        tta: TTAConfig | None = None,
    ) -> Detections:
        """One image's decoded predictions (N, 5+C) → its Detections in original pixels:
        candidates → ROI on their centres → NMS → optional TTA box merge → map back."""
        boxes, scores, labels = candidates(pred.float(), cfg)
        if roi is not None and len(scores):
            original = boxes_from_letterbox(boxes, info, clip=False)
            centres = ((original[:, :2] + original[:, 2:]) / 2).numpy()
            inside = torch.from_numpy(roi.contains(centres, info.original))
            boxes, scores, labels = boxes[inside], scores[inside], labels[inside]
        keep, kept_scores = select(boxes, scores, labels, cfg)
        kept_boxes = boxes[keep]
        if tta is not None and tta.merge:
            kept_boxes = merge_boxes(boxes, scores, labels, keep, tta.merge_iou)
        return detections_from_network(kept_boxes, kept_scores, labels[keep], info, self.class_names, source)
