"""Training (SPEC §6): `train(TrainConfig) -> TrainResult`, plus the diagnostics."""

from yolo3.train.config import AveragingConfig, OptimConfig, ScheduleConfig, TrainConfig
from yolo3.train.diagnostics import LRFindResult, OverfitResult, lr_find, overfit_batch
from yolo3.train.engine import TrainResult, train

__all__ = [
    "AveragingConfig", "LRFindResult", "OptimConfig", "OverfitResult", "ScheduleConfig", "TrainConfig",
    "TrainResult", "lr_find", "overfit_batch", "train",
]
