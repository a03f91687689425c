"""`train_classifier(data, out)`: the crop classifier behind `yolo3 train-classifier`.

Detect, then classify: a (class-agnostic) detector finds the objects and this small
CNN names them, so a new class mix needs only a new classifier. It trains on the
ground-truth boxes of a detection dataset (any format `load_dataset` reads; difficult and
crowd boxes left out, as detector training does by default), cut with
context (`yolo3.data.crops`). Each epoch draws as many crops as the training split has,
class-balanced (a crop's chance is 1 / its class's count, so rare classes are seen as
often as common ones), each augmented: the square jittered (side ×0.85–1.15, centre
±10 % of the side), horizontal flip, brightness ±20 % and contrast ±20 %. The best
epoch by validation accuracy (the last without a val split) is saved as safetensors
with metadata: classifier config, class names, per-class val accuracy, training counts.
Training images are decoded once and kept in memory (fine for datasets of a few
thousand images).
"""

from __future__ import annotations

import dataclasses
import math
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from yolo3.data.crops import crop_with_context, crops_to_tensor
from yolo3.data.image_io import read_image
from yolo3.data.sample import Sample
from yolo3.io.checkpoint import CheckpointError, read_metadata
from yolo3.io.classifier import KIND, save_classifier
from yolo3.models.classifier import ClassifierConfig, CropClassifier


@dataclasses.dataclass
class ClassifierResult:
    """What `train_classifier` did: the saved file, val accuracy (None without val), per class, counts."""

    path: Path
    val_accuracy: float | None
    per_class_accuracy: dict[str, float]
    train_counts: dict[str, int]
    epochs: int
    seconds: float
    difficult: int = 0
    """Difficult / crowd boxes of the train split left out (as detector training does by default)."""


def balanced_weights(labels: np.ndarray, num_classes: int) -> np.ndarray:
    """(N,) class ids → (N,) sampling probabilities 1/count(class), normalised (each class equally likely)."""
    counts = np.bincount(labels, minlength=num_classes).astype(np.float64)
    present = counts > 0
    weights = np.where(present[labels], 1.0 / np.maximum(counts[labels], 1), 0.0)
    return weights / weights.sum()


def schedule_lr(lr: float, progress: float, warmup: float = 0.05, final_ratio: float = 0.05) -> float:
    """Learning rate at `progress` in [0, 1] of the run: linear warm-up over the first `warmup`,
    then cosine from lr down to lr·final_ratio."""
    p = min(max(progress, 0.0), 1.0)
    if p < warmup:
        return lr * p / warmup
    t = (p - warmup) / (1 - warmup)
    return lr * (final_ratio + (1 - final_ratio) * 0.5 * (1 + math.cos(math.pi * t)))


def _items(samples: list[Sample]) -> tuple[list[np.ndarray], list[tuple[int, np.ndarray, int]], int]:
    """Decoded images, (image index, box, class id) per GT box, and how many difficult / crowd
    boxes (VOC `difficult`, COCO `iscrowd`) were left out: a crowd region is not one object,
    and detector training and evaluation leave both out by default."""
    images, items, difficult = [], [], 0
    for s in samples:
        difficult += int(s.difficult.sum())
        s = s.without_difficult() if s.difficult.any() else s
        if len(s.boxes) == 0:
            continue
        images.append(read_image(s.image_path))
        items += [(len(images) - 1, box, int(c)) for box, c in zip(s.boxes, s.class_ids)]
    return images, items, difficult


def _augment(crop: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    if rng.random() < 0.5:
        crop = crop[:, ::-1]
    out = crop.astype(np.float32)
    mean = out.mean()
    out = (out - mean) * rng.uniform(0.8, 1.2) + mean * rng.uniform(0.8, 1.2)
    return out.clip(0, 255).astype(np.uint8)


def _batch(
    images: list[np.ndarray], items: list, idx, cfg: ClassifierConfig, rng: np.random.Generator | None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Crops of items[idx] (jittered and augmented when `rng` is given) → ((B, 3, S, S), (B,) labels)."""
    crops, labels = [], []
    for i in idx:
        image_i, box, cls = items[int(i)]
        jitter = (rng.uniform(0.85, 1.15), rng.uniform(-0.1, 0.1), rng.uniform(-0.1, 0.1)) if rng else (1.0, 0.0, 0.0)
        crop = crop_with_context(images[image_i], box, cfg.imgsz, cfg.context, jitter)
        crops.append(_augment(crop, rng) if rng else crop)
        labels.append(cls)
    return crops_to_tensor(crops), torch.tensor(labels, dtype=torch.long)


@torch.no_grad()
def _accuracy(model: CropClassifier, images, items, cfg: ClassifierConfig, batch_size: int) -> tuple[float, np.ndarray]:
    model.eval()
    correct = np.zeros(cfg.num_classes)
    total = np.zeros(cfg.num_classes)
    for start in range(0, len(items), batch_size):
        x, y = _batch(images, items, range(start, min(start + batch_size, len(items))), cfg, None)
        pred = model(x).argmax(1)
        np.add.at(total, y.numpy(), 1)
        np.add.at(correct, y.numpy(), (pred == y).numpy())
    return float(correct.sum() / max(total.sum(), 1)), np.where(total > 0, correct / np.maximum(total, 1), -1.0)


def _check_out(out: Path) -> None:
    """Refuses an existing `out` that is not a crop classifier (a dataset file, a detector
    checkpoint): retraining replaces a classifier, never anything else."""
    if not out.exists():
        return
    try:
        kind = read_metadata(out).get("kind")
    except (CheckpointError, OSError):
        kind = None
    if kind != KIND:
        raise ValueError(f"{out}: exists and is not a crop classifier, so writing the classifier there would destroy "
                         "it; choose another --out (e.g. classifier.safetensors)")


def train_classifier(
    data: str | Path,
    out: str | Path,
    epochs: int = 30,
    imgsz: int = 64,
    context: float = 0.2,
    width: int = 32,
    batch_size: int = 64,
    lr: float = 2e-3,
    seed: int = 0,
    max_minutes: float | None = None,
) -> ClassifierResult:
    """Trains a crop classifier on dataset `data`'s GT boxes; writes `out` (.safetensors).

    Args:
        data: data.yaml, COCO json, VOC root, … (its 'train' split; 'val' for selection).
        out: the classifier file to write.
        epochs / max_minutes: stop after this many epochs or this much wall time (checked
            after every step, at least one step; the epoch it ends in is validated).
        imgsz / context / width: see `ClassifierConfig`.
        batch_size, lr, seed: AdamW batch, learning rate and the seed. The schedule (5 % warm-up,
            cosine to 5 %) runs on progress = the larger of the epoch and the time fractions, so a
            `max_minutes` budget gets a whole schedule too.
    """
    from yolo3.data.formats import load_dataset

    start_time = time.perf_counter()
    _check_out(Path(out))
    index = load_dataset(data)
    names = list(index.class_names)
    cfg = ClassifierConfig(num_classes=len(names), class_names=names, imgsz=imgsz, context=context, width=width)
    train_images, train_items, difficult = _items(index.splits.get("train") or [])
    if not train_items:
        raise ValueError(f"{data}: the train split has no boxes to cut crops from")
    val_images, val_items, _ = _items(index.splits.get("val") or [])
    labels = np.array([c for _, _, c in train_items])
    probs = balanced_weights(labels, cfg.num_classes)
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model = CropClassifier(cfg)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=5e-4)
    steps = max(1, epochs * int(np.ceil(len(train_items) / batch_size)))
    budget_s = max_minutes * 60 if max_minutes is not None else None
    step = 0
    best, best_state, best_per_class, done = -1.0, None, np.zeros(0), 0
    for epoch in range(epochs):
        model.train()
        draws = rng.choice(len(train_items), size=len(train_items), p=probs)
        for i in range(0, len(draws), batch_size):
            progress = step / steps
            if budget_s is not None:
                progress = max(progress, (time.perf_counter() - start_time) / budget_s)
            for group in opt.param_groups:
                group["lr"] = schedule_lr(lr, progress)
            x, y = _batch(train_images, train_items, draws[i : i + batch_size], cfg, rng)
            loss = F.cross_entropy(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            step += 1
            if budget_s is not None and time.perf_counter() - start_time > budget_s:
                break  # the budget ends inside the epoch: validate what there is, then stop
        done = epoch + 1
        if val_items:
            acc, per_class = _accuracy(model, val_images, val_items, cfg, batch_size)
            if acc > best:
                best, best_per_class = acc, per_class
                best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        if budget_s is not None and time.perf_counter() - start_time > budget_s:
            break
    if best_state is not None:
        model.load_state_dict(best_state)
    model.eval()
    per_class = {n: float(a) for n, a in zip(names, best_per_class) if a >= 0} if val_items else {}
    counts = {n: int(c) for n, c in zip(names, np.bincount(labels, minlength=len(names)))}
    save_classifier(out, model, dataset=str(data), epochs=done, val_accuracy=best if val_items else None,
                    per_class_accuracy=per_class, train_counts=counts)
    return ClassifierResult(Path(out), best if val_items else None, per_class, counts, done,
                            time.perf_counter() - start_time, difficult)
