"""Dataset, collate and loader: batch layout, exact letterbox, reproducible augmentation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from _data_utils import painted, pixel_box, write_rgb

from yolo3.data.augment.config import AugmentConfig
from yolo3.data.batch import Item, collate
from yolo3.data.letterbox import boxes_from_letterbox
from yolo3.data.loader import create_dataloader
from yolo3.data.sample import Sample

COLS = [(250, 20, 20), (20, 250, 20), (20, 20, 250)]


def _samples(tmp_path: Path, n: int = 6) -> list[Sample]:
    out = []
    for k in range(n):
        rect = (5 + 3 * k, 10, 40 + 2 * k, 30 + k)
        img = painted(60, 100, [rect], [COLS[k % 3]], bg=90)
        out.append(Sample(write_rgb(tmp_path / f"{k}.png", img), [rect], [k % 3], image_size=(60, 100)))
    return out


def test_collate_layout() -> None:
    items = [Item(np.zeros((8, 8, 3), np.uint8), np.array([[1, 2, 3, 4]], np.float32), np.array([2]), "a", None),
             Item(np.ones((8, 8, 3), np.uint8), np.zeros((0, 4), np.float32), np.zeros(0, np.int64), "b", None),
             Item(np.zeros((8, 8, 3), np.uint8), np.array([[5, 6, 7, 8], [0, 0, 1, 1]], np.float32),
                  np.array([0, 1]), "c", None)]
    b = collate(items)
    assert b.images.shape == (3, 3, 8, 8) and b.images.dtype == torch.uint8 and b.images[1].eq(1).all()
    assert b.counts.tolist() == [1, 0, 2] and b.paths == ["a", "b", "c"]
    torch.testing.assert_close(b.targets, torch.tensor([[0, 2, 1, 2, 3, 4], [2, 0, 5, 6, 7, 8], [2, 1, 0, 0, 1, 1.]]))


def test_validation_batches_letterbox_exactly(tmp_path: Path) -> None:
    samples = _samples(tmp_path)
    loader = create_dataloader(samples, 64, 4, None, shuffle=False, workers=0)
    batches = list(loader)
    assert [len(b) for b in batches] == [4, 2]
    b = batches[0]
    assert b.images.shape == (4, 3, 64, 64) and b.targets.dtype == torch.float32
    for i in range(4):
        t = b.targets[b.targets[:, 0] == i]
        back = boxes_from_letterbox(t[:, 2:].double(), b.infos[i])
        np.testing.assert_allclose(back.numpy(), samples[i].boxes, atol=1e-4)  # exact both ways
        img = b.images[i].permute(1, 2, 0).numpy()
        np.testing.assert_allclose(t[0, 2:].numpy(), pixel_box(img, COLS[i % 3], tol=150), atol=1)


def _epoch(loader, epoch: int) -> list:
    loader.set_epoch(epoch)
    return [(b.paths, b.images.clone(), b.targets.clone()) for b in loader]


AUG = AugmentConfig(mixup=0.3, cutmix=0.3, degrees=10, shear=3, cutout=0.3, gridmask=0.3, flip_ud=0.5)


def test_augmented_runs_are_reproducible_across_workers(tmp_path: Path) -> None:
    samples = _samples(tmp_path)
    a = create_dataloader(samples, 64, 3, AUG, shuffle=True, workers=0, seed=5)
    b = create_dataloader(samples, 64, 3, AUG, shuffle=True, workers=2, seed=5, cache=True)
    e1a, e1b = _epoch(a, 1), _epoch(b, 1)
    for (pa, ia, ta), (pb, ib, tb) in zip(e1a, e1b, strict=True):
        assert pa == pb and torch.equal(ia, ib) and torch.equal(ta, tb)
    e2a = _epoch(a, 2)
    assert [p for p, _, _ in e2a] != [p for p, _, _ in e1a] or not all(
        torch.equal(x[1], y[1]) for x, y in zip(e1a, e2a))
    for _, _, t in e1a:  # boxes stay inside the image and well formed
        assert (t[:, 2:] >= 0).all() and (t[:, 2:] <= 64).all() and (t[:, 4] > t[:, 2]).all()


def test_augmented_boxes_follow_pixels(tmp_path: Path) -> None:
    samples = _samples(tmp_path, 3)
    cfg = AugmentConfig(mosaic=1.0, hsv_h=0, hsv_s=0, hsv_v=0, translate=0.1, scale=0.3)
    loader = create_dataloader(samples, 96, 3, cfg, shuffle=False, workers=0, seed=1)
    batch = next(iter(loader))
    assert all(info is None for info in batch.infos)
    for i in range(3):
        img = batch.images[i].permute(1, 2, 0).numpy()
        t = batch.targets[batch.targets[:, 0] == i].numpy()
        for row in t:  # every box holds mostly its class colour
            x1, y1, x2, y2 = np.round(row[2:]).astype(int)
            patch = img[y1:y2, x1:x2].astype(int)
            share = (np.abs(patch - COLS[int(row[1])]).sum(2) < 150).mean()
            assert share > 0.6, (i, row, share)


def test_empty_samples_rejected() -> None:
    with pytest.raises(ValueError, match="at least one sample"):
        create_dataloader([], 64, 2, None, False, 0)
