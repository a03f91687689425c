"""YOLO txt labels + data.yaml.

data.yaml: `path` (root; relative to the yaml's folder; default that folder), `train`,
`val`, `test` (each a folder of images, a .txt list of image paths, or a list of
those, relative to the root), `names` (list, or {index: name}), optional `nc`.
Labels: for `…/images/…/x.jpg` the file `…/labels/…/x.txt`; one line per box,
`class cx cy w h` normalised to [0, 1] by the image's width and height.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import yaml

from yolo3.data.findings import DataError, Finding
from yolo3.data.formats import IMAGE_SUFFIXES, SPLITS, DatasetIndex, place_image, unique_names
from yolo3.data.image_io import ImageReadError, image_size
from yolo3.data.sample import Sample
from yolo3.io.text import split_lines


def label_path(image: Path) -> Path:
    """The label file of an image: last `images` folder → `labels`, suffix → .txt."""
    parts = list(image.parts)
    for i in range(len(parts) - 2, -1, -1):
        if parts[i] == "images":
            parts[i] = "labels"
            return Path(*parts).with_suffix(".txt")
    return image.with_suffix(".txt")


def _read_yaml(path: Path) -> dict:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8-sig"))
    except (OSError, yaml.YAMLError) as err:
        raise DataError(f"{path}: cannot read data.yaml ({err})") from err
    if not isinstance(data, dict):
        raise DataError(f"{path}: data.yaml must be a mapping with path/train/val/names")
    return data


def _class_names(data: dict, path: Path) -> list[str]:
    names = data.get("names")
    if names is None:
        raise DataError(f"{path}: missing 'names' (the list of class names)")
    if not isinstance(names, (list, dict)):
        raise DataError(f"{path}: 'names' must be a list of class names (or a mapping id: name), got {names!r}")
    if isinstance(names, dict):
        if sorted(int(k) for k in names) != list(range(len(names))):
            raise DataError(f"{path}: 'names' keys must be 0..{len(names) - 1}")
        names = [names[k] for k in sorted(names, key=int)]
    names = [str(n) for n in names]
    if "nc" in data and int(data["nc"]) != len(names):
        raise DataError(f"{path}: nc is {data['nc']} but 'names' has {len(names)} entries; make them agree")
    return names


def _list_images(entry: str | list, root: Path, yaml_path: Path) -> list[Path]:
    """Image files named by a split entry (folder, .txt list, single image, or a list)."""
    if isinstance(entry, list):
        return [p for e in entry for p in _list_images(e, root, yaml_path)]
    p = Path(entry)
    p = p if p.is_absolute() else root / p
    if p.is_dir():
        return sorted(f for f in p.rglob("*") if f.suffix.lower() in IMAGE_SUFFIXES)
    if p.suffix.lower() == ".txt" and p.is_file():
        lines = split_lines(p.read_text(encoding="utf-8-sig"))
        return [(Path(ln.strip()) if Path(ln.strip()).is_absolute() else root / ln.strip()) for ln in lines if ln.strip()]
    if p.suffix.lower() in IMAGE_SUFFIXES:
        return [p]
    raise DataError(f"{yaml_path}: split entry {entry!r} → {p} is not a folder, a .txt list or an image")



def parse_label_file(path: Path, num_classes: int) -> tuple[np.ndarray, np.ndarray, list[int], list[Finding]]:
    """Parses one label file → (boxes (N, 4) normalised cxcywh, class ids (N,), line numbers, findings).

    Lines with a wrong column count, non-numbers, NaN/inf, a non-integer or negative
    class, negative width/height, or a class id ≥ num_classes are left out with a Finding.
    Coordinates outside [0, 1] are kept (the check clips them and counts it).
    """
    rows, ids, lines, findings = [], [], [], []
    text = path.read_text(encoding="utf-8-sig", errors="replace")  # BOM and CRLF tolerated
    for n, line in enumerate(split_lines(text), 1):  # numbered as editors do (not str.splitlines)
        fields = line.split()
        if not fields:
            continue
        bad = ""
        if len(fields) != 5:
            bad = f"expected 5 columns 'class cx cy w h', got {len(fields)}"
        else:
            try:
                values = [float(f) for f in fields]
            except ValueError:
                values, bad = [], f"not numbers: {line.strip()!r}"
            if values and not all(math.isfinite(v) for v in values):
                bad = f"NaN or inf in {line.strip()!r}"
            elif values and (values[0] != int(values[0]) or values[0] < 0):
                bad = f"class must be a non-negative integer, got {fields[0]}"
            elif values and (values[3] < 0 or values[4] < 0):
                bad = f"negative width or height in {line.strip()!r}"
        if bad:
            findings.append(Finding("bad_label", path, f"line {n}", bad))
            continue
        if int(values[0]) >= num_classes:
            findings.append(Finding("unknown_class", path, f"line {n}",
                                    f"class id {int(values[0])} but data.yaml names only {num_classes} classes"))
            continue
        ids.append(int(values[0]))
        rows.append(values[1:])
        lines.append(n)
    return np.array(rows, np.float64).reshape(-1, 4), np.array(ids, np.int64), lines, findings


def read_yolo(yaml_path: str | Path) -> DatasetIndex:
    """Reads a YOLO dataset described by a data.yaml."""
    yaml_path = Path(yaml_path)
    data = _read_yaml(yaml_path)
    names = _class_names(data, yaml_path)
    root = Path(data.get("path") or ".")
    root = root if root.is_absolute() else (yaml_path.parent / root)
    splits: dict[str, list[Sample]] = {}
    findings: list[Finding] = []
    for split in SPLITS:
        if not data.get(split):
            continue
        samples = []
        for image in _list_images(data[split], root, yaml_path):
            labels = label_path(image)
            if not labels.is_file():
                findings.append(Finding("missing_label_file", labels, "", f"no label file for {image.name}"))
                samples.append(Sample(image, np.zeros((0, 4)), np.zeros(0), annotation_path=labels))
                continue
            cxcywh, ids, lines, found = parse_label_file(labels, len(names))
            findings.extend(found)
            try:
                h, w = image_size(image)
            except ImageReadError:
                h = w = 0  # the check reports the image as unreadable
            boxes = np.stack([(cxcywh[:, 0] - cxcywh[:, 2] / 2) * w, (cxcywh[:, 1] - cxcywh[:, 3] / 2) * h,
                              (cxcywh[:, 0] + cxcywh[:, 2] / 2) * w, (cxcywh[:, 1] + cxcywh[:, 3] / 2) * h], 1)
            samples.append(Sample(image, boxes, ids, image_size=(h, w) if h else None, annotation_path=labels,
                                  positions=[f"line {n}" for n in lines]))
        splits[split] = samples
    return DatasetIndex(names, splits, root, "yolo", findings=findings)


def _fmt(v: float) -> str:
    return repr(float(v))  # shortest text that reads back to the same float


def write_yolo(index: DatasetIndex, out: Path, images: str = "copy") -> Path:
    """Writes images/<split>/, labels/<split>/ and data.yaml under `out`; returns data.yaml.

    YOLO labels have no field for VOC difficult/truncated: they are not written.
    """
    out.mkdir(parents=True, exist_ok=True)
    data: dict = {"path": ".", "names": list(index.class_names), "nc": len(index.class_names)}
    for split, samples in index.splits.items():
        for sample, name in zip(samples, unique_names(samples)):
            dst = out / "images" / split / name
            place_image(sample.image_path, dst, images)
            if sample.image_size and min(sample.image_size) > 0:
                h, w = sample.image_size
            else:
                h, w = image_size(sample.image_path)
            b = sample.boxes
            cx, cy, bw, bh = (b[:, 0] + b[:, 2]) / 2 / w, (b[:, 1] + b[:, 3]) / 2 / h, (b[:, 2] - b[:, 0]) / w, (
                b[:, 3] - b[:, 1]) / h
            lines = [f"{c} {_fmt(x)} {_fmt(y)} {_fmt(ww)} {_fmt(hh)}"
                     for c, x, y, ww, hh in zip(sample.class_ids, cx, cy, bw, bh)]
            lbl = label_path(dst)
            lbl.parent.mkdir(parents=True, exist_ok=True)
            lbl.write_text("".join(ln + "\n" for ln in lines), encoding="utf-8")
        data[split] = f"images/{split}"
    path = out / "data.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path
