"""Torch Dataset: a Sample → a letterboxed or augmented (S, S) image with its boxes.

Randomness is per item: the generator of item i in epoch e is seeded from (seed, e, i),
so an epoch's augmentations do not depend on the number of workers or on which worker
ran the item, and training can resume exactly. The epoch travels with the index
(`dataset[(i, epoch)]`, see loader.EpochSampler), so persistent workers need no state
update; `set_epoch` sets the default for plain integer indices.
"""

from __future__ import annotations

import cv2
import numpy as np
from torch.utils.data import Dataset

from yolo3.data import augment as aug
from yolo3.data.augment.config import AugmentConfig
from yolo3.data.batch import Item
from yolo3.data.image_io import MAX_PIXELS, read_image
from yolo3.data.letterbox import PAD_VALUE, LetterboxInfo, letterbox_info
from yolo3.data.sample import Sample


class DetectionDataset(Dataset):
    """Samples → Items at network size `imgsz` (square), augmented when `augment` is set.

    cache=True decodes and resizes every image once (long side = imgsz) into RAM, before
    workers start, so forked workers share it copy-on-write. max_pixels: read_image's
    cap, the run's data_check.max_pixels (an image the check let through must load).
    """

    def __init__(self, samples: list[Sample], imgsz: int, augment: AugmentConfig | None = None,
                 cache: bool = False, seed: int = 0, max_pixels: int | None = MAX_PIXELS) -> None:
        if not samples:
            raise ValueError("DetectionDataset needs at least one sample")
        self.samples = samples
        self.imgsz = imgsz
        self.augment = augment
        self.seed = seed
        self.max_pixels = max_pixels
        self.epoch = 0
        self._cache: list[tuple[np.ndarray, np.ndarray, tuple[int, int]]] | None = None
        if cache:
            self._cache = [self._load_resized(i) for i in range(len(samples))]

    def __len__(self) -> int:
        return len(self.samples)

    def set_epoch(self, epoch: int) -> None:
        """Epoch used for plain integer indices (the loader passes it with each index)."""
        self.epoch = epoch

    def _load_resized(self, i: int) -> tuple[np.ndarray, np.ndarray, tuple[int, int]]:
        """Image i resized to fit in imgsz (exactly as letterbox sizes it), its boxes (N, 4)
        float32 scaled alike, and the original (h, w)."""
        sample = self.samples[i]
        image = read_image(sample.image_path, self.max_pixels)
        h, w = image.shape[:2]
        info = letterbox_info((h, w), self.imgsz)
        new_w, new_h = int(round(w * info.scale[0])), int(round(h * info.scale[1]))
        if (new_w, new_h) != (w, h):
            interp = cv2.INTER_AREA if new_w < w else cv2.INTER_LINEAR
            image = cv2.resize(image, (new_w, new_h), interpolation=interp)
        boxes = (sample.boxes * np.array([info.scale[0], info.scale[1]] * 2)).astype(np.float32)
        return image, boxes, (h, w)

    def load(self, i: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, tuple[int, int]]:
        """(image fitted to imgsz, boxes (N, 4) float32 on it, class ids (N,), original (h, w))."""
        image, boxes, size = self._cache[i] if self._cache is not None else self._load_resized(i)
        return image, boxes.copy(), self.samples[i].class_ids.copy(), size

    def _letterboxed(self, i: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, LetterboxInfo]:
        """Image i letterboxed to (S, S) with boxes in network pixels and its exact LetterboxInfo."""
        image, boxes, ids, size = self.load(i)
        s = self.imgsz
        info = letterbox_info(size, s)
        h, w = image.shape[:2]
        left, top = (s - w) // 2, (s - h) // 2
        canvas = np.full((s, s, 3), PAD_VALUE, np.uint8)
        canvas[top : top + h, left : left + w] = image
        boxes = boxes + np.array([left, top, left, top], np.float32)
        return canvas, boxes, ids, info

    def _mosaic(self, i: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        cfg, s = self.augment, self.imgsz
        picks = [i] + [int(k) for k in rng.integers(0, len(self), 3)]
        loaded = [self.load(k) for k in picks]
        canvas, boxes, ids = aug.mosaic_canvas([x[0] for x in loaded], [x[1] for x in loaded],
                                               [x[2] for x in loaded], s, rng, cfg.min_box_side,
                                               cfg.min_area_ratio, cfg.max_aspect)
        return aug.random_affine(canvas, boxes, ids, rng, (s, s), cfg.degrees, cfg.translate, cfg.scale, cfg.shear,
                                 cfg.min_box_side, cfg.min_area_ratio, cfg.max_aspect, base_scale=0.5)

    def _single(self, i: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        cfg, s = self.augment, self.imgsz
        image, boxes, ids, _ = self._letterboxed(i)
        if cfg.degrees or cfg.translate or cfg.scale or cfg.shear:
            image, boxes, ids = aug.random_affine(image, boxes, ids, rng, (s, s), cfg.degrees, cfg.translate,
                                                  cfg.scale, cfg.shear, cfg.min_box_side, cfg.min_area_ratio,
                                                  cfg.max_aspect)
        return image, boxes, ids

    def _compose(self, i: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Mosaic or single image (with affine)."""
        return self._mosaic(i, rng) if rng.random() < self.augment.mosaic else self._single(i, rng)

    def item_rng(self, index: int, epoch: int) -> np.random.Generator:
        return np.random.default_rng([self.seed, epoch, index])

    def __getitem__(self, key: int | tuple[int, int]) -> Item:
        i, epoch = key if isinstance(key, tuple) else (key, self.epoch)
        path = str(self.samples[i].image_path)
        cfg = self.augment
        if cfg is None:
            image, boxes, ids, info = self._letterboxed(i)
            return Item(image, boxes, ids, path, info)
        rng = self.item_rng(i, epoch)
        info: LetterboxInfo | None = None
        if cfg.geometric:
            image, boxes, ids = self._compose(i, rng)
        else:
            image, boxes, ids, info = self._letterboxed(i)
        if cfg.mixup and rng.random() < cfg.mixup:
            other = self._compose(int(rng.integers(0, len(self))), rng)
            image, boxes, ids = aug.mixup(image, boxes, ids, *other, rng, cfg.mixup_beta)
        if cfg.cutmix and rng.random() < cfg.cutmix:
            other = self._compose(int(rng.integers(0, len(self))), rng)
            image, boxes, ids = aug.cutmix(image, boxes, ids, *other, rng, cfg.min_box_side, cfg.min_area_ratio,
                                           cfg.max_aspect)
        image = aug.hsv_jitter(image, rng, cfg.hsv_h, cfg.hsv_s, cfg.hsv_v)
        if cfg.flip_lr and rng.random() < cfg.flip_lr:
            image, boxes = aug.flip_lr(image, boxes)
        if cfg.flip_ud and rng.random() < cfg.flip_ud:
            image, boxes = aug.flip_ud(image, boxes)
        if cfg.cutout and rng.random() < cfg.cutout:
            image, boxes, ids = aug.cutout(image, boxes, ids, rng, cfg.cutout_holes, cfg.cutout_size,
                                           cfg.min_area_ratio)
        if cfg.gridmask and rng.random() < cfg.gridmask:
            image = aug.gridmask(image, rng, cfg.gridmask_d_min, cfg.gridmask_d_max, cfg.gridmask_ratio)
        return Item(np.ascontiguousarray(image), boxes.astype(np.float32).reshape(-1, 4),
                    ids.astype(np.int64), path, info)
