"""`yolo3 train`: train a model on a dataset (Python API: yolo3.train.train)."""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os

from yolo3.cli.options import (
    anchor_list,
    imgsz,
    nonneg_float,
    nonneg_int,
    positive_float,
    positive_int,
)
from yolo3.config import ConfigError, ModelConfig
from yolo3.data.split import SPLITS_FOUND
from yolo3.models import list_models
from yolo3.train.config import TrainConfig
from yolo3.train.presets import default_config, load_preset


def _preset_default(value: object) -> str:
    """'default: --config or preset; yolov3-tiny: VALUE' (the option overrides the config)."""
    return f"default: --config or preset; yolov3-tiny: {value}"


def add_config_arguments(p: argparse.ArgumentParser) -> None:
    """Options shared by train, lr-find and overfit; each overrides the config file."""
    base = default_config("yolov3-tiny")
    p.add_argument("--config", help="a TrainConfig YAML or preset name (default: the model's preset)")
    p.add_argument("--data", help="data.yaml, COCO JSON or Pascal VOC root (default: the config's `data`)")
    p.add_argument("--model", choices=list_models(), help="architecture (default: a --weights yolo3 checkpoint's "
                   "architecture, width and depth, else yolov3-tiny)")
    p.add_argument("--width", type=positive_float, help=f"channel multiplier ({_preset_default(base.model.width)})")
    p.add_argument("--depth", type=positive_float, help=f"residual-block multiplier ({_preset_default(base.model.depth)})")
    p.add_argument("--weights", help="initialise from a yolo3 checkpoint or darknet .weights (any class count: "
                   "heads start fresh), or a darknet partial file such as darknet53.conv.74 (default: random init)")
    p.add_argument("--imgsz", type=imgsz, help=f"input size, a multiple of 32 ({_preset_default(base.imgsz)})")
    p.add_argument("--batch-size", type=positive_int, dest="batch_size",
                   help=f"images per step ({_preset_default(base.batch_size)})")
    p.add_argument("--nbs", type=positive_int, dest="nominal_batch_size",
                   help=f"nominal batch: gradients accumulated to this many images ({_preset_default(base.nominal_batch_size)})")
    p.add_argument("--workers", type=nonneg_int, help=f"data-loader processes ({_preset_default(base.workers)})")
    p.add_argument("--threads", type=nonneg_int, help="torch threads, 0 = torch's choice (default: the config's)")
    p.add_argument("--device", help=f"cpu, cuda, cuda:N or N (= cuda:N) ({_preset_default(base.device)})")
    p.add_argument("--amp", choices=["auto", "bf16", "fp16", "off"],
                   help=f"mixed precision, auto = bf16 on CPU, fp16 on CUDA ({_preset_default(base.amp)})")
    p.add_argument("--no-channels-last", action="store_true", help="keep NCHW memory format (slower on CPU)")
    p.add_argument("--optimizer", choices=["sgd", "adam", "adamw", "rmsprop"],
                   help=f"optimizer ({_preset_default(base.optim.name)})")
    p.add_argument("--lr0", type=positive_float, help=f"base learning rate ({_preset_default(base.optim.lr0)})")
    p.add_argument("--seed", type=int, help=f"seed of every random choice ({_preset_default(base.seed)})")
    p.add_argument("--deterministic", action="store_true", help="deterministic algorithms (slower)")
    p.add_argument("--anchors", type=anchor_list, metavar="'W,H W,H …'",
                   help="anchors in pixels at the training --imgsz, small to large, as `yolo3 anchors` prints "
                   "them (default: the config's, else the architecture's COCO anchors scaled to --imgsz)")
    p.add_argument("--no-augment", action="store_true", help="train without augmentation (letterbox only)")


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    """The config file (or preset) with every given command-line option applied."""
    source = None if args.config or args.model or args.width or args.depth or getattr(args, "cfg", None) \
        else checkpoint_model(args.weights)
    cfg = load_preset(args.config) if args.config else default_config(args.model or (source.arch if source else
                                                                                       "yolov3-tiny"))
    model = cfg.model
    if source is not None:  # nothing names the model: the checkpoint's own, so all but its heads load
        model = dataclasses.replace(model, width=source.width, depth=source.depth)
    if args.model and args.model != model.arch:
        model = dataclasses.replace(model, arch=args.model, anchors=None)
    model = dataclasses.replace(model, **{k: getattr(args, k) for k in ("width", "depth") if getattr(args, k)})
    if getattr(args, "anchors", None):
        model = dataclasses.replace(model, anchors=group_anchors(args.anchors, model.arch),
                                    imgsz=args.imgsz or cfg.imgsz)  # the anchors are for the training size
    optim = dataclasses.replace(cfg.optim, **{k: v for k, v in (("name", args.optimizer), ("lr0", args.lr0)) if v})
    plain = ("data", "weights", "imgsz", "batch_size", "nominal_batch_size", "workers", "threads", "device", "amp", "seed")
    changes = {k: getattr(args, k) for k in plain if getattr(args, k) is not None}
    if args.no_channels_last:
        changes["channels_last"] = False
    if args.deterministic:
        changes["deterministic"] = True
    if args.no_augment:
        changes["augment"] = None
    return dataclasses.replace(cfg, model=model, optim=optim, **changes)


def checkpoint_model(weights: str | None) -> ModelConfig | None:
    """The architecture, width and depth stored in yolo3 checkpoint `weights`; None for no
    file, a darknet file, or one without readable yolo3 metadata (the run reports those)."""
    from yolo3.io.checkpoint import CheckpointError, model_config_from_metadata, read_metadata
    from yolo3.train.transfer import is_darknet_weights

    if not weights or not os.path.isfile(weights):
        return None
    try:
        if is_darknet_weights(weights):
            return None
        return model_config_from_metadata(read_metadata(weights), weights)
    except (CheckpointError, OSError, ValueError):
        return None


SPLITS_HELP = (
    f"{SPLITS_FOUND}. Without a 'val' split, hold back this fraction R of the training images for validation "
    "(seeded by --seed, stratified by class, listed in split.json in the run folder and reused on --resume); "
    "default 0: train without validation")


def group_anchors(pairs: list[list[float]], arch: str) -> list[list[list[float]]]:
    """Anchors (w, h) → per output scale (stride ascending) for architecture `arch`."""
    from yolo3.assign.anchors import split_per_scale
    from yolo3.models.registry import model_spec

    scales = len(model_spec(arch).default_anchors)
    per = len(model_spec(arch).default_anchors[0])
    if len(pairs) != scales * per:
        raise ValueError(f"--anchors: {len(pairs)} anchors for {arch}, which takes {scales * per} ({scales} scales × "
                         f"{per}); run `yolo3 anchors DATA --n {scales * per}`")
    return split_per_scale(pairs, scales)


def register(sub: argparse._SubParsersAction) -> None:
    base = default_config("yolov3-tiny")
    p = sub.add_parser("train", help="train a model (checkpoints, metrics, plots in runs/<name>)")
    add_config_arguments(p)
    p.add_argument("--epochs", type=positive_int, help=f"epochs to train ({_preset_default(base.epochs)})")
    p.add_argument("--name", help="run name: runs/<name>, numbered name2, name3, … if it exists (default: train)")
    p.add_argument("--project", help="folder of runs (default: runs)")
    p.add_argument("--exist-ok", action="store_true", help="reuse runs/<name> instead of numbering a new one")
    p.add_argument("--resume", metavar="RUN",
                   help="continue RUN (folder or last.safetensors) exactly (default: a new run)")
    p.add_argument("--schedule", choices=["cosine", "linear", "step", "onecycle", "constant"],
                   help=f"LR schedule after warmup ({_preset_default(base.schedule.kind)})")
    p.add_argument("--warmup-epochs", type=nonneg_float,
                   help=f"linear LR warmup, fractional allowed ({_preset_default(base.schedule.warmup_epochs)})")
    p.add_argument("--freeze", choices=["none", "backbone"],
                   help=f"freeze the backbone for fine-tuning ({_preset_default(base.optim.freeze)})")
    p.add_argument("--cfg", metavar="DARKNET_CFG", help="a darknet .cfg giving the model (architecture, width, "
                   "depth, anchors) instead of --model, e.g. with --weights darknet53.conv.74 (default: --model)")
    p.add_argument("--freeze-epochs", type=nonneg_int, metavar="N",
                   help="with --freeze backbone: unfreeze after N epochs, 0 = frozen for the whole run "
                   f"({_preset_default(base.optim.freeze_epochs)})")
    p.add_argument("--backbone-lr", type=nonneg_float,
                   help=f"backbone LR as a fraction of lr0 ({_preset_default(base.optim.backbone_lr_scale)})")
    p.add_argument("--grad-clip", type=nonneg_float,
                   help=f"clip the gradient norm, 0 = off ({_preset_default(base.optim.grad_clip)})")
    p.add_argument("--multi-scale", type=nonneg_float,
                   help=f"± fraction of imgsz per batch, e.g. 0.5; 0 = off ({_preset_default(base.multi_scale)})")
    p.add_argument("--no-ema", action="store_true", help="no exponential moving average of the weights")
    p.add_argument("--swa", action="store_true", help="stochastic weight averaging over the last epochs")
    p.add_argument("--patience", type=nonneg_int,
                   help="early stop after N validations without a better smoothed val fitness, unless it still rises or "
                   f"under half the run is done (config early_stop), 0 = never ({_preset_default(base.patience)})")
    p.add_argument("--val-interval", type=nonneg_int,
                   help=f"validate every N epochs, 0 = never ({_preset_default(base.val_interval)})")
    p.add_argument("--max-steps", type=nonneg_int, dest="max_steps_per_epoch",
                   help=f"cap steps per epoch, 0 = all ({_preset_default(base.max_steps_per_epoch)})")
    p.add_argument("--time-budget", type=nonneg_float, dest="time_budget_minutes", metavar="MIN",
                   help="wall-clock budget in minutes: the schedule is fitted to the epochs that fit "
                   f"({_preset_default(base.time_budget_minutes)})")
    p.add_argument("--sync-bn", action="store_true", help="SyncBatchNorm under torchrun (DDP)")
    p.add_argument("--no-tensorboard", action="store_true", help="no TensorBoard event files")
    p.add_argument("--no-progress", action="store_true", help="no progress bars and summary table")
    p.add_argument("--split-ratio", type=nonneg_float, default=None, metavar="R", help=SPLITS_HELP)
    p.add_argument("--auto", action="store_true",
                   help="choose the assignment, Mosaic, jitter strength, input size, anchors, warmup and EMA length from "
                        "the training split and the run's length, as "
                        "`yolo3 demo` does (yolo3/train/auto.py; the choices and why are in train.log); options given "
                        "here (--imgsz, --anchors, --warmup-epochs, --no-augment) are kept (default: the config's)")
    p.set_defaults(run=_run)


def train_config_from_args(args: argparse.Namespace) -> TrainConfig:
    """`config_from_args` plus the train-only options."""
    cfg = config_from_args(args)
    if args.cfg:
        given = [flag for flag, value in (("--width", args.width), ("--depth", args.depth), ("--anchors", args.anchors))
                 if value]
        if given:  # the cfg's values would silently replace them
            raise ConfigError(f"--cfg and {given[0]} both set the model (the cfg gives its architecture, width, depth "
                              f"and anchors): drop {given[0]}, or edit {args.cfg}")
        cfg = dataclasses.replace(cfg, model=model_from_darknet_cfg(args.cfg, cfg.model, bool(args.model)))
    sched = dataclasses.replace(cfg.schedule, **{k: v for k, v in (("kind", args.schedule),
                                                                   ("warmup_epochs", args.warmup_epochs)) if v is not None})
    optim_args = (("freeze", args.freeze), ("freeze_epochs", args.freeze_epochs),
                  ("backbone_lr_scale", args.backbone_lr), ("grad_clip", args.grad_clip))
    optim = dataclasses.replace(cfg.optim, **{k: v for k, v in optim_args if v is not None})
    averaging = dataclasses.replace(cfg.averaging, ema=cfg.averaging.ema and not args.no_ema,
                                    swa=cfg.averaging.swa or args.swa)
    plain = ("epochs", "name", "project", "resume", "multi_scale", "patience", "val_interval", "max_steps_per_epoch",
             "time_budget_minutes")
    changes = {k: getattr(args, k) for k in plain if getattr(args, k) is not None}
    flags = {"exist_ok": args.exist_ok, "sync_bn": args.sync_bn}
    changes.update({k: True for k, v in flags.items() if v})
    if args.no_tensorboard:
        changes["tensorboard"] = False
    if args.no_progress:
        changes["progress"] = False
    if args.split_ratio is not None:
        changes["split_ratio"] = args.split_ratio
    return dataclasses.replace(cfg, schedule=sched, optim=optim, averaging=averaging, **changes)


def model_from_darknet_cfg(path: str, base: ModelConfig, model_given: bool) -> ModelConfig:
    """`base` with the architecture, width, depth and anchors of darknet cfg `path` (the
    class count comes from the dataset, the input size from --imgsz / the config)."""
    from yolo3.darknet import load_cfg, match_cfg

    if model_given:
        raise ConfigError("--cfg and --model both name the model: give one of them")
    found = match_cfg(load_cfg(path))
    return dataclasses.replace(base, arch=found.arch, width=found.width, depth=found.depth, anchors=found.anchors)


# Options `--resume` accepts, as TrainConfig changes (see yolo3.train.resume.RESUME_CHANGEABLE).
RESUME_OPTIONS = {"epochs": ("--epochs", "epochs"), "time_budget_minutes": ("--time-budget", "time_budget_minutes"),
                  "workers": ("--workers", "workers"), "threads": ("--threads", "threads"),
                  "device": ("--device", "device"), "no_progress": ("--no-progress", "progress"),
                  "no_tensorboard": ("--no-tensorboard", "tensorboard")}
# Options whose flag differs from `--` + dest with dashes.
FLAG_NAMES = {"nominal_batch_size": "--nbs", "max_steps_per_epoch": "--max-steps",
              "time_budget_minutes": "--time-budget"}


def resume_changes_from_args(args: argparse.Namespace) -> dict[str, object]:
    """The TrainConfig changes the options given with `--resume` ask for. Options that
    would make a different run (--lr0, --batch-size, --model, …) are refused, naming them,
    instead of being silently ignored."""
    given = {k: v for k, v in vars(args).items()
             if k not in ("command", "run", "resume") and v is not None and v is not False}
    refused = sorted(FLAG_NAMES.get(k, "--" + k.replace("_", "-")) for k in given if k not in RESUME_OPTIONS)
    if refused:
        allowed = ", ".join(flag for flag, _ in RESUME_OPTIONS.values())
        raise ValueError(f"--resume continues the run exactly as it was configured, so {', '.join(refused)} cannot "
                         f"be given with it (start a new run for that); allowed with --resume: {allowed}")
    changes: dict[str, object] = {}
    for key, value in given.items():
        field = RESUME_OPTIONS[key][1]
        changes[field] = False if key.startswith("no_") else value
    return changes


def auto_keep(args: argparse.Namespace) -> tuple[str, ...]:
    """The settings of `--auto` the command line set explicitly (yolo3.train.auto.AUTO_SETTINGS)."""
    given = {"imgsz": args.imgsz, "anchors": args.anchors, "warmup": args.warmup_epochs,
             "mosaic": args.no_augment or None, "augment": args.no_augment or None}
    return tuple(k for k, v in given.items() if v is not None)


def _run(args: argparse.Namespace) -> int:
    from yolo3.train import train

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if args.resume:
        changes = resume_changes_from_args(args)
        result = train(train_config_from_args(args), resume_changes=changes)  # only its `resume` is used
    elif args.auto:
        from yolo3.train.auto import prepare_auto

        cfg, data = prepare_auto(train_config_from_args(args), auto_keep(args))
        result = train(cfg, data=data)
    else:
        result = train(train_config_from_args(args))
    if int(os.environ.get("RANK", "0")) == 0:  # under torchrun only rank 0 wrote the files
        print(f"last: {result.last}\nbest: {result.best}")
    return 0
