"""Photometric augmentation: HSV jitter (pixels change colour, boxes do not move)."""

from __future__ import annotations

import cv2
import numpy as np


def hsv_jitter(image: np.ndarray, rng: np.random.Generator, hgain: float, sgain: float, vgain: float) -> np.ndarray:
    """Random hue shift and saturation/value gains on an (H, W, 3) uint8 RGB image.

    Gains are drawn in [1 − g, 1 + g]; hue is rotated by U(±hgain)·180 (OpenCV hue units),
    applied through 256-entry lookup tables (one pass per channel, no float image).
    """
    if not (hgain or sgain or vgain):
        return image
    r = rng.uniform(-1, 1, 3) * np.array([hgain, sgain, vgain]) + 1
    hue, sat, val = cv2.split(cv2.cvtColor(image, cv2.COLOR_RGB2HSV))
    x = np.arange(256, dtype=np.float32)
    lut_h = ((x + (r[0] - 1) * 180) % 180).astype(np.uint8)
    lut_s = np.clip(x * r[1], 0, 255).astype(np.uint8)
    lut_v = np.clip(x * r[2], 0, 255).astype(np.uint8)
    hsv = cv2.merge((cv2.LUT(hue, lut_h), cv2.LUT(sat, lut_s), cv2.LUT(val, lut_v)))
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)
