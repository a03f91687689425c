"""Helpers for the training tests: a tiny synthetic dataset and a fast config."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from yolo3.config import ModelConfig
from yolo3.data.augment.config import AugmentConfig
from yolo3.data.synth import write_synth_dataset
from yolo3.train.config import AveragingConfig, OptimConfig, ScheduleConfig, TrainConfig


def synth_data(root: Path, n_train: int = 16, n_val: int = 0, imgsz: int = 96) -> Path:
    """A YOLO-format synthetic dataset under `root`; returns its data.yaml."""
    return write_synth_dataset(root / "data", n_train=n_train, n_val=n_val, imgsz=imgsz, seed=0, max_objects=3)


def small_config(data: Path, project: Path, **changes) -> TrainConfig:
    """yolov3-tiny at width 0.25, 64 px, batch 4, no workers: a few steps in seconds."""
    cfg = TrainConfig(
        data=str(data), project=str(project), name="run",
        model=ModelConfig(arch="yolov3-tiny", width=0.25, imgsz=64),
        augment=AugmentConfig(mosaic=0.5, scale=0.2),
        optim=OptimConfig(name="sgd", lr0=0.01),
        schedule=ScheduleConfig(kind="cosine", warmup_epochs=1.0),
        averaging=AveragingConfig(ema=True, ema_tau=5.0),
        epochs=2, batch_size=4, nominal_batch_size=8, imgsz=64, workers=0, seed=3,
        val_interval=0, tensorboard=False, plots=False, progress=False, amp="off",
    )
    return dataclasses.replace(cfg, **changes)


def ddp_worker(rank: int, world_size: int, port: int, data: str, project: str, out: str,
               freeze_epochs: int = 0) -> None:
    """One rank of the DDP test: trains a few steps with gloo, saves its raw weights
    (freeze_epochs > 0: the backbone frozen for that many epochs, then trained)."""
    import os

    import torch

    torch.set_num_threads(1)
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank),
                      WORLD_SIZE=str(world_size), LOCAL_RANK=str(rank))
    from yolo3.train import train

    cfg = small_config(Path(data), Path(project), epochs=2, batch_size=2, nominal_batch_size=4)
    if freeze_epochs:
        cfg = dataclasses.replace(cfg, optim=dataclasses.replace(cfg.optim, freeze="backbone",
                                                                 freeze_epochs=freeze_epochs))
    result = train(cfg)
    torch.save({k: v.clone() for k, v in result.model.state_dict().items()}, Path(out) / f"rank{rank}.pt")
