"""Augmentations (SPEC §5.3): pure functions on (image, boxes, class_ids) with an explicit rng."""

from yolo3.data.augment.config import AugmentConfig
from yolo3.data.augment.geometric import affine_matrix, flip_lr, flip_ud, keep_boxes, random_affine, transform_boxes, warp
from yolo3.data.augment.mixing import cutmix, mixup, mosaic_canvas
from yolo3.data.augment.occlusion import cutout, gridmask
from yolo3.data.augment.photometric import hsv_jitter

__all__ = [
    "AugmentConfig", "affine_matrix", "cutmix", "cutout", "flip_lr", "flip_ud", "gridmask", "hsv_jitter",
    "keep_boxes", "mixup", "mosaic_canvas", "random_affine", "transform_boxes", "warp",
]
