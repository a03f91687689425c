"""create_dataloader: Samples → an iterable of Batches, with workers and exact reseeding.

The order of an epoch is a permutation drawn from (seed, epoch); each index is handed
to the dataset together with its epoch, and the dataset seeds the item's augmentations
from (seed, epoch, index). So a run is reproducible whatever the worker count, and a
resumed run continues exactly after `set_epoch(epoch)`.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
from torch.utils.data import DataLoader, Sampler

from yolo3.data.augment.config import AugmentConfig
from yolo3.data.batch import Batch, collate
from yolo3.data.dataset import DetectionDataset
from yolo3.data.image_io import MAX_PIXELS
from yolo3.data.sample import Sample


class EpochSampler(Sampler):
    """Yields (index, epoch) pairs: shuffled by (seed, epoch) or in order."""

    def __init__(self, n: int, shuffle: bool, seed: int = 0) -> None:
        self.n, self.shuffle, self.seed, self.epoch = n, shuffle, seed, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.n

    def __iter__(self) -> Iterator[tuple[int, int]]:
        order = np.random.default_rng([self.seed, self.epoch, 7]).permutation(self.n) if self.shuffle else range(
            self.n)
        epoch = self.epoch
        return iter([(int(i), epoch) for i in order])


class DetectionLoader:
    """Iterable of Batch. Each iteration is one epoch: the first is epoch 0 and each new
    iteration advances by one; `set_epoch(e)` chooses the next one (exact resume)."""

    def __init__(self, dataset: DetectionDataset, sampler: EpochSampler, loader: DataLoader) -> None:
        self.dataset, self.sampler, self.loader = dataset, sampler, loader
        self._next_epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Chooses the epoch (shuffle order and augmentation seeds) of the next iteration."""
        self._next_epoch = epoch

    def __len__(self) -> int:
        return len(self.loader)

    def __iter__(self) -> Iterator[Batch]:
        epoch = self._next_epoch
        self.sampler.set_epoch(epoch)
        self.dataset.set_epoch(epoch)
        self._next_epoch = epoch + 1
        return iter(self.loader)


def create_dataloader(
    samples: list[Sample], imgsz: int, batch_size: int, augment: AugmentConfig | None, shuffle: bool,
    workers: int, cache: bool = False, seed: int = 0, drop_last: bool = False, pin_memory: bool = False,
    max_pixels: int | None = MAX_PIXELS,
) -> DetectionLoader:
    """Batches of `samples` at (imgsz, imgsz): see Batch for the layout.

    augment None = letterbox only (validation; Batch.infos set). workers > 0 uses
    persistent worker processes; cache keeps decoded, resized images in RAM.
    max_pixels: the image reader's cap (training passes its data_check.max_pixels).
    """
    dataset = DetectionDataset(samples, imgsz, augment, cache=cache, seed=seed, max_pixels=max_pixels)
    sampler = EpochSampler(len(dataset), shuffle, seed)
    loader = DataLoader(
        dataset, batch_size=batch_size, sampler=sampler, num_workers=workers, collate_fn=collate,
        persistent_workers=workers > 0, drop_last=drop_last, pin_memory=pin_memory,
        prefetch_factor=4 if workers > 0 else None,
    )
    return DetectionLoader(dataset, sampler, loader)
