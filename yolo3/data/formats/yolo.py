"""YOLO txt labels + data.yaml.

data.yaml: `path` (root; relative to the yaml's folder; default that folder), `train`,
`val`, `test` (each a folder of images, a .txt list of image paths, or a list of
those, relative to the root; a list written on Windows, with backslashes, is read too;
an entry `../train/images` that does not exist while `train/images` under the root does
is read as that folder, as Roboflow's YOLO exports mean it), `names` (list, or {index:
name}), optional `nc`.
Labels: for `…/images/…/x.jpg` the file `…/labels/…/x.txt`; one line per box,
`class cx cy w h` normalised to [0, 1] by the image's width and height. A segmentation
polygon line `class x1 y1 x2 y2 x3 y3 …` (3 or more points, as Ultralytics segment
datasets write) is read as the bounding box of its points, as LabelMe and CVAT polygons
are, and counted in a `polygon_label` finding per file (the shape is not kept).

Hostile or careless data.yaml files are bounded: at most MAX_YAML_BYTES, no YAML
aliases (an alias bomb), a root and split folders inside the data.yaml's own folder
tree unless allow_outside_root (`path: /` would walk the whole disk), and `names` / `nc`
checked with messages that name the file.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import yaml

from yolo3.data.findings import DataError, Finding
from yolo3.data.formats import (IMAGE_SUFFIXES, SPLITS, DatasetIndex, check_unique_names, place_image,
                                unique_names)
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


MAX_YAML_BYTES = 1 << 20
"""A data.yaml above 1 MiB is refused (real ones are a few kB, even with 1000 class names)."""


class _NoAliasLoader(yaml.SafeLoader):
    """SafeLoader that refuses YAML aliases: a data.yaml never needs them, and nested
    aliases ("billion laughs") expand to billions of values when the result is walked."""

    def compose_node(self, parent, index):  # type: ignore[no-untyped-def]
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.YAMLError(f"YAML alias *{event.anchor} at line {event.start_mark.line + 1}: aliases are "
                                 "not allowed in a data.yaml (an alias bomb expands to billions of values); "
                                 "write the values out")
        return super().compose_node(parent, index)


def _read_yaml(path: Path) -> dict:
    """The data.yaml mapping; the file must be a regular file under MAX_YAML_BYTES, without aliases."""
    try:
        if not path.is_file():
            raise DataError(f"{path}: not a regular file; give the data.yaml file")
        with path.open("rb") as f:
            raw = f.read(MAX_YAML_BYTES + 1)
        if len(raw) > MAX_YAML_BYTES:
            raise DataError(f"{path}: data.yaml is over {MAX_YAML_BYTES >> 20} MiB; a data.yaml holds paths and "
                            "class names only (a few kB)")
        data = yaml.load(raw.decode("utf-8-sig"), Loader=_NoAliasLoader)  # noqa: S506 (a SafeLoader)
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as err:
        raise DataError(f"{path}: cannot read data.yaml ({err})") from err
    if not isinstance(data, dict):
        raise DataError(f"{path}: data.yaml must be a mapping with path/train/val/names")
    return data


def _class_names(data: dict, path: Path) -> list[str]:
    """The class names of a data.yaml (`names` list or {index: name}), checked against `nc`."""
    names = data.get("names")
    if names is None:
        raise DataError(f"{path}: missing 'names' (the list of class names)")
    if not isinstance(names, (list, dict)):
        raise DataError(f"{path}: 'names' must be a list of class names (or a mapping id: name), got {names!r}")
    if isinstance(names, dict):
        keys = [k for k in names if isinstance(k, int) and not isinstance(k, bool)]
        if len(keys) != len(names) or sorted(keys) != list(range(len(names))):
            raise DataError(f"{path}: 'names' keys must be the integers 0..{len(names) - 1}, got "
                            f"{list(names)[:10]!r}; write names as a list or as {{0: name, 1: name, ...}}")
        names = [names[k] for k in sorted(keys)]
    if not isinstance(names, list):
        raise DataError(f"{path}: 'names' must be a list of class names (or {{index: name}}), got {names!r:.60}")
    if not names:
        raise DataError(f"{path}: 'names' is empty; list at least one class name")
    bad = next((n for n in names if isinstance(n, (list, dict, bool)) or n is None), False)
    if bad is not False:
        raise DataError(f"{path}: every class name must be a plain string, got {bad!r:.60} in 'names'")
    names = [str(n) for n in names]
    check_unique_names(names, path, "'names'")
    if "nc" in data:
        nc = data["nc"]
        if isinstance(nc, bool) or not isinstance(nc, int):
            raise DataError(f"{path}: 'nc' must be an integer (the number of classes), got {nc!r:.60}")
        if nc != len(names):
            raise DataError(f"{path}: nc is {nc} but 'names' has {len(names)} entries; make them agree")
    return names


ALLOW_OUTSIDE_ENV = "YOLO3_ALLOW_OUTSIDE_ROOT"
"""Environment switch that lets every command read a data.yaml whose folders lie outside its own tree."""


def _inside(p: Path, folder: Path) -> bool:
    p = p.resolve()
    return p == folder or p.is_relative_to(folder)


def _outside_error(yaml_path: Path, what: str, p: Path) -> DataError:
    return DataError(f"{yaml_path}: {what} → {p.resolve()} is outside the data.yaml's folder "
                     f"{yaml_path.parent.resolve()}, and reading it could walk a whole disk; move data.yaml into "
                     f"the dataset folder, or if you mean it pass --allow-outside-root (check-data, convert), set "
                     f"{ALLOW_OUTSIDE_ENV}=1 (any command: train, val, demo, …) or allow_outside_root=True in Python")


MAX_LIST_BYTES = 64 << 20
"""Cap on a split's .txt image list (COCO train2017's 118k paths take 5 MB)."""


def _images_under(folder: Path, yaml_path: Path, allow_outside: bool) -> list[Path]:
    """Image files under `folder`, sorted, linked subfolders included (Path.rglob skips
    them); each real folder is walked once, so a link loop ends. A linked folder outside
    the data.yaml's folder tree needs allow_outside, as a split folder does."""
    tree = yaml_path.parent.resolve()
    found: list[Path] = []
    seen: set[Path] = set()
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=True):
        here = Path(dirpath)
        real = here.resolve()
        if real in seen:
            dirnames[:] = []
            continue
        seen.add(real)
        if not allow_outside and not _inside(real, tree):
            raise _outside_error(yaml_path, f"linked folder {here}", here)
        found += [here / f for f in filenames if Path(f).suffix.lower() in IMAGE_SUFFIXES]
    return sorted(found)


def _entry_path(entry: str, root: Path) -> Path:
    """A split entry's path: absolute, or under `root`; `../X` that does not exist while
    `root/X` does is `root/X` (Roboflow's YOLO exports write '../train/images')."""
    p = Path(entry)
    p = p if p.is_absolute() else root / p
    if not p.exists() and entry.startswith("../") and (root / entry[3:]).exists():
        return root / entry[3:]
    return p


def _list_images(entry: str | list, root: Path, yaml_path: Path, allow_outside: bool = True) -> list[Path]:
    """Image files named by a split entry (folder, .txt list, single image, or a list).

    A folder outside the data.yaml's own folder tree is refused unless allow_outside
    (a `train: /` would walk the whole filesystem)."""
    if isinstance(entry, list):
        return [p for e in entry for p in _list_images(e, root, yaml_path, allow_outside)]
    if not isinstance(entry, str):
        raise DataError(f"{yaml_path}: split entry {entry!r:.60} must be a path (folder, .txt list or image) "
                        "or a list of paths")
    p = _entry_path(entry, root)
    if p.is_dir():
        if not allow_outside and not _inside(p, yaml_path.parent.resolve()):
            raise _outside_error(yaml_path, f"split folder {entry!r}", p)
        return _images_under(p, yaml_path, allow_outside)
    if p.suffix.lower() == ".txt" and p.is_file():
        if p.stat().st_size > MAX_LIST_BYTES:
            raise DataError(f"{yaml_path}: image list {p} is over {MAX_LIST_BYTES >> 20} MiB; split it")
        lines = split_lines(p.read_text(encoding="utf-8-sig"))
        return [_listed_path(ln.strip(), root) for ln in lines if ln.strip()]
    if p.suffix.lower() in IMAGE_SUFFIXES:
        return [p]
    raise DataError(f"{yaml_path}: split entry {entry!r} → {p} is not a folder, a .txt list or an image")


def _listed_path(line: str, root: Path) -> Path:
    """One line of a .txt image list → the image path (relative lines under `root`). A line
    written on Windows (images\\train\\a.jpg) names no file on POSIX, where a backslash is
    part of a name: when the path as written does not exist, the one with '/' is taken
    if it does."""
    p = Path(line) if Path(line).is_absolute() else root / line
    if "\\" in line and os.sep == "/" and not p.exists():
        slashed = line.replace("\\", "/")
        alt = Path(slashed) if Path(slashed).is_absolute() else root / slashed
        if alt.exists():
            return alt
    return p


def _entry_folders(entry: str | list, root: Path) -> list[Path]:
    """The folders among a split entry's paths (see _list_images)."""
    if isinstance(entry, list):
        return [f for e in entry for f in _entry_folders(e, root)]
    p = _entry_path(entry, root) if isinstance(entry, str) else None
    return [p] if p is not None and p.is_dir() else []


def orphan_labels(folder: Path, images: list[Path]) -> list[Finding]:
    """Label files in the labels/ folder of an image folder that belong to none of its
    `images` (the image was deleted, or its suffix is not one of IMAGE_SUFFIXES): their
    boxes cannot be used, so each is reported. Labels beside the images are not judged
    (other .txt files live there), nor classes.txt (LabelImg writes it among the labels)."""
    labels = label_path(folder / "x.jpg").parent
    if labels == folder or not labels.is_dir():
        return []
    have = {label_path(p) for p in images}
    return [Finding("bad_annotation", t, "", f"no image for this label file (no {t.stem}.* with a suffix in "
                                             f"{', '.join(IMAGE_SUFFIXES)} in {folder}); its boxes are not used: "
                                             "add the image (or convert it to .jpg/.png) or delete the label file")
            for t in sorted(labels.rglob("*.txt")) if t not in have and t.name.lower() != "classes.txt"]


def polygon_cxcywh(points: list[float]) -> list[float]:
    """[x1, y1, x2, y2, …] (normalised) → [cx, cy, w, h] of the box around the points."""
    xs, ys = points[0::2], points[1::2]
    x1, y1, x2, y2 = min(xs), min(ys), max(xs), max(ys)
    return [(x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1]


def parse_label_file(path: Path, num_classes: int) -> tuple[np.ndarray, np.ndarray, list[int], list[Finding]]:
    """Parses one label file → (boxes (N, 4) normalised cxcywh, class ids (N,), line numbers, findings).

    A polygon line (an odd column count ≥ 7: class and 3+ points) becomes the box of its
    points; the file's polygon lines are counted in one `polygon_label` finding. Lines
    with another column count, non-numbers, NaN/inf, a non-integer or negative class,
    negative width/height, or a class id ≥ num_classes are left out with a Finding.
    Coordinates outside [0, 1] are kept (the check clips them and counts it).
    """
    rows, ids, lines, findings, polygons = [], [], [], [], []
    text = path.read_text(encoding="utf-8-sig", errors="replace")  # BOM and CRLF tolerated
    for n, line in enumerate(split_lines(text), 1):  # numbered as editors do (not str.splitlines)
        fields = line.split()
        if not fields:
            continue
        bad = ""
        if len(fields) != 5 and (len(fields) < 7 or len(fields) % 2 == 0):
            bad = (f"expected 5 columns 'class cx cy w h' (or a polygon 'class x1 y1 x2 y2 x3 y3 …': an odd "
                   f"count of 7 or more), got {len(fields)}")
        else:
            try:
                values = [float(f) for f in fields]
            except ValueError:
                values, bad = [], f"not numbers: {line.strip()!r}"
            if values and not all(math.isfinite(v) for v in values):
                bad = f"NaN or inf in {line.strip()!r}"
            elif values and (values[0] != int(values[0]) or values[0] < 0):
                bad = f"class must be a non-negative integer, got {fields[0]}"
            elif values and len(values) == 5 and (values[3] < 0 or values[4] < 0):
                bad = f"negative width or height in {line.strip()!r}"
        if bad:
            findings.append(Finding("bad_label", path, f"line {n}", bad))
            continue
        if int(values[0]) >= num_classes:
            findings.append(Finding("unknown_class", path, f"line {n}",
                                    f"class id {int(values[0])} but data.yaml names only {num_classes} classes"))
            continue
        if len(values) > 5:
            polygons.append(n)
        ids.append(int(values[0]))
        rows.append(values[1:] if len(values) == 5 else polygon_cxcywh(values[1:]))
        lines.append(n)
    if polygons:
        findings.append(Finding("polygon_label", path, f"line {polygons[0]}",
                                f"{len(polygons)} segmentation polygon line(s) ('class x1 y1 x2 y2 x3 y3 …'), the "
                                "first here: each read as the bounding box of its points (the shape is not kept)",
                                count=len(polygons)))
    return np.array(rows, np.float64).reshape(-1, 4), np.array(ids, np.int64), lines, findings


def read_yolo(yaml_path: str | Path, allow_outside_root: bool = False) -> DatasetIndex:
    """Reads a YOLO dataset described by a data.yaml.

    The root (`path`) and every split folder must lie inside the data.yaml's own folder
    tree unless allow_outside_root: a hostile or careless `path: /` must not make
    check-data walk the whole filesystem. Setting YOLO3_ALLOW_OUTSIDE_ROOT=1 allows it
    for commands without the flag (train, val, demo, show-batch, anchors).
    """
    allow_outside_root = allow_outside_root or os.environ.get(ALLOW_OUTSIDE_ENV) == "1"
    yaml_path = Path(yaml_path)
    data = _read_yaml(yaml_path)
    names = _class_names(data, yaml_path)
    if not isinstance(data.get("path") or ".", str):
        raise DataError(f"{yaml_path}: 'path' must be a folder path, got {data['path']!r:.60}")
    root = Path(data.get("path") or ".")
    root = root if root.is_absolute() else (yaml_path.parent / root)
    if not allow_outside_root and not _inside(root, yaml_path.parent.resolve()):
        raise _outside_error(yaml_path, f"path {data['path']!r}", root)
    splits: dict[str, list[Sample]] = {}
    findings: list[Finding] = []
    judged: set[Path] = set()
    for split in SPLITS:
        if not data.get(split):
            continue
        samples = []
        listed = _list_images(data[split], root, yaml_path, allow_outside_root)
        for folder in _entry_folders(data[split], root):
            if folder not in judged:  # train and val may name the same folder
                judged.add(folder)
                findings.extend(orphan_labels(folder, [p for p in listed if p.is_relative_to(folder)]))
        for image in listed:
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
            with np.errstate(over="ignore", invalid="ignore"):  # check_dataset reports non-finite boxes
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

    Boxes are normalised by each image file's size (the annotation's stated size only
    when the file cannot be read). YOLO labels have no field for VOC difficult/truncated:
    they are not written.
    """
    out.mkdir(parents=True, exist_ok=True)
    data: dict = {"path": ".", "names": list(index.class_names), "nc": len(index.class_names)}
    for split, samples in index.splits.items():
        for sample, name in zip(samples, unique_names(samples)):
            dst = out / "images" / split / name
            place_image(sample.image_path, dst, images)
            try:  # the file's size, as read_yolo and the data check use it (a stated size may be wrong)
                h, w = image_size(sample.image_path)
            except ImageReadError:
                if not (sample.image_size and min(sample.image_size) > 0):
                    raise
                h, w = sample.image_size
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
