"""Losses (SPEC §4): the YOLOv3 loss (`YOLOLoss`, `LossConfig`) and the §4.4 catalogue."""

from yolo3.losses.catalogue import (
    bce,
    bce_with_logits,
    combo_loss,
    cross_entropy,
    dice_loss,
    focal_loss_with_logits,
    mae,
    mse,
    soft_iou_loss,
)
from yolo3.losses.yolo_loss import LossConfig, YOLOLoss

__all__ = [
    "LossConfig", "YOLOLoss", "bce", "bce_with_logits", "combo_loss", "cross_entropy", "dice_loss",
    "focal_loss_with_logits", "mae", "mse", "soft_iou_loss",
]
