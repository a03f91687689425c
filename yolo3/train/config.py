"""Training configuration: one typed dataclass (YAML-loadable) for a whole run.

`TrainConfig` nests the model (`ModelConfig`), the loss (`LossConfig`, contract 3), the
augmentation (`AugmentConfig`, contract 2) and the training-only settings below. A run
saves it as `runs/<name>/config.yaml`; `load_yaml(TrainConfig, path)` reads it back.
"""

from __future__ import annotations

import dataclasses
from dataclasses import field

from yolo3.config import ConfigError, ModelConfig, imgsz_problem
from yolo3.data.augment.config import AugmentConfig
from yolo3.data.validate import CheckPolicy
from yolo3.losses.yolo_loss import LossConfig
from yolo3.train.early_stop import EarlyStopConfig

OPTIMIZERS = ("sgd", "adam", "adamw", "rmsprop")
SCHEDULES = ("cosine", "linear", "step", "onecycle", "constant")
AMP_MODES = ("auto", "bf16", "fp16", "off")
FREEZE_MODES = ("none", "backbone")


@dataclasses.dataclass
class OptimConfig:
    """Optimiser and its regularisation.

    Attributes:
        name: sgd | adam | adamw | rmsprop.
        lr0: base learning rate (after warmup, before decay).
        momentum: SGD momentum, Adam beta1, RMSprop momentum.
        nesterov: Nesterov momentum (SGD only).
        beta2: Adam/AdamW second-moment decay.
        weight_decay: L2 / decoupled decay at the nominal batch size; never applied to
            BatchNorm weights or any bias.
        grad_clip: clip the global gradient norm to this value (0 = off).
        backbone_lr_scale: the backbone's LR as a fraction of lr0 (fine-tuning).
        freeze: `backbone` freezes backbone weights (and its BN statistics).
        freeze_epochs: with freeze `backbone`, unfreeze after this many epochs (the
            backbone then trains at backbone_lr_scale × the LR; its parameters are in
            the optimizer from the start); 0 = frozen for the whole run.
    """

    name: str = "sgd"
    lr0: float = 0.01
    momentum: float = 0.937
    nesterov: bool = True
    beta2: float = 0.999
    weight_decay: float = 5e-4
    grad_clip: float = 10.0
    backbone_lr_scale: float = 1.0
    freeze: str = "none"
    freeze_epochs: int = 0

    def __post_init__(self) -> None:
        if self.name not in OPTIMIZERS:
            raise ConfigError(f"optim.name must be one of {OPTIMIZERS}, got {self.name!r}")
        if self.freeze not in FREEZE_MODES:
            raise ConfigError(f"optim.freeze must be one of {FREEZE_MODES}, got {self.freeze!r}")
        if self.freeze_epochs < 0 or (self.freeze_epochs and self.freeze == "none"):
            raise ConfigError(f"optim.freeze_epochs must be >= 0 and needs optim.freeze: backbone, got "
                              f"{self.freeze_epochs} with freeze {self.freeze!r}")
        if self.lr0 <= 0 or self.weight_decay < 0 or self.grad_clip < 0 or self.backbone_lr_scale < 0:
            raise ConfigError("optim: lr0 must be > 0; weight_decay, grad_clip, backbone_lr_scale >= 0")
        if not (0 <= self.momentum < 1 and 0 <= self.beta2 < 1):
            raise ConfigError(f"optim: momentum (Adam's beta1) and beta2 must be in [0, 1), e.g. 0.937 and 0.999; "
                              f"got momentum {self.momentum}, beta2 {self.beta2}")


@dataclasses.dataclass
class ScheduleConfig:
    """LR/momentum schedule: linear warmup, then `kind` over the remaining epochs.

    Attributes:
        kind: cosine | linear | step | onecycle | constant.
        final_lr_ratio: LR at the end as a fraction of lr0 (cosine, linear, onecycle).
        warmup_epochs: warmup length in epochs (fractional allowed).
        warmup_min_iters: at least this many warmup iterations (0 = exactly the epochs).
        warmup_momentum: momentum (beta1) at the start of warmup, ramped to the base one.
        warmup_bias_lr: biases start warmup at this LR and fall to the scheduled one
            (the other parameters start at 0).
        milestones: `step`: fractions of training after which LR is multiplied by gamma.
        gamma: `step`: the multiplier at each milestone.
        onecycle_pct: `onecycle`: share of training spent rising to lr0 (from lr0/25).
    """

    kind: str = "cosine"
    final_lr_ratio: float = 0.01
    warmup_epochs: float = 3.0
    warmup_min_iters: int = 0
    warmup_momentum: float = 0.8
    warmup_bias_lr: float = 0.1
    milestones: list[float] = field(default_factory=lambda: [0.8, 0.9])
    gamma: float = 0.1
    onecycle_pct: float = 0.3

    def __post_init__(self) -> None:
        if self.kind not in SCHEDULES:
            raise ConfigError(f"schedule.kind must be one of {SCHEDULES}, got {self.kind!r}")
        if self.warmup_epochs < 0 or not 0 < self.onecycle_pct < 1:
            raise ConfigError("schedule: warmup_epochs >= 0 and 0 < onecycle_pct < 1")
        if self.warmup_min_iters < 0 or self.final_lr_ratio < 0 or self.gamma <= 0:
            raise ConfigError(f"schedule: warmup_min_iters and final_lr_ratio must be >= 0 and gamma > 0; got "
                              f"warmup_min_iters {self.warmup_min_iters}, final_lr_ratio {self.final_lr_ratio}, "
                              f"gamma {self.gamma}")
        if self.kind == "onecycle" and self.final_lr_ratio >= 1:
            raise ConfigError(f"schedule: onecycle falls from lr0 to final_lr_ratio × lr0, so final_lr_ratio must be "
                              f"< 1 (e.g. 0.01), got {self.final_lr_ratio}")
        if not all(0 <= m <= 1 for m in self.milestones):
            raise ConfigError(f"schedule.milestones are fractions of training in [0, 1] (e.g. [0.8, 0.9]), "
                              f"got {self.milestones}")


@dataclasses.dataclass
class AveragingConfig:
    """Weight averaging used for validation and saving.

    Attributes:
        ema: keep an exponential moving average of the weights.
        ema_decay: final EMA decay; the decay ramps as decay·(1 − exp(−updates/tau)).
        ema_tau: ramp length in optimizer updates.
        ema_share: when > 0, replaces decay and tau: the EMA's half-life is this share
            of the optimizer updates done so far, so it averages the same fraction of a
            run of any length (`yolo3 train --auto` and `yolo3 demo` take 0.12).
        swa: stochastic weight averaging (equal average) over the last epochs.
        swa_epochs: how many final epochs SWA averages (one snapshot per epoch).
    """

    ema: bool = True
    ema_decay: float = 0.9999
    ema_tau: float = 2000.0
    ema_share: float = 0.0
    swa: bool = False
    swa_epochs: int = 5

    def __post_init__(self) -> None:
        if not 0 <= self.ema_share < 1:
            raise ConfigError(f"averaging.ema_share must be in [0, 1) (0 = use ema_decay), got {self.ema_share}")
        if not (0 < self.ema_decay < 1 and self.ema_tau > 0):
            raise ConfigError(f"averaging: ema_decay must be in (0, 1) (e.g. 0.9999) and ema_tau > 0 (e.g. 2000), "
                              f"got ema_decay {self.ema_decay}, ema_tau {self.ema_tau}")
        if self.swa_epochs < 1:
            raise ConfigError(f"averaging.swa_epochs (how many final epochs SWA averages) must be >= 1, "
                              f"got {self.swa_epochs}")


@dataclasses.dataclass
class TrainConfig:
    """Everything one training run needs (saved next to the run as config.yaml).

    Attributes:
        data: a YOLO data.yaml, COCO JSON or Pascal VOC root (contract 1).
        project, name: the run folder is `<project>/<name>`.
        exist_ok: reuse an existing run folder instead of numbering a new one.
        model, loss, augment: nested configs; `augment: null` turns augmentation off.
        epochs: total epochs; batch_size: images per step per process.
        nominal_batch_size: gradients are accumulated to about this many images per
            optimizer update (weight decay scaled to it).
        imgsz: training input size (pixels, multiple of 32).
        multi_scale: per batch resize to a random multiple of 32 in
            imgsz·[1 − multi_scale, 1 + multi_scale] (0 = off).
        workers: data-loader worker processes; cache: keep decoded images in RAM.
        seed, deterministic: reproducibility (deterministic algorithms, seeded RNGs).
        device: `cpu`, `cuda`, `cuda:N`; amp: auto (bf16 on CPU, fp16 on CUDA) | bf16 |
            fp16 | off; channels_last: NHWC memory format.
        threads: torch intra-op threads (0 = leave as is).
        weights: initialise from this file: a yolo3 checkpoint or darknet `.weights`
            (any class count: the heads then start fresh), or a darknet partial file
            such as `darknet53.conv.74` (its first N conv layers); see train/transfer.py.
        resume: continue the run in this folder (or its last.safetensors) exactly.
        patience: early stopping, in validations (0 = never): stop when the fitness
            (val mAP@0.5:0.95, smoothed over `early_stop.smooth` validations) has not
            improved for this many validations, unless it is still trending up or less
            than `early_stop.min_share` of the planned epochs (of the time budget) is done.
            Without validation (no val split, or val_interval 0) every epoch counts, with
            minus the training loss as the fitness.
        early_stop: how `patience` decides (smoothing, trend test, minimum share of the
            run); see yolo3/train/early_stop.py. Old configs without it get the defaults.
        val_interval: validate every N epochs (0 = never; best = lowest training loss).
        val_batch_size: images per validation batch.
        data_check: the data check's policy per kind of problem (fix | skip | warn | stop).
        max_bad_steps: stop after this many consecutive non-finite losses.
        max_steps_per_epoch: cap the steps of an epoch (0 = all; smoke tests, benchmarks).
        auto_anchor: before training, refit the anchors to the training boxes when the
            configured ones reach a best-possible recall under 0.98 (before/after in train.log).
        time_budget_minutes: wall-clock budget of the run (0 = none). After each epoch
            the number of epochs is re-estimated as those that fit in the budget (at
            most `epochs`), so the LR schedule ends when the budget does; training stops
            when no further epoch fits. A re-estimate re-plans only the rest of the
            schedule (its progress never goes back), so the LR does not rise again when
            the speed estimate jumps. Counts this process's time (a resumed run gets
            the budget again, and keeps the plan it had reached).
        tensorboard, plots, progress: logging outputs.
        sync_bn: convert BatchNorm to SyncBatchNorm under DDP.
        split_ratio: when the dataset has no 'val' split, hold back this fraction of the
            training images for validation (seeded by `seed`, stratified by class; written
            to split.json in the run folder and reused on resume). 0 = train without
            validation (best = lowest training loss).
        train_difficult: learn from difficult boxes (VOC `difficult`, COCO `iscrowd`) too.
            Off by default: they are left out of the training targets, as darknet's VOC
            recipe does (a crowd box around many people is not one person), and the count is
            logged; evaluation ignores them either way.
    """

    data: str = ""
    project: str = "runs"
    name: str = "train"
    exist_ok: bool = False
    model: ModelConfig = field(default_factory=lambda: ModelConfig(arch="yolov3-tiny"))
    loss: LossConfig = field(default_factory=LossConfig)
    augment: AugmentConfig | None = field(default_factory=AugmentConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    averaging: AveragingConfig = field(default_factory=AveragingConfig)
    epochs: int = 100
    batch_size: int = 16
    nominal_batch_size: int = 64
    imgsz: int = 416
    multi_scale: float = 0.0
    workers: int = 1
    cache: bool = False
    seed: int = 0
    deterministic: bool = False
    device: str = "cpu"
    amp: str = "auto"
    channels_last: bool = True
    threads: int = 0
    weights: str | None = None
    resume: str | None = None
    patience: int = 0
    early_stop: EarlyStopConfig = field(default_factory=EarlyStopConfig)
    val_interval: int = 1
    val_batch_size: int = 8
    data_check: CheckPolicy = field(default_factory=CheckPolicy)
    max_bad_steps: int = 5
    max_steps_per_epoch: int = 0
    time_budget_minutes: float = 0.0
    auto_anchor: bool = True
    tensorboard: bool = True
    plots: bool = True
    progress: bool = True
    sync_bn: bool = False
    split_ratio: float = 0.0
    train_difficult: bool = False

    def accumulate(self, world_size: int = 1) -> int:
        """Steps whose gradients make one optimizer update: nominal batch ÷ images per
        step over all `world_size` processes, rounded, at least 1."""
        return max(1, round(self.nominal_batch_size / (self.batch_size * world_size)))

    def __post_init__(self) -> None:
        if imgsz_problem(self.imgsz):
            raise ConfigError(f"imgsz: {imgsz_problem(self.imgsz)}")
        if self.epochs < 1 or self.batch_size < 1 or self.nominal_batch_size < 1:
            raise ConfigError("epochs, batch_size and nominal_batch_size must be >= 1")
        if self.amp not in AMP_MODES:
            raise ConfigError(f"amp must be one of {AMP_MODES}, got {self.amp!r}")
        if not 0 <= self.multi_scale < 1:
            raise ConfigError(f"multi_scale must be in [0, 1), got {self.multi_scale}")
        if not 0 <= self.split_ratio < 1:
            raise ConfigError(f"split_ratio must be in [0, 1) (e.g. 0.2), got {self.split_ratio}")
        if self.time_budget_minutes < 0:
            raise ConfigError(f"time_budget_minutes must be >= 0, got {self.time_budget_minutes}")
        if self.workers < 0 or self.patience < 0 or self.val_interval < 0 or self.max_bad_steps < 1:
            raise ConfigError("workers, patience, val_interval must be >= 0 and max_bad_steps >= 1")
        if self.val_batch_size < 1 or self.max_steps_per_epoch < 0 or self.threads < 0:
            raise ConfigError(f"val_batch_size must be >= 1, max_steps_per_epoch >= 0 (0 = all) and threads >= 0 "
                              f"(0 = torch's choice); got val_batch_size {self.val_batch_size}, max_steps_per_epoch "
                              f"{self.max_steps_per_epoch}, threads {self.threads}")
