"""What a run needs before its first step: folder, data (checked), model, precision."""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import random
from pathlib import Path

import numpy as np
import torch

from yolo3.config import ConfigError, ModelConfig
from yolo3.data.sample import Sample
from yolo3.io.checkpoint import load_checkpoint
from yolo3.models import YOLOv3Base, build_model
from yolo3.train.config import TrainConfig

log = logging.getLogger("yolo3.train")


@dataclasses.dataclass
class TrainData:
    """The checked splits of a dataset and what the check found.

    train, val: samples (val may be empty: then no validation, best = lowest loss).
    class_names: the dataset's classes. check_summary: lines for the training log.
    split: the record of a held-back val split drawn from train (cfg.split_ratio), to be
        written to the run folder as split.json; None when the dataset has its own.
    """

    train: list[Sample]
    val: list[Sample]
    class_names: list[str]
    check_summary: list[str]
    split: dict | None = None


def new_run_dir(project: str | Path, name: str, exist_ok: bool) -> Path:
    """`project/name`, or `name2`, `name3`, … when it exists and exist_ok is False."""
    base = Path(project)
    path = base / name
    n = 2
    while path.exists() and not exist_ok:
        path = base / f"{name}{n}"
        n += 1
    (path / "weights").mkdir(parents=True, exist_ok=True)
    return path


def seed_everything(seed: int, deterministic: bool) -> None:
    """Seeds python, numpy and torch; `deterministic` also asks torch for
    deterministic kernels (warn-only where none exists)."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    if deterministic:
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.backends.cudnn.benchmark = False
        torch.backends.cudnn.deterministic = True


def prepare_data(cfg: TrainConfig, split_file: Path | None = None) -> TrainData:
    """Loads `cfg.data` (contract 1), runs the data checks with `cfg.data_check` and
    returns the cleaned train/val splits and the counts of what was found.

    Without a 'val' split and with cfg.split_ratio > 0, a stratified share of train is
    held back as val (yolo3.data.split); `split_file` (a resumed run's split.json) is
    reused when it exists."""
    from yolo3.data.formats import load_dataset
    from yolo3.data.validate import check_dataset

    if not cfg.data:
        raise ConfigError("no dataset: set `data` (a data.yaml, COCO JSON or Pascal VOC root)")
    index = load_dataset(cfg.data)
    report = check_dataset(index, cfg.data_check)
    splits = report.splits
    train = list(splits.get("train", []))
    if not train:
        raise ConfigError(f"{cfg.data}: the dataset has no usable 'train' images after the data check")
    val = list(splits.get("val", []))
    split = None
    if not val and cfg.split_ratio > 0:
        from yolo3.data.split import hold_back

        train, val, split = hold_back(train, cfg.split_ratio, cfg.seed, "val", split_file)
    lines = [f"data: {index.format} {index.root}: train {len(train)} images, val {len(val)} images"]
    if split is not None:
        lines.append(f"split: the dataset has no 'val' split; {len(val)} training images held back for validation "
                     f"(ratio {split['ratio']:g}, seed {split['seed']}, stratified by class; the list is split.json "
                     "in the run folder)")
    lines += [f"data check: {kind}: {n}" for kind, n in report.summary().items()]
    return TrainData(train, val, list(index.class_names), lines, split)


def model_config_for(cfg: TrainConfig, class_names: list[str]) -> ModelConfig:
    """The run's ModelConfig with the dataset's classes and the training input size filled in
    (the checkpoint's `imgsz` is what detect and val use by default)."""
    return dataclasses.replace(cfg.model, num_classes=len(class_names), class_names=list(class_names), imgsz=cfg.imgsz)


def auto_anchors(cfg: TrainConfig, model_cfg: ModelConfig, train: list[Sample]) -> tuple[ModelConfig, str]:
    """Checks the configured anchors against the training boxes (letterboxed to imgsz);
    refits them by k-means + genetic refinement when their best-possible recall is below
    0.98. Returns the config to train with and a before/after line for the log."""
    from yolo3.assign.anchors import check_anchors, letterboxed_wh
    from yolo3.models.registry import model_spec

    if not cfg.auto_anchor:
        return model_cfg, "auto-anchor: off"
    if cfg.weights:
        return model_cfg, "auto-anchor: skipped (initialised from weights whose heads fit their anchors)"
    if model_cfg.xy_mode == "ltrb":
        return model_cfg, "auto-anchor: skipped (anchor-free head, xy_mode 'ltrb')"
    anchors = model_cfg.anchors if model_cfg.anchors is not None else model_spec(model_cfg.arch).default_anchors
    check = check_anchors(anchors, letterboxed_wh(train, cfg.imgsz), cfg.imgsz, seed=cfg.seed)
    return dataclasses.replace(model_cfg, anchors=check.anchors), f"auto-anchor: {check.report()}"


def build_train_model(cfg: ModelConfig, weights: str | None) -> tuple[YOLOv3Base, str]:
    """Builds the model; with `weights`, copies every tensor whose name and shape match
    (a model trained on other classes transfers all but the heads). Returns (model, note)."""
    model = build_model(cfg)
    if not weights:
        return model, "weights: random init (Kaiming convs, prior head biases)"
    tensors, _ = load_checkpoint(weights)
    if any(k.startswith("model.") for k in tensors):
        tensors = {k[6:]: v for k, v in tensors.items() if k.startswith("model.")}
    own = model.state_dict()
    matched = {k: v for k, v in tensors.items() if k in own and own[k].shape == v.shape}
    if not matched:
        raise ConfigError(f"{weights}: no tensor matches the {cfg.arch} model by name and shape; wrong file?")
    model.load_state_dict(matched, strict=False)
    return model, f"weights: {len(matched)}/{len(own)} tensors from {weights}"


def resolve_amp(amp: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype: auto → bf16 on CPU, fp16 on CUDA; off → None."""
    if amp == "off":
        return None
    if amp == "auto":
        return torch.float16 if device.type == "cuda" else torch.bfloat16
    if amp == "fp16" and device.type != "cuda":
        raise ConfigError("amp: fp16 autocast is for CUDA; on CPU use amp: bf16 (or off)")
    return torch.float16 if amp == "fp16" else torch.bfloat16


def autocast(device: torch.device, dtype: torch.dtype | None) -> contextlib.AbstractContextManager:
    """Mixed-precision context for the forward pass (a no-op when dtype is None)."""
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)


def multiscale_size(imgsz: int, fraction: float, seed: int, it: int) -> int:
    """A random multiple of 32 in imgsz·[1 − f, 1 + f], a pure function of (seed, it)."""
    lo = max(32, int(imgsz * (1 - fraction)) // 32 * 32)
    hi = max(lo, int(imgsz * (1 + fraction)) // 32 * 32)
    return int(np.random.default_rng([seed, 7919, it]).integers(lo // 32, hi // 32 + 1)) * 32


def resize_batch(images: torch.Tensor, targets: torch.Tensor, size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Bilinear resize of (B, 3, H, W) images to size×size; target boxes (columns 2:6,
    pixels) scaled alike."""
    h, w = images.shape[-2:]
    if (h, w) == (size, size):
        return images, targets
    images = torch.nn.functional.interpolate(images, size=(size, size), mode="bilinear", align_corners=False)
    targets = targets.clone()
    targets[:, [2, 4]] *= size / w
    targets[:, [3, 5]] *= size / h
    return images, targets
