"""A held-back split for a dataset that ships without one (train/val or train/test).

`hold_back` moves a seeded, class-stratified share of the training images to a held-back
split: each image is grouped by its rarest class (the class in fewest images; images
without boxes form their own group), every group gives up round(ratio · its size)
images, with the rounding spread so that the total is round(ratio · N). Byte-identical
image files (same content hash) are drawn as one (the first copy stands for all), so
the split itself never puts the same image on both sides. The choice is
written as JSON (image paths per side, ratio, seed) into the run folder, and a later run
given that file reuses it exactly, so a resumed run validates on the same images.
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path

import numpy as np

from yolo3.data.findings import DataError
from yolo3.data.sample import Sample

log = logging.getLogger("yolo3.data")

SPLIT_FILE = "split.json"
"""Name of the held-back split record in a run folder."""
SPLITS_FOUND = ("how splits are found: a data.yaml's train/val/test keys; COCO: one JSON per split (train/val/test "
                "in the name); VOC: ImageSets/Main/{train,val,test}.txt, or train/val(valid)/test folders of images "
                "with their XML; LabelMe: the same folders; CVAT: each image's subset")
"""One sentence for --help: where each format's splits come from."""


def stratified_indices(samples: list[Sample], ratio: float, seed: int) -> np.ndarray:
    """Sorted indices of the samples to hold back (see the module doc). ratio in (0, 1)."""
    if not 0 < ratio < 1:
        raise DataError(f"split ratio must be between 0 and 1 (e.g. 0.2), got {ratio}")
    n = len(samples)
    if n < 2:
        raise DataError(f"cannot hold back a split from {n} image(s); add images or give a val split")
    images_per_class: dict[int, int] = {}
    for s in samples:
        for c in set(s.class_ids.tolist()):
            images_per_class[c] = images_per_class.get(c, 0) + 1
    keys = [min(set(s.class_ids.tolist()), key=lambda c: (images_per_class[c], c)) if len(s) else -1
            for s in samples]
    groups: dict[int, list[int]] = {}
    for i, k in enumerate(keys):
        groups.setdefault(k, []).append(i)
    order = sorted(groups)
    exact = np.array([ratio * len(groups[k]) for k in order])
    quota = np.floor(exact).astype(int)
    total = min(max(1, round(ratio * n)), n - 1)
    for j in np.argsort(-(exact - quota), kind="stable")[: max(0, total - int(quota.sum()))]:
        quota[j] += 1
    rng = np.random.default_rng(seed)
    held = [i for k, q in zip(order, quota) for i in rng.permutation(groups[k])[:q].tolist()]
    return np.sort(np.array(held, dtype=np.int64))


def hold_back(samples: list[Sample], ratio: float, seed: int, held_name: str = "val",
              record_path: Path | None = None) -> tuple[list[Sample], list[Sample], dict]:
    """Splits `samples` into (train, held back, record); reuses `record_path` when it exists.

    record: {"ratio", "seed", "held_split", "stratified_by", "train": [paths], held_name: [paths]},
    to be written with `save_split`. A reused record keeps its choice; images it does not
    name (added since) go to train, with a log line.
    """
    if record_path is not None and Path(record_path).is_file():
        record = load_split(record_path)
        held_paths = set(record[record["held_split"]])
        train = [s for s in samples if str(s.image_path) not in held_paths]
        held = [s for s in samples if str(s.image_path) in held_paths]
        new = sum(str(s.image_path) not in set(record["train"]) for s in train)
        if new:
            log.info("split: %d image(s) not in %s go to train", new, record_path)
        if not held:
            raise DataError(f"{record_path}: none of its held-back images are in the dataset; delete the file "
                            "to draw a new split")
        return train, held, record
    digests = [_digest(s.image_path) or f"#{i}" for i, s in enumerate(samples)]
    first: dict[str, int] = {}
    units = [first.setdefault(d, i) for i, d in enumerate(digests)]  # copies share their first one's unit
    reps = sorted(set(units))
    if len(reps) < len(samples):
        log.info("split: %d byte-identical image(s) go to the side of their first copy", len(samples) - len(reps))
    held_reps = {reps[j] for j in stratified_indices([samples[i] for i in reps], ratio, seed).tolist()}
    idx = {i for i, u in enumerate(units) if u in held_reps}
    train = [s for i, s in enumerate(samples) if i not in idx]
    held = [s for i, s in enumerate(samples) if i in idx]
    record = {"ratio": ratio, "seed": seed, "held_split": held_name,
              "stratified_by": "rarest class per image (images without boxes grouped together)",
              "train": [str(s.image_path) for s in train], held_name: [str(s.image_path) for s in held]}
    return train, held, record


def _digest(path: Path) -> str:
    """Content hash of an image file ("" when unreadable: then it has no twin)."""
    try:
        return hashlib.blake2b(Path(path).read_bytes(), digest_size=16).hexdigest()
    except OSError:
        return ""


def save_split(path: Path, record: dict) -> Path:
    """Writes the split record as JSON (what `hold_back` reuses)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    return path


def load_split(path: Path) -> dict:
    """Reads a split record; DataError naming the file when it is not one."""
    try:
        record = json.loads(Path(path).read_text(encoding="utf-8"))
        if not (isinstance(record, dict) and isinstance(record.get("train"), list)
                and isinstance(record.get(record.get("held_split", ""), None), list)):
            raise ValueError("needs 'train', 'held_split' and that split's list of images")
    except (OSError, ValueError) as err:
        raise DataError(f"{path}: not a split record ({err}); delete it to draw a new split") from err
    return record
