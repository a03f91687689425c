"""`yolo3 train`: train a model on a dataset (Python API: yolo3.train.train)."""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os

from yolo3.models import list_models
from yolo3.train.config import TrainConfig
from yolo3.train.presets import default_config, load_preset


def add_config_arguments(p: argparse.ArgumentParser) -> None:
    """Options shared by train, lr-find and overfit; each overrides the config file."""
    p.add_argument("--config", help="a TrainConfig YAML or preset name (default: the model's preset)")
    p.add_argument("--data", help="data.yaml, COCO JSON or Pascal VOC root")
    p.add_argument("--model", choices=list_models(), help="architecture (default: yolov3-tiny)")
    p.add_argument("--width", type=float, help="channel multiplier")
    p.add_argument("--depth", type=float, help="residual-block multiplier")
    p.add_argument("--weights", help="initialise from this checkpoint (fine-tuning)")
    p.add_argument("--imgsz", type=int)
    p.add_argument("--batch-size", type=int, dest="batch_size")
    p.add_argument("--nbs", type=int, dest="nominal_batch_size", help="nominal batch (gradient accumulation)")
    p.add_argument("--workers", type=int)
    p.add_argument("--threads", type=int, help="torch threads (0 = default)")
    p.add_argument("--device", help="cpu, cuda, cuda:0")
    p.add_argument("--amp", choices=["auto", "bf16", "fp16", "off"], help="mixed precision")
    p.add_argument("--no-channels-last", action="store_true")
    p.add_argument("--optimizer", choices=["sgd", "adam", "adamw", "rmsprop"])
    p.add_argument("--lr0", type=float)
    p.add_argument("--seed", type=int)
    p.add_argument("--deterministic", action="store_true")
    p.add_argument("--no-augment", action="store_true")


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    """The config file (or preset) with every given command-line option applied."""
    cfg = load_preset(args.config) if args.config else default_config(args.model or "yolov3-tiny")
    model = cfg.model
    if args.model and args.model != model.arch:
        model = dataclasses.replace(model, arch=args.model, anchors=None)
    model = dataclasses.replace(model, **{k: getattr(args, k) for k in ("width", "depth") if getattr(args, k)})
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


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train a model (checkpoints, metrics, plots in runs/<name>)")
    add_config_arguments(p)
    p.add_argument("--epochs", type=int)
    p.add_argument("--name", help="run name (runs/<name>, numbered if it exists)")
    p.add_argument("--project", help="folder of runs (default runs)")
    p.add_argument("--exist-ok", action="store_true", help="reuse runs/<name>")
    p.add_argument("--resume", metavar="RUN", help="continue RUN (folder or last.safetensors) exactly")
    p.add_argument("--schedule", choices=["cosine", "linear", "step", "onecycle", "constant"])
    p.add_argument("--warmup-epochs", type=float)
    p.add_argument("--freeze", choices=["none", "backbone"])
    p.add_argument("--backbone-lr", type=float, help="backbone LR as a fraction of lr0")
    p.add_argument("--grad-clip", type=float)
    p.add_argument("--multi-scale", type=float, help="± fraction of imgsz per batch (e.g. 0.5)")
    p.add_argument("--no-ema", action="store_true")
    p.add_argument("--swa", action="store_true", help="stochastic weight averaging over the last epochs")
    p.add_argument("--patience", type=int, help="early stop after N validations without improvement")
    p.add_argument("--val-interval", type=int)
    p.add_argument("--max-steps", type=int, dest="max_steps_per_epoch", help="cap steps per epoch")
    p.add_argument("--time-budget", type=float, dest="time_budget_minutes", metavar="MIN",
                   help="wall-clock budget in minutes: the schedule is fitted to the epochs that fit")
    p.add_argument("--sync-bn", action="store_true")
    p.add_argument("--no-tensorboard", action="store_true")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(run=_run)


def train_config_from_args(args: argparse.Namespace) -> TrainConfig:
    """`config_from_args` plus the train-only options."""
    cfg = config_from_args(args)
    sched = dataclasses.replace(cfg.schedule, **{k: v for k, v in (("kind", args.schedule),
                                                                   ("warmup_epochs", args.warmup_epochs)) if v is not None})
    optim = dataclasses.replace(cfg.optim, **{k: v for k, v in (("freeze", args.freeze), ("backbone_lr_scale", args.backbone_lr),
                                                                ("grad_clip", args.grad_clip)) if v is not None})
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
    return dataclasses.replace(cfg, schedule=sched, optim=optim, averaging=averaging, **changes)


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


def _run(args: argparse.Namespace) -> int:
    from yolo3.train import train

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if args.resume:
        changes = resume_changes_from_args(args)
        result = train(train_config_from_args(args), resume_changes=changes)  # only its `resume` is used
    else:
        result = train(train_config_from_args(args))
    if int(os.environ.get("RANK", "0")) == 0:  # under torchrun only rank 0 wrote the files
        print(f"last: {result.last}\nbest: {result.best}")
    return 0
