"""What a run needs before its first step: folder, data (checked), model, precision."""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import logging
import os
import random
from pathlib import Path

import numpy as np
import torch

from yolo3.config import ConfigError, ModelConfig
from yolo3.data.formats import DatasetIndex
from yolo3.data.sample import Sample
from yolo3.io.checkpoint import remove_stale_temps
from yolo3.io.runs import next_run_dir
from yolo3.models import YOLOv3Base, build_model
from yolo3.train.config import TrainConfig
from yolo3.train.state import repair_best
from yolo3.train.transfer import InitWeights, read_init_weights

log = logging.getLogger("yolo3.train")


@dataclasses.dataclass
class TrainData:
    """The checked splits of a dataset and what the check found.

    train, val: samples (val may be empty: then no validation, best = lowest loss).
    class_names: the dataset's classes. check_summary: lines for the training log.
    split: the record of a held-back val split drawn from train (cfg.split_ratio), to be
        written to the run folder as split.json; None when the dataset has its own.
    category_ids: a COCO dataset's category id per class when they are not 1..C (COCO's
        own 1..90): recorded in the checkpoints, so `detect` writes predictions.json with
        the ids of the user's annotation files. None otherwise.
    no_val_reason: why `val` is empty although the dataset has a val split (the demo holds
        it back for its final evaluation), for the warning about how best is chosen.
    """

    train: list[Sample]
    val: list[Sample]
    class_names: list[str]
    check_summary: list[str]
    split: dict | None = None
    category_ids: list[int] | None = None
    no_val_reason: str | None = None


def new_run_dir(project: str | Path, name: str, exist_ok: bool) -> Path:
    """`project/name`, or `name2`, `name3`, … when it exists and exist_ok is False
    (`yolo3.io.runs.next_run_dir`, the rule val and detect use too), with `weights/`."""
    path = next_run_dir(project, name, exist_ok)
    (path / "weights").mkdir(parents=True, exist_ok=True)
    return path


def discard_new_run_dir(path: Path) -> None:
    """Removes a run folder whose run failed before its first checkpoint: the lock file,
    split.json and the empty weights/ that setup wrote, then the folder if nothing else
    is in it (anything else stays)."""
    for name in (RunLock.NAME, "split.json"):
        (path / name).unlink(missing_ok=True)
    for folder in (path / "weights", path):
        with contextlib.suppress(OSError):  # not empty (or gone): leave it
            folder.rmdir()


class RunLockedError(OSError):
    """Another process is writing the run folder (it holds the folder's lock)."""


class RunLock:
    """An advisory lock on a run folder (`fcntl.flock` on `RUN/.lock`), held while a run
    writes there, so two runs (`--exist-ok` twice, two `--resume`) cannot interleave
    metrics.csv or overwrite each other's checkpoints. The kernel drops the lock when
    its process ends, however it ends, so a crashed run never leaves a stale lock. The
    file holds the owner's pid, for the message the second writer gets."""

    NAME = ".lock"

    def __init__(self, run_dir: str | Path) -> None:
        self.run_dir = Path(run_dir)
        self.path = self.run_dir / self.NAME
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            owner = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "unknown"
            os.close(fd)
            raise RunLockedError(f"{self.run_dir}: another yolo3 process (pid {owner}) is writing this run folder; "
                                 "wait until it ends, or train into another folder (--name)") from None
        except BaseException:
            os.close(fd)
            raise
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
        self.fd: int | None = fd

    def release(self) -> None:
        """Unlocks (idempotent). The lock file stays: removing it could race a new owner."""
        if self.fd is not None:
            fcntl.flock(self.fd, fcntl.LOCK_UN)
            os.close(self.fd)
            self.fd = None


def claim_run_dir(run_dir: Path, resuming: bool) -> tuple[RunLock, list[str]]:
    """Locks a run folder for this process, then removes the temp files that killed
    writes left there and, when resuming, repairs best.safetensors (`repair_best`).
    Returns the lock (release it when the run ends) and lines for the training log."""
    lock = RunLock(run_dir)
    try:
        notes = [f"removed {p.name}, left by an interrupted write" for folder in (run_dir, run_dir / "weights")
                 if folder.is_dir() for p in remove_stale_temps(folder)]
        repaired = repair_best(run_dir / "weights") if resuming else None
    except BaseException:
        lock.release()
        raise
    return lock, notes + ([repaired] if repaired else [])


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
    if not val and cfg.split_ratio > 0:  # before difficult boxes leave train: held-back val keeps them
        from yolo3.data.split import hold_back

        train, val, split = hold_back(train, cfg.split_ratio, cfg.seed, "val", split_file)
    train, difficult_line = training_targets(train, cfg.train_difficult)
    if not any(len(s.boxes) for s in train):
        raise ConfigError(f"{cfg.data}: none of the {len(train)} training images has a box after the data check, "
                          "so there is nothing to learn; check the labels with `yolo3 check-data DATA` (are the "
                          "label files where the format expects them?)")
    lines = [f"data: {index.format} {index.root}: train {len(train)} images, val {len(val)} images"]
    if difficult_line:
        lines.append(difficult_line)
    if split is not None:
        lines.append(f"split: the dataset has no 'val' split; {len(val)} training images held back for validation "
                     f"(ratio {split['ratio']:g}, seed {split['seed']}, stratified by class; the list is split.json "
                     "in the run folder)")
    lines += [f"data check: {kind}: {n}" for kind, n in report.summary().items()]
    return TrainData(train, val, list(index.class_names), lines, split, category_ids_to_record(index))


def training_targets(train: list[Sample], keep_difficult: bool) -> tuple[list[Sample], str | None]:
    """The training samples without their difficult / crowd boxes unless `keep_difficult`
    (TrainConfig.train_difficult), and the log line saying how many there were (None: none)."""
    difficult = sum(int(s.difficult.sum()) for s in train)
    if not difficult:
        return train, None
    if keep_difficult:
        return train, f"difficult: {difficult} difficult / crowd boxes in the training images are training targets"
    return [s.without_difficult() if s.difficult.any() else s for s in train], (
        f"difficult: {difficult} difficult / crowd boxes in the training images are left out of the training "
        "targets (evaluation ignores them too; `train_difficult: true` in the config keeps them)")


def category_ids_to_record(index: DatasetIndex) -> list[int] | None:
    """A COCO dataset's category ids when they are not 1..C (TrainData.category_ids)."""
    ids = [int(c) for c in index.category_ids]
    return ids if ids != list(range(1, len(ids) + 1)) else None


def model_config_for(cfg: TrainConfig, class_names: list[str]) -> ModelConfig:
    """The run's ModelConfig with the dataset's classes and the training input size filled in
    (the checkpoint's `imgsz` is what detect and val use by default)."""
    return dataclasses.replace(cfg.model, num_classes=len(class_names), class_names=list(class_names), imgsz=cfg.imgsz)


DEFAULT_ANCHOR_IMGSZ = 416  # the registered architectures' COCO anchors are darknet's, for 416-px input


def anchors_at(cfg: TrainConfig) -> tuple[list[list[list[float]]], float]:
    """The configured anchors in pixels of the training input size, and the factor applied.

    Configured anchors are for `cfg.model.imgsz`, the architecture's defaults for 416
    px; training at another size scales them by imgsz / that size (a box letterboxed to
    320 px is 320/416 the size it is at 416)."""
    from yolo3.models.registry import model_spec

    given = cfg.model.anchors is not None
    anchors = cfg.model.anchors if given else model_spec(cfg.model.arch).default_anchors
    factor = cfg.imgsz / (cfg.model.imgsz if given else DEFAULT_ANCHOR_IMGSZ)
    return [[[round(w * factor, 2), round(h * factor, 2)] for w, h in scale] for scale in anchors], factor


def auto_anchors(cfg: TrainConfig, model_cfg: ModelConfig, train: list[Sample],
                 heads_loaded: bool | None = None) -> tuple[ModelConfig, str]:
    """Checks the configured anchors, scaled to the training imgsz (`anchors_at`), against
    the training boxes (letterboxed to imgsz); refits them by k-means + genetic refinement
    when their best-possible recall is below 0.98. Skipped when the heads come from a
    weights file (`heads_loaded`; default: any `cfg.weights`): they were trained for their
    anchors. Returns the config to train with and a before/after line for the log."""
    from yolo3.assign.anchors import check_anchors, letterboxed_wh

    if not cfg.auto_anchor:
        return model_cfg, "auto-anchor: off"
    if bool(cfg.weights) if heads_loaded is None else heads_loaded:
        return model_cfg, "auto-anchor: skipped (initialised from weights whose heads fit their anchors)"
    if model_cfg.xy_mode == "ltrb":
        return model_cfg, "auto-anchor: skipped (anchor-free head, xy_mode 'ltrb')"
    anchors, factor = anchors_at(cfg)
    scaled = "" if factor == 1 else f" (anchors scaled ×{factor:.3g} to imgsz {cfg.imgsz})"
    check = check_anchors(anchors, letterboxed_wh(train, cfg.imgsz), cfg.imgsz, seed=cfg.seed)
    return dataclasses.replace(model_cfg, anchors=check.anchors), f"auto-anchor: {check.report()}{scaled}"


def build_train_model(cfg: ModelConfig, weights: str | InitWeights | None) -> tuple[YOLOv3Base, str]:
    """Builds the model (fresh init); with `weights` (a file, or what `read_init_weights`
    read from one) loads every tensor that fits: a yolo3 checkpoint or darknet `.weights`
    of another class count transfers all but the heads, a darknet partial file its first
    N conv layers. Returns (model, note saying what was loaded)."""
    init = read_init_weights(weights, cfg) if isinstance(weights, (str, Path)) else weights
    model = build_model(cfg)
    if init is None:
        return model, "weights: random init (Kaiming convs, prior head biases)"
    model.load_state_dict(init.tensors, strict=False)
    return model, init.note


def resolve_amp(amp: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype: auto → bf16 on CPU, fp16 on CUDA; off → None."""
    if amp == "off":
        return None
    if amp == "auto":
        return torch.float16 if device.type == "cuda" else torch.bfloat16
    if amp == "fp16" and device.type != "cuda":
        raise ConfigError("amp: fp16 autocast is for CUDA; on CPU use amp: bf16 (or off)")
    return torch.float16 if amp == "fp16" else torch.bfloat16


def loss_scaler(device: torch.device, dtype: torch.dtype | None) -> torch.amp.GradScaler | None:
    """fp16 autocast's loss scaler (fp16 gradients underflow without one); None otherwise.

    It multiplies the loss by a scale (2^16 at first), halves the scale and skips the step
    when the scaled gradients overflow, and doubles it after 2000 clean steps."""
    return torch.amp.GradScaler(device.type) if dtype == torch.float16 else None


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
