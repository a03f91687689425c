"""COCO detection JSON (images, annotations with bbox [x, y, w, h], categories).

A .json file is one split, named from its file name ('train', 'val' or 'test' in the
stem; else 'train'); a folder with annotations/*.json gives one split per file.
Category ids may be non-contiguous: class index i ↔ categories sorted by id, kept in
DatasetIndex.category_ids. `iscrowd` regions become difficult=True (ignored in
evaluation, like VOC difficult). Extra keys `difficult`/`truncated` written by this
module keep VOC flags through a conversion.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from yolo3.data.findings import DataError, Finding
from yolo3.data.formats import SPLITS, DatasetIndex, place_image, unique_names
from yolo3.data.sample import Sample


def split_name(path: Path) -> str:
    """'train' | 'val' | 'test' guessed from a JSON file's stem (default 'train')."""
    stem = path.stem.lower()
    for split in ("test", "val", "train"):
        if split in stem:
            return split
    return "train"


def _get(obj: dict, key: str, where: str, path: Path) -> Any:
    if not isinstance(obj, dict) or key not in obj:
        raise DataError(f"{path}: missing key '{where}.{key}'; every COCO {where.split('[')[0]} entry needs it")
    return obj[key]


def _image_root(json_path: Path, first_file: str | None) -> Path:
    base = json_path.parent
    candidates = [base.parent / "images" / json_path.stem, base.parent / "images", base.parent / json_path.stem,
                  base / "images", base, base.parent]
    for c in candidates:
        if first_file is not None and (c / first_file).exists():
            return c
    return next((c for c in candidates if c.is_dir() and c != base), base)


def read_coco_file(path: Path, image_root: Path | None = None) -> tuple[list[str], list[int], list[Sample], list[Finding]]:
    """Reads one COCO JSON → (class names, category ids, samples, findings)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, json.JSONDecodeError) as err:
        raise DataError(f"{path}: not valid JSON ({err})") from err
    for key in ("images", "annotations", "categories"):
        if not isinstance(data, dict) or not isinstance(data.get(key), list):
            raise DataError(f"{path}: missing key '{key}' (a list); a COCO detection file has images, "
                            "annotations and categories")
    cats = sorted(((int(_get(c, "id", f"categories[{i}]", path)), str(_get(c, "name", f"categories[{i}]", path)))
                   for i, c in enumerate(data["categories"])))
    cat_to_index = {cid: i for i, (cid, _) in enumerate(cats)}
    images = data["images"]
    root = image_root or _image_root(path, images[0].get("file_name") if images else None)
    by_image: dict[Any, list[tuple[int, dict]]] = {}
    for i, ann in enumerate(data["annotations"]):
        by_image.setdefault(_get(ann, "image_id", f"annotations[{i}]", path), []).append((i, ann))
    samples, findings = [], []
    for j, img in enumerate(images):
        where = f"images[{j}]"
        image_id, file_name = _get(img, "id", where, path), _get(img, "file_name", where, path)
        h, w = int(img.get("height", 0) or 0), int(img.get("width", 0) or 0)
        boxes, ids, difficult, truncated, positions = [], [], [], [], []
        for i, ann in by_image.pop(image_id, []):
            pos = f"annotations[{i}] (id {ann.get('id', '?')}, {file_name})"
            cid = _get(ann, "category_id", f"annotations[{i}]", path)
            bbox = _get(ann, "bbox", f"annotations[{i}]", path)
            if cid not in cat_to_index:
                findings.append(Finding("unknown_class", path, pos, f"category_id {cid} is not in 'categories'"))
                continue
            try:
                x, y, bw, bh = (float(v) for v in bbox)
            except (TypeError, ValueError):
                findings.append(Finding("bad_label", path, pos, f"bbox must be 4 numbers [x, y, w, h], got {bbox!r}"))
                continue
            if not np.isfinite([x, y, bw, bh]).all():
                findings.append(Finding("bad_label", path, pos, f"NaN or inf in bbox {bbox!r}"))
                continue
            boxes.append([x, y, x + bw, y + bh])
            ids.append(cat_to_index[cid])
            difficult.append(bool(ann.get("iscrowd", 0)) or bool(ann.get("difficult", 0)))
            truncated.append(bool(ann.get("truncated", 0)))
            positions.append(pos)
        sample = Sample(root / file_name, np.array(boxes).reshape(-1, 4), ids, image_id=image_id,
                        image_size=(h, w) if "height" in img and "width" in img else None,
                        difficult=difficult, truncated=truncated, annotation_path=path, positions=positions)
        samples.append(sample)
    for image_id, anns in by_image.items():
        for i, _ in anns:
            findings.append(Finding("bad_label", path, f"annotations[{i}]",
                                    f"image_id {image_id} is not in 'images'; annotation left out"))
    return [n for _, n in cats], [c for c, _ in cats], samples, findings


def read_coco(path: str | Path, image_root: str | Path | None = None) -> DatasetIndex:
    """Reads a COCO .json (one split) or a folder with annotations/*.json (one split each)."""
    path = Path(path)
    files = [path] if path.is_file() else sorted((path / "annotations").glob("*.json"))
    root = path.parent.parent if path.is_file() else path
    names: list[str] | None = None
    cat_ids: list[int] = []
    splits: dict[str, list[Sample]] = {}
    findings: list[Finding] = []
    for f in files:
        split = split_name(f)
        if split in splits:
            raise DataError(f"{f}: a second file for split '{split}'; keep one JSON per split")
        n, c, samples, found = read_coco_file(f, Path(image_root) if image_root else None)
        if names is not None and (n, c) != (names, cat_ids):
            raise DataError(f"{f}: categories differ from {files[0]}; all splits must share the same categories")
        names, cat_ids = n, c
        splits[split] = samples
        findings.extend(found)
    if names is None:
        raise DataError(f"{path}: no COCO JSON files found (expected annotations/*.json)")
    return DatasetIndex(names, {s: splits[s] for s in SPLITS if s in splits}, root, "coco", cat_ids, findings)


def write_coco(index: DatasetIndex, out: Path, images: str = "copy") -> Path:
    """Writes annotations/<split>.json and images/<split>/ under `out`; returns `out`."""
    from yolo3.data.image_io import image_size

    (out / "annotations").mkdir(parents=True, exist_ok=True)
    categories = [{"id": c, "name": n, "supercategory": ""} for c, n in zip(index.category_ids, index.class_names)]
    ann_id = 1
    for split, samples in index.splits.items():
        imgs, anns = [], []
        for k, (sample, name) in enumerate(zip(samples, unique_names(samples)), 1):
            place_image(sample.image_path, out / "images" / split / name, images)
            h, w = sample.image_size if sample.image_size and min(sample.image_size) > 0 else image_size(
                sample.image_path)
            image_id = sample.image_id if isinstance(sample.image_id, int) else k
            imgs.append({"id": image_id, "file_name": name, "width": int(w), "height": int(h)})
            for box, cls, diff, trunc in zip(sample.boxes, sample.class_ids, sample.difficult, sample.truncated):
                x1, y1, x2, y2 = (float(v) for v in box)
                anns.append({"id": ann_id, "image_id": image_id, "category_id": index.category_ids[int(cls)],
                             "bbox": [x1, y1, x2 - x1, y2 - y1], "area": (x2 - x1) * (y2 - y1), "iscrowd": 0,
                             "difficult": int(diff), "truncated": int(trunc)})
                ann_id += 1
        doc = {"info": {"description": f"converted by yolo3 from {index.format}"}, "images": imgs,
               "annotations": anns, "categories": categories}
        (out / "annotations" / f"{split}.json").write_text(json.dumps(doc), encoding="utf-8")
    return out
