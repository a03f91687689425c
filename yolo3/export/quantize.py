"""int8 post-training quantisation with NNCF, calibrated on the user's images (SPEC §8.8).

`quantize_openvino` takes the fp32 OpenVINO graph (model + decode), runs a few hundred
of the user's training images through it to set the int8 ranges of the convolutions
(NNCF's MinMax + fast bias correction, the `mixed` preset: symmetric weights,
asymmetric activations), and then measures fp32 and int8 on the validation split with
the same `Detector` pipeline, so the two mAPs can be printed side by side and a drop
over `max_drop` points is flagged. `accuracy_aware=True` uses
`nncf.quantize_with_accuracy_control`, which reverts the most sensitive layers to
floating point until the mAP@0.5:0.95 drop is within `max_drop`.

The decode ops (sigmoid, exp, grid offsets, anchor scaling) are never quantised: their
outputs are pixel coordinates and probabilities, where int8 steps would show directly.
"""

from __future__ import annotations

import dataclasses
import random
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable

import numpy as np

from yolo3.data.image_io import read_image
from yolo3.data.sample import Sample
from yolo3.inference.preprocess import letterbox_batch
from yolo3.inference.signal_stack import pinned_signal_stack

if TYPE_CHECKING:
    import torch

DECODE_TYPES = ["Sigmoid", "Exp", "Multiply", "Subtract"]
"""Op types NNCF must leave in float: the decode after the heads."""


@dataclasses.dataclass
class QuantizeConfig:
    """int8 settings.

    data: dataset (YOLO data.yaml, COCO .json or VOC root) whose images calibrate.
    calibration_images: images used for the int8 ranges (from the train split, or val
        when there is no train split), drawn with `seed`.
    val_split: split on which fp32 and int8 mAP are compared (None: skip the comparison).
    max_drop: allowed loss in mAP@0.5:0.95, in points (0–100 scale).
    accuracy_aware: keep sensitive layers in float until the drop is ≤ max_drop.
    """

    data: str | Path
    calibration_images: int = 300
    val_split: str | None = "val"
    max_drop: float = 1.0
    accuracy_aware: bool = False
    seed: int = 0


@dataclasses.dataclass
class QuantizeReport:
    """fp32 vs int8 on the val split (mAP in points, 0–100; None when not measured, or
    undefined: no_ground_truth, a val split without a box)."""

    calibration_images: int
    val_images: int
    fp32_map: float | None = None
    int8_map: float | None = None
    fp32_map50: float | None = None
    int8_map50: float | None = None
    max_drop: float = 1.0
    accuracy_aware: bool = False
    no_ground_truth: bool = False

    @property
    def drop(self) -> float | None:
        """fp32 − int8 mAP@0.5:0.95 in points."""
        return None if self.fp32_map is None or self.int8_map is None else self.fp32_map - self.int8_map

    @property
    def over_limit(self) -> bool:
        return self.drop is not None and self.drop > self.max_drop

    def table(self) -> str:
        """The side-by-side comparison, plus a loud line when the drop is over the limit."""
        if self.fp32_map is None:
            why = (f"its {self.val_images} val images hold no ground truth box" if self.no_ground_truth
                   else "no val split")
            return f"int8: calibrated on {self.calibration_images} images; mAP not compared ({why})"
        lines = [f"{'':6} {'mAP@0.5':>8} {'mAP@0.5:0.95':>13}   (val split, {self.val_images} images; "
                 f"calibration: {self.calibration_images} images)",
                 f"{'fp32':6} {self.fp32_map50:8.2f} {self.fp32_map:13.2f}",
                 f"{'int8':6} {self.int8_map50:8.2f} {self.int8_map:13.2f}"]
        if self.over_limit:
            hint = "" if self.accuracy_aware else " — try --accuracy-aware (keeps sensitive layers in fp32)"
            lines.append(f"WARNING: int8 loses {self.drop:.2f} points mAP@0.5:0.95, over the limit of "
                         f"{self.max_drop:.2f}{hint}")
        else:
            lines.append(f"int8 drop {self.drop:.2f} points mAP@0.5:0.95 (limit {self.max_drop:.2f}): ok")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "drop": self.drop}


def calibration_samples(cfg: QuantizeConfig, class_names: list[str]) -> tuple[list[Sample], list[Sample], Any]:
    """(calibration samples, val samples, dataset index) of `cfg.data`."""
    from yolo3.data.formats import load_dataset

    index = load_dataset(cfg.data, class_names)
    if list(index.class_names) != list(class_names):
        raise ValueError(f"{cfg.data}: its classes {index.class_names} differ from the model's {class_names}; "
                         "calibrate on the dataset the model was trained for")
    pool = list(index.splits.get("train") or index.splits.get("val") or [])
    if not pool:
        raise ValueError(f"{cfg.data}: no train or val images to calibrate int8 on")
    if cfg.calibration_images < 1:
        raise ValueError(f"calibration images: {cfg.calibration_images}; use at least 1 (default 300)")
    random.Random(cfg.seed).shuffle(pool)
    val = list(index.splits.get(cfg.val_split) or []) if cfg.val_split else []
    return pool[: cfg.calibration_images], val, index


def _images(samples: Iterable[Sample], imgsz: int) -> Iterable[np.ndarray]:
    """Samples → (1, 3, imgsz, imgsz) float32 NCHW arrays, letterboxed like inference."""
    for s in samples:
        batch, _ = letterbox_batch([read_image(s.image_path)], imgsz)
        yield np.ascontiguousarray(batch.numpy())


def quantize_openvino(
    ov_model: Any, metadata: dict[str, Any], cfg: QuantizeConfig, imgsz: int, threads: int | None = None,
    log: Callable[[str], None] = lambda _: None,
) -> tuple[Any, QuantizeReport]:
    """fp32 OpenVINO model → (int8 OpenVINO model, fp32-vs-int8 report)."""
    from yolo3.inference.openvino_backend import INSTALL_HINT, OpenVINOUnavailable

    try:
        import nncf
    except ImportError:
        raise OpenVINOUnavailable(f"int8 quantisation needs NNCF, which is not installed; {INSTALL_HINT}") from None

    from yolo3.eval.detector_eval import evaluate_detector
    from yolo3.inference.detector import Detector
    from yolo3.inference.openvino_backend import OpenVINOBackend
    from yolo3.io.checkpoint import model_config_from_metadata

    names = model_config_from_metadata(metadata).names
    calib, val, index = calibration_samples(cfg, names)
    calib_arrays = list(_images(calib, imgsz))
    calibration = nncf.Dataset(calib_arrays)
    scope = nncf.IgnoredScope(types=DECODE_TYPES, validate=False)
    report = QuantizeReport(len(calib), len(val), max_drop=cfg.max_drop, accuracy_aware=cfg.accuracy_aware)

    def detector(model: Any) -> Detector:
        return Detector(OpenVINOBackend(model, "fp32", threads), names, imgsz, metadata)

    log(f"int8: calibrating on {len(calib)} images of {cfg.data}")
    if cfg.accuracy_aware:
        if not val:
            raise ValueError(f"--accuracy-aware needs a '{cfg.val_split}' split in {cfg.data} to measure mAP on")

        def validate(compiled: Any, _: Iterable[Any]) -> float:
            return max(evaluate_detector(Detector(CompiledBackend(compiled), names, imgsz, metadata), val, names)
                       .metrics["mAP@0.5:0.95"], 0.0)

        _quiet_nncf()
        with pinned_signal_stack():  # NNCF compiles models internally (signal_stack.py)
            quantized = nncf.quantize_with_accuracy_control(
                ov_model, calibration, nncf.Dataset([0]), validate, max_drop=cfg.max_drop / 100,
                drop_type=nncf.DropType.ABSOLUTE, preset=nncf.QuantizationPreset.MIXED,
                subset_size=len(calib_arrays), ignored_scope=scope)
    else:
        quantized = quantize_arrays(ov_model, calib_arrays)
    if val:
        log(f"int8: measuring fp32 and int8 on {len(val)} '{cfg.val_split}' images")
        measured = {label: evaluate_detector(detector(model), val, names).metrics
                    for label, model in (("fp32", ov_model), ("int8", quantized))}
        if measured["fp32"]["mAP@0.5:0.95"] < 0:  # -1: no ground truth to score against
            report.no_ground_truth = True
        else:
            for label, metrics in measured.items():
                setattr(report, f"{label}_map", 100 * metrics["mAP@0.5:0.95"])
                setattr(report, f"{label}_map50", 100 * metrics["mAP@0.5"])
    return quantized, report


def _quiet_nncf() -> None:
    """NNCF's per-layer INFO lines would drown the fp32-vs-int8 report."""
    import logging

    logging.getLogger("nncf").setLevel(logging.WARNING)


def quantize_arrays(ov_model: Any, arrays: list[np.ndarray]) -> Any:
    """Plain NNCF post-training quantisation of `ov_model` on (1, 3, H, W) float32 arrays."""
    import nncf

    _quiet_nncf()
    with pinned_signal_stack():  # NNCF compiles models internally (signal_stack.py)
        return nncf.quantize(ov_model, nncf.Dataset(arrays), preset=nncf.QuantizationPreset.MIXED, subset_size=len(arrays),
                             ignored_scope=nncf.IgnoredScope(types=DECODE_TYPES, validate=False))


class CompiledBackend:
    """An already compiled OpenVINO model as a backend (what NNCF's validation hands over)."""

    name, precision = "openvino", "int8"

    def __init__(self, compiled: Any) -> None:
        self.compiled = compiled

    def __call__(self, images: "torch.Tensor") -> "torch.Tensor":
        import torch

        return torch.from_numpy(np.array(self.compiled(np.ascontiguousarray(images.float().numpy()))[0]))
