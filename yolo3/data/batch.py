"""The training/validation batch and the collate that builds it.

Targets of all images are concatenated into one (M, 6) table whose first column is the
image's index in the batch, so images with many boxes and images with none share one
tensor; `counts` keeps how many rows belong to each image.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import torch

from yolo3.data.letterbox import LetterboxInfo


@dataclasses.dataclass
class Batch:
    """A batch of network inputs and their boxes.

    Attributes:
        images: (B, 3, H, W) uint8 RGB; the model takes `images.float() / 255`.
        targets: (M, 6) float32 rows [batch_index, class_id, x1, y1, x2, y2] in
            network-input pixels.
        counts: (B,) int64 number of target rows per image.
        paths: the B image files.
        infos: per image its LetterboxInfo when only a letterbox was applied (e.g.
            validation), so predictions can be mapped back; None after augmentation.
    """

    images: torch.Tensor
    targets: torch.Tensor
    counts: torch.Tensor
    paths: list[str]
    infos: list[LetterboxInfo | None]

    def __len__(self) -> int:
        return int(self.images.shape[0])

    def pin_memory(self) -> "Batch":
        """Called by DataLoader(pin_memory=True)."""
        return dataclasses.replace(self, images=self.images.pin_memory(), targets=self.targets.pin_memory())

    def to(self, device: torch.device | str) -> "Batch":
        """Moves images and targets (the tensors the model needs) to `device`."""
        return dataclasses.replace(
            self, images=self.images.to(device, non_blocking=True), targets=self.targets.to(device, non_blocking=True)
        )


@dataclasses.dataclass
class Item:
    """One prepared image, as the dataset returns it.

    image: (H, W, 3) uint8 RGB, C-contiguous; boxes: (N, 4) float32 xyxy network
    pixels; class_ids: (N,) int64; info: LetterboxInfo or None (augmented).
    """

    image: np.ndarray
    boxes: np.ndarray
    class_ids: np.ndarray
    path: str
    info: LetterboxInfo | None


def collate(items: list[Item]) -> Batch:
    """Stacks Items into a Batch: images → (B, 3, H, W), boxes → (M, 6) with counts."""
    images = torch.from_numpy(np.stack([it.image for it in items])).permute(0, 3, 1, 2).contiguous()
    counts = torch.tensor([len(it.boxes) for it in items], dtype=torch.int64)
    rows = [
        np.concatenate(
            [np.full((len(it.boxes), 1), i, np.float32), it.class_ids.reshape(-1, 1).astype(np.float32),
             it.boxes.reshape(-1, 4).astype(np.float32)],
            axis=1,
        )
        for i, it in enumerate(items)
    ]
    targets = torch.from_numpy(np.concatenate(rows, axis=0)) if rows else torch.zeros((0, 6))
    return Batch(images, targets.reshape(-1, 6), counts, [it.path for it in items], [it.info for it in items])
