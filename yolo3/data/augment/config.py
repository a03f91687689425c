"""Augmentation settings: a probability and a strength for every transform.

The defaults are a sensible training recipe for small datasets; `AugmentConfig.off()`
disables everything (what `augment=None` means for the loader).
"""

from __future__ import annotations

import dataclasses

from yolo3.config import ConfigError


@dataclasses.dataclass
class AugmentConfig:
    """Probabilities (p_*) in [0, 1] and strengths of each augmentation (SPEC §5.3).

    Attributes:
        mosaic: probability of a 4-image mosaic (otherwise a single letterboxed image).
        mixup: probability of blending with a second (mosaic) image; `mixup_beta` is
            the Beta(b, b) parameter of the blend ratio.
        cutmix: probability of pasting a random rectangle of another image; boxes of
            both images are kept when enough of them stays visible.
        degrees, translate, scale, shear: random affine ranges (± degrees, ± fraction
            of the size, gain in [1 − scale, 1 + scale], ± degrees).
        hsv_h, hsv_s, hsv_v: HSV jitter gains (fractions; hue in fraction of 180°).
        flip_lr, flip_ud: flip probabilities.
        cutout: probability of Cutout; `cutout_holes` grey holes of side up to
            `cutout_size` × image size.
        gridmask: probability of GridMask; period in [gridmask_d_min, gridmask_d_max]
            fraction of the image, `gridmask_ratio` of each period masked.
        min_box_side: drop boxes narrower or shorter than this (network pixels) after
            a geometric change.
        min_area_ratio: drop boxes keeping less than this share of their area after
            the change (clipping, occlusion by a paste).
        max_aspect: drop boxes whose aspect ratio exceeds this (slivers).
    """

    mosaic: float = 1.0
    mixup: float = 0.0
    mixup_beta: float = 32.0
    cutmix: float = 0.0
    degrees: float = 0.0
    translate: float = 0.1
    scale: float = 0.5
    shear: float = 0.0
    hsv_h: float = 0.015
    hsv_s: float = 0.7
    hsv_v: float = 0.4
    flip_lr: float = 0.5
    flip_ud: float = 0.0
    cutout: float = 0.0
    cutout_holes: int = 4
    cutout_size: float = 0.25
    gridmask: float = 0.0
    gridmask_d_min: float = 0.15
    gridmask_d_max: float = 0.35
    gridmask_ratio: float = 0.4
    min_box_side: float = 2.0
    min_area_ratio: float = 0.1
    max_aspect: float = 20.0

    def __post_init__(self) -> None:
        for name in ("mosaic", "mixup", "cutmix", "flip_lr", "flip_ud", "cutout", "gridmask", "gridmask_ratio",
                     "min_area_ratio"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ConfigError(f"augment.{name} must be in [0, 1], got {value}")
        if not 0.0 <= self.scale < 1.0:
            raise ConfigError(f"augment.scale must be in [0, 1), got {self.scale}")
        if not 0.0 < self.gridmask_d_min <= self.gridmask_d_max <= 1.0:
            raise ConfigError("augment.gridmask_d_min/d_max must satisfy 0 < d_min <= d_max <= 1")
        if self.max_aspect < 1.0:
            raise ConfigError(f"augment.max_aspect must be >= 1, got {self.max_aspect}")

    @classmethod
    def off(cls) -> "AugmentConfig":
        """Every augmentation disabled: the image is only letterboxed."""
        return cls(mosaic=0.0, mixup=0.0, cutmix=0.0, degrees=0.0, translate=0.0, scale=0.0, shear=0.0,
                   hsv_h=0.0, hsv_s=0.0, hsv_v=0.0, flip_lr=0.0, flip_ud=0.0, cutout=0.0, gridmask=0.0)

    @property
    def geometric(self) -> bool:
        """Whether any transform moves pixels (then the letterbox info no longer applies)."""
        return bool(self.mosaic or self.mixup or self.cutmix or self.degrees or self.translate or self.scale
                    or self.shear or self.flip_lr or self.flip_ud)
