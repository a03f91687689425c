"""Where per-image annotation files lie next to their images, as datasets are shipped.

Pascal VOC XML and LabelMe JSON keep one annotation file per image. Besides the VOC
devkit layout (Annotations/ + JPEGImages/ + ImageSets/, handled by voc.py), these
layouts are read, with `root` the folder given:

1. files beside the images, in split folders: `root/images/train/a.jpg` + `a.xml`
   (or `root/train/…`; split folders are train/val/test and the aliases in SPLIT_FOLDERS);
2. files beside the images in one folder: `root/images/*.jpg` + `*.xml`, or `root/*.jpg` + `*.xml`
   (all of it the 'train' split);
3. a pair of folders: images in `root/images/` (or `root/images/<split>/`) and annotations in
   `root/annots/`, `root/annotations/` or `root/Annotations/` (or `…/<split>/` there),
   paired by file stem.

An image without an annotation file is returned with the path its annotation would have
(the reader reports it as `missing_label_file`); an annotation without an image of the
same stem is returned with image None (the reader looks up the file name it states in
the image folder).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

SPLIT_FOLDERS = {"train": "train", "training": "train", "trainval": "train", "val": "val", "valid": "val",
                 "validation": "val", "test": "test", "testing": "test"}
"""Folder name (lower case) → split."""
ANNOTATION_FOLDERS = ("annots", "annotations", "Annotations")
"""Folder names, beside `images/`, that hold the annotation files of layout 3."""


@dataclasses.dataclass
class PerImageLayout:
    """Annotation/image pairs per split, and a one-line description for messages.

    splits: split → [(annotation file (may not exist), image file or None, image folder)],
        sorted by stem.
    """

    splits: dict[str, list[tuple[Path, Path | None, Path]]]
    description: str


def _files(folder: Path, suffixes: tuple[str, ...]) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in suffixes)


def _annotation_folder(root: Path, image_dir: Path, split_folder: str | None, suffix: str) -> Path | None:
    """Where the annotations of `image_dir` are: beside the images, else an annotation folder."""
    if _files(image_dir, (suffix,)):
        return image_dir
    for name in ANNOTATION_FOLDERS:
        folder = root / name / split_folder if split_folder else root / name
        if _files(folder, (suffix,)):
            return folder
    return None


def _pairs(image_dir: Path, ann_dir: Path, suffix: str) -> list[tuple[Path, Path | None, Path]]:
    from yolo3.data.formats import IMAGE_SUFFIXES

    images = {p.stem: p for p in _files(image_dir, IMAGE_SUFFIXES)}
    annotations = {p.stem: p for p in _files(ann_dir, (suffix,))}
    stems = sorted(set(images) | set(annotations))
    return [(annotations.get(s, ann_dir / f"{s}{suffix}"), images.get(s), image_dir) for s in stems]


def find_per_image_layout(root: str | Path, suffix: str) -> PerImageLayout | None:
    """The layout of `root` for annotation files ending in `suffix` ('.xml', '.json'), or None."""
    root = Path(root)
    if not root.is_dir():
        return None
    base = root / "images" if (root / "images").is_dir() else root
    split_dirs = [d for d in sorted(base.iterdir()) if d.is_dir() and d.name.lower() in SPLIT_FOLDERS]
    splits: dict[str, list[tuple[Path, Path | None, Path]]] = {}
    where, unlabelled = [], []
    for image_dir, folder in [(d, d.name) for d in split_dirs] or [(base, None)]:
        ann_dir = _annotation_folder(root, image_dir, folder, suffix)
        split = SPLIT_FOLDERS[folder.lower()] if folder else "train"
        if ann_dir is None:
            unlabelled.append((split, image_dir))
            continue
        splits.setdefault(split, []).extend(_pairs(image_dir, ann_dir, suffix))
        where.append(f"{image_dir.relative_to(root) if image_dir != root else '.'}"
                     + ("" if ann_dir == image_dir else f" + {ann_dir.relative_to(root)}"))
    if not splits:
        return None
    for split, image_dir in unlabelled:  # a split folder without any annotation: its images are reported
        splits.setdefault(split, []).extend(_pairs(image_dir, image_dir, suffix))
        where.append(f"{image_dir.relative_to(root)} (no {suffix} files)")
    ordered = {s: splits[s] for s in ("train", "val", "test") if s in splits}
    return PerImageLayout(ordered, f"{suffix} files per image in {', '.join(where)}")
