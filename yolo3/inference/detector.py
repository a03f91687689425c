"""`Detector`: the Python API of detection (SPEC §8).

    detector = Detector.load("best.safetensors")   # or an exported .onnx / OpenVINO folder
    dets = detector(["a.jpg", rgb_array, pil_image], classes=["cat"], roi=[[(0, 0), ...]])

Pipeline per batch: letterbox → backend (model + decode) → candidates (score =
obj × cls, per-class thresholds, class subset) → ROI on the candidates' centres → NMS
→ optional TTA box merge → boxes in original pixels (`Detections`). With a crop classifier
(detect, then classify) the detector is class-agnostic — objectness alone is thresholded and
suppressed — and each kept box is re-labelled from its crop (`yolo3.inference.classify`).
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
from yolo3.inference.classify import CropRelabeler
from yolo3.inference.fast import configure_threads
from yolo3.inference.postprocess import NMSConfig, candidates, select
from yolo3.inference.predict import detections_from_network
from yolo3.inference.preprocess import PREPROCESS_MODES, ImageInput, load_input, preprocess_batch
from yolo3.inference.results import Detections
from yolo3.inference.roi import RoiInput, make_roi
from yolo3.inference.tta import TTAConfig, merge_boxes, tta_predict
from yolo3.ops.allocator import keep_freed_memory

Thresholds = None | str | Sequence[float] | dict[str, float]



def recorded_category_ids(metadata: dict[str, Any], class_names: list[str]) -> list[int] | None:
    """The COCO category id of each class that training recorded (a COCO dataset whose
    ids are not 1..C, e.g. COCO's 1..90), else None (index + 1 is used)."""
    recorded = metadata.get("category_ids")
    if not isinstance(recorded, list) or len(recorded) != len(class_names):
        return None
    if not all(isinstance(c, int) and not isinstance(c, bool) for c in recorded):
        return None
    return list(recorded)

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
        preprocess: str = "yolo3",
        classifier: CropRelabeler | str | Path | None = None,
    ) -> None:
        if imgsz_problem(imgsz):
            raise ValueError(f"imgsz: {imgsz_problem(imgsz)}")
        if batch_size < 1:
            raise ValueError(f"batch_size {batch_size}: must be at least 1")
        if preprocess not in PREPROCESS_MODES:
            raise ValueError(f"preprocess={preprocess!r}; choose one of {', '.join(PREPROCESS_MODES)}")
        self.backend = backend
        self.preprocess = preprocess
        if isinstance(classifier, (str, Path)):
            classifier = CropRelabeler.load(classifier)
        self.classifier = classifier
        self.detector_names = list(class_names)
        # with a crop classifier, class ids, names, subsets and thresholds are the classifier's
        self.class_names = list(classifier.class_names if classifier is not None else class_names)
        self.imgsz = imgsz
        self.metadata = metadata or {}
        self.category_ids = None if classifier is not None else recorded_category_ids(self.metadata, self.class_names)
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
        precision: str | None = None,
        trust_pickle: bool = False,
        threads: int | None = None,
        imgsz: int | None = None,
        nms: NMSConfig | None = None,
        batch_size: int = 8,
        backend: str = "auto",
        preprocess: str = "yolo3",
        classifier: str | Path | None = None,
    ) -> "Detector":
        """From a yolo3 checkpoint (.safetensors; pickles only with `trust_pickle`), an .onnx,
        or an OpenVINO model (a folder with model.xml, or the .xml).

        Args:
            device: 'cpu', 'cuda', 'cuda:N' or 'N' (see `resolve_device`); only the torch
                backend runs on CUDA.
            precision: 'fp32', 'bf16', 'fp16' (CUDA only) or 'int8' (int8: a model quantised by
                `yolo3 export --format openvino --precision int8`); None: an OpenVINO
                export's own precision, else fp32.
            backend: 'auto' (the fastest installed for this file, precision and device;
                see `yolo3.inference.choose`), 'torch', 'onnxruntime' or 'openvino'.
            threads: intra-op threads (default: the usable cores).
            preprocess: 'yolo3' (default letterbox) or 'darknet' (darknet's resize and 0.5
                padding, to reproduce darknet's numbers with converted official weights).
            classifier: a `yolo3 train-classifier` file: detect, then re-label each box by
                its crop (score = objectness × classifier probability; see
                `yolo3.inference.classify`).

        The chosen engine is `detector.backend_name`, the precision it runs at
        `detector.precision`, and the reason for the choice `detector.backend_note`.
        """
        configure_threads(threads)
        keep_freed_memory()  # freed tensors stay for the next call, no page faults: ops/allocator.py
        opened = open_model(path, backend, precision, device, threads, trust_pickle, imgsz)
        detector = cls(opened.backend, opened.cfg.names, imgsz or opened.cfg.imgsz, opened.metadata, nms, batch_size,
                       preprocess, classifier)
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
            found = self.detect_arrays(arrays, sources, cfg, region, tta_cfg)
            for item, array, dets in zip(items[start : start + self.batch_size], arrays, found):
                if not isinstance(item, (str, Path)):  # arrays / PIL images: kept, so dets.plot() needs no argument
                    dets.image = array
            results += found
        return results

    def call_config(self, nms: NMSConfig | None, classes: Sequence[int | str] | None, thresholds: Thresholds) -> NMSConfig:
        """The NMSConfig of one call: base settings plus class subset and thresholds."""
        cfg = dataclasses.replace(nms or self.nms)
        if classes is not None:
            cfg.classes = self.class_ids(classes)
        if thresholds is not None:
            cfg.class_thresholds = self.class_thresholds(thresholds, cfg.conf_threshold)
        return cfg

    @property
    def names_source(self) -> str:
        """Where the class names come from, for messages: the classifier's file, else the model."""
        return f"classifier {self.classifier.source}" if self.classifier is not None else self.source

    def class_ids(self, classes: Sequence[int | str]) -> list[int]:
        """Names or ids → ids, checked against the model's (or the classifier's) classes."""
        ids = []
        for c in classes:
            if isinstance(c, str) and not c.isdigit():
                if c not in self.class_names:
                    raise ValueError(f"unknown class {c!r}; {self.names_source} has classes {self.class_names}")
                ids.append(self.class_names.index(c))
            else:
                if isinstance(c, bool) or (isinstance(c, float) and not c.is_integer()):
                    raise ValueError(f"class id {c!r}: class ids are whole numbers 0 to {len(self.class_names) - 1}, "
                                     f"or names ({', '.join(self.class_names)})")
                i = int(c)
                if not 0 <= i < len(self.class_names):
                    raise ValueError(f"class id {i} out of range; {self.names_source} has {len(self.class_names)} classes")
                ids.append(i)
        return ids

    def class_thresholds(self, thresholds: Thresholds, default: float) -> list[float]:
        """'auto' (checkpoint metadata), a list of C floats, or {name: score} → list of C floats."""
        n = len(self.class_names)
        if isinstance(thresholds, str):
            if thresholds == "auto" and self.classifier is not None:
                raise ValueError("thresholds='auto' are the detector's per-class thresholds; with a classifier give "
                                 f"{n} numbers (one per classifier class) or {{name: score}}")
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
        return [self.finish(pred, info, source, cfg, roi, tta, array)
                for pred, info, source, array in zip(preds, infos, sources, arrays)]

    def forward(
        self, arrays: list[np.ndarray], tta: TTAConfig | None = None
    ) -> tuple[torch.Tensor, list[LetterboxInfo]]:
        """Letterbox + backend for one batch → (decoded predictions (B, N, 5+C), letterbox infos).

        The per-image controls (thresholds, classes, ROI, NMS) come after, in `finish`, so
        a server can batch requests with different controls into one forward pass.
        """
        if tta is not None and self.preprocess != "yolo3":
            raise ValueError(f"test-time augmentation uses yolo3's letterbox; "
                             f"it cannot run with preprocess={self.preprocess!r}")
        if tta is not None:
            return tta_predict(self.backend, arrays, self.imgsz, tta)
        batch, infos = preprocess_batch(arrays, self.imgsz, self.preprocess)
        return self.backend(batch), infos

    def finish(
        self, pred: torch.Tensor, info: LetterboxInfo, source: str, cfg: NMSConfig, roi: Any = None,
        tta: TTAConfig | None = None, image: np.ndarray | None = None,
    ) -> Detections:
        """One image's decoded predictions (N, 5+C) → its Detections in original pixels:
        candidates → ROI on their centres → NMS → optional TTA box merge → map back; with a
        crop classifier, objectness alone ranks and suppresses, then each box of `image`
        (the RGB array, needed only then) is re-labelled by its crop."""
        step = cfg if self.classifier is None else self._objectness_config(cfg)
        if self.classifier is not None:  # class-agnostic: objectness alone ranks and suppresses
            if image is None:
                raise ValueError("a Detector with a crop classifier needs the image in finish(image=...)")
            pred = torch.cat([pred[:, :5], torch.ones_like(pred[:, :1])], 1)
        # thresholds on the backend's device (a GPU backend's (N, 5+C) stays there), the few
        # surviving candidates to the CPU: ROI, NMS and mapping back run there for every backend
        boxes, scores, labels = (t.cpu() for t in candidates(pred.float(), step))
        if roi is not None and len(scores):
            original = boxes_from_letterbox(boxes, info, clip=False)
            centres = ((original[:, :2] + original[:, 2:]) / 2).numpy()
            inside = torch.from_numpy(roi.contains(centres, info.original))
            boxes, scores, labels = boxes[inside], scores[inside], labels[inside]
        keep, kept_scores = select(boxes, scores, labels, step)
        kept_boxes = boxes[keep]
        if tta is not None and tta.merge:
            kept_boxes = merge_boxes(boxes, scores, labels, keep, tta.merge_iou)
        dets = detections_from_network(kept_boxes, kept_scores, labels[keep], info, self.class_names, source)
        dets.category_ids = self.category_ids
        return dets if self.classifier is None else self._relabel(image, dets, cfg)

    def _objectness_config(self, cfg: NMSConfig) -> NMSConfig:
        """The detector step before re-labelling: one class, threshold the lowest class threshold,
        every NMS survivor kept (max_det counts the re-labelled boxes: `_relabel`)."""
        lowest = min(cfg.class_thresholds) if cfg.class_thresholds is not None else cfg.conf_threshold
        return dataclasses.replace(cfg, classes=None, class_thresholds=None, conf_threshold=lowest,
                                   max_det=cfg.max_candidates)

    def _relabel(self, image: np.ndarray, dets: Detections, cfg: NMSConfig) -> Detections:
        """Objectness-scored boxes → classifier classes, score objectness × probability."""
        assert self.classifier is not None
        n = len(self.class_names)
        given = cfg.class_thresholds
        thresholds = np.asarray(given if given is not None else [cfg.conf_threshold] * n)
        keep, scores, labels = self.classifier.relabel(image, dets.boxes, dets.scores, cfg.classes, thresholds)
        order = np.argsort(-scores, kind="stable")[: cfg.max_det]
        return dataclasses.replace(dets, boxes=dets.boxes[keep][order], scores=scores[order], class_ids=labels[order])
