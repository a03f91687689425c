"""LabelMe JSON: one file per image ({"shapes": [...], "imagePath", "imageHeight", "imageWidth"}).

The files lie beside their images or in an annotation folder (layouts.py). Each shape
becomes one box: a rectangle is read exactly; a polygon, line, linestrip, mask or rotated
rectangle ('rotation', as X-AnyLabeling writes it: its 4 corners) becomes the bounding box
of its points and a circle (centre, point on the rim) the box around it; this is the
documented loss of the conversion (shapes are not kept, only their boxes).
A point has no extent and is left out with a `bad_label` finding, as is an unknown
shape type. Labels are stripped of surrounding spaces (as VOC names are: 'dog ' is 'dog').
Shape flags `difficult` / `truncated` are kept (the writer writes them).
The writer writes rectangles: read → write → read gives back the same boxes.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from yolo3.data.findings import Finding
from yolo3.data.formats import SPLITS, DatasetIndex, case_variant, place_image, unique_names
from yolo3.data.formats.layouts import find_per_image_layout
from yolo3.data.sample import Sample
from yolo3.io.text import split_lines

LABELME_VERSION = "5.4.1"
"""The LabelMe file version the writer states."""
_BOX_OF_POINTS = ("rectangle", "rotation", "polygon", "line", "linestrip", "mask")


def shape_box(shape: Any) -> tuple[list[float] | None, str]:
    """(xyxy box, "") of one LabelMe shape, or (None, why it has none)."""
    if not isinstance(shape, dict):
        return None, f"a shape must be an object, got {type(shape).__name__}"
    kind = shape.get("shape_type") or "polygon"  # LabelMe < 4 wrote no shape_type: polygons
    try:
        pts = np.array(shape.get("points"), dtype=np.float64).reshape(-1, 2)
    except (TypeError, ValueError):
        return None, f"points must be [[x, y], ...], got {shape.get('points')!r}"
    if not np.isfinite(pts).all():
        return None, "NaN or inf in points"
    if kind in _BOX_OF_POINTS and len(pts) >= 2:
        return [pts[:, 0].min(), pts[:, 1].min(), pts[:, 0].max(), pts[:, 1].max()], ""
    if kind == "circle" and len(pts) == 2:
        r = math.dist(pts[0], pts[1])
        return [pts[0, 0] - r, pts[0, 1] - r, pts[0, 0] + r, pts[0, 1] + r], ""
    if kind in ("point", "points"):
        return None, "a point has no box; left out"
    return None, f"shape_type {kind!r} with {len(pts)} point(s) gives no box"


def _image_of(path: Path, doc: dict, image: Path | None, image_dir: Path) -> Path:
    if image is not None:
        return image
    stated = str(doc.get("imagePath") or "").replace("\\", "/")
    if stated and case_variant(path.parent / stated).exists():
        return case_variant(path.parent / stated)
    return case_variant(image_dir / (Path(stated).name if stated else f"{path.stem}.jpg"))  # missing: reported


def parse_labelme(path: Path, names: dict[str, int] | None, image: Path | None = None,
                  image_dir: Path | None = None) -> tuple[Sample | None, list[Finding], list[str]]:
    """Parses one LabelMe JSON → (sample or None when unusable, findings, labels seen).

    names maps label → class index; None collects labels only. The image is `image`
    when given, else the file's imagePath (relative to the JSON), else its name in image_dir.
    """
    try:
        doc = json.loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        return None, [Finding("bad_annotation", path, "", f"cannot parse JSON ({type(err).__name__}: {err})")], []
    if not isinstance(doc, dict) or not isinstance(doc.get("shapes"), list):
        return None, [Finding("bad_annotation", path, "", "not a LabelMe file: needs a 'shapes' list")], []
    shapes = doc["shapes"]
    seen = [str(s.get("label", "")).strip() if isinstance(s, dict) else "" for s in shapes]  # 'dog ' is 'dog'
    if names is None:
        return None, [], seen
    findings: list[Finding] = []
    boxes, ids, difficult, truncated, positions = [], [], [], [], []
    for k, (shape, label) in enumerate(zip(shapes, seen)):
        pos = f"shapes[{k}]"
        if label not in names:
            findings.append(Finding("unknown_class", path, pos, f"label {label!r} is not among {sorted(names)}"))
            continue
        box, why = shape_box(shape)
        if box is None:
            findings.append(Finding("bad_label", path, pos, why))
            continue
        flags = shape.get("flags") if isinstance(shape.get("flags"), dict) else {}
        boxes.append(box)
        ids.append(names[label])
        difficult.append(bool(flags.get("difficult", False)))
        truncated.append(bool(flags.get("truncated", False)))
        positions.append(pos)
    try:
        size = (int(doc["imageHeight"]), int(doc["imageWidth"]))
    except (KeyError, TypeError, ValueError, OverflowError):
        size = None
    sample = Sample(_image_of(path, doc, image, image_dir or path.parent), np.array(boxes).reshape(-1, 4), ids,
                    image_size=size, difficult=difficult, truncated=truncated, annotation_path=path,
                    positions=positions)
    return sample, findings, seen


def is_labelme_file(path: Path) -> bool:
    """Whether a .json file is a LabelMe annotation (an object with a 'shapes' list)."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return False
    return isinstance(doc, dict) and isinstance(doc.get("shapes"), list)


def read_labelme(root: str | Path, class_names: list[str] | None = None) -> DatasetIndex:
    """Reads a folder of LabelMe files (layouts.py). Class order: class_names, else
    classes.txt in the root, else the sorted labels found."""
    from yolo3.data.findings import DataError

    root = Path(root)
    layout = find_per_image_layout(root, ".json")
    if layout is None:
        raise DataError(f"{root}: no LabelMe .json files beside images or in annots/ / annotations/")
    if class_names is None and (root / "classes.txt").is_file():
        lines = split_lines((root / "classes.txt").read_text(encoding="utf-8-sig"))
        class_names = [ln.strip() for ln in lines if ln.strip()]
    if class_names is None:
        found: set[str] = set()
        for pairs in layout.splits.values():
            for ann, _, _ in pairs:
                if ann.is_file():
                    found.update(parse_labelme(ann, None)[2])
        class_names = sorted(n for n in found if n)
    names = {n: i for i, n in enumerate(class_names)}
    splits: dict[str, list[Sample]] = {}
    findings: list[Finding] = []
    for split, pairs in layout.splits.items():
        samples = []
        for ann, image, image_dir in pairs:
            if not ann.is_file():
                findings.append(Finding("missing_label_file", ann, "", f"no annotation for {image}; "
                                        "read as an image without objects"))
                samples.append(Sample(image, np.zeros((0, 4)), [], annotation_path=ann))
                continue
            sample, found_here, _ = parse_labelme(ann, names, image, image_dir)
            findings.extend(found_here)
            if sample is not None:
                samples.append(sample)
        splits[split] = samples
    return DatasetIndex(list(class_names), splits, root, "labelme", findings=findings)


def labelme_doc(sample: Sample, image_name: str, class_names: list[str], size: tuple[int, int]) -> dict:
    """The LabelMe JSON object of one sample: one rectangle per box, imageData null."""
    shapes = []
    for box, cls, diff, trunc in zip(sample.boxes, sample.class_ids, sample.difficult, sample.truncated):
        flags = {k: True for k, v in (("difficult", diff), ("truncated", trunc)) if v}
        shapes.append({"label": class_names[int(cls)], "points": [[float(box[0]), float(box[1])],
                                                                   [float(box[2]), float(box[3])]],
                       "group_id": None, "description": "", "shape_type": "rectangle", "flags": flags})
    return {"version": LABELME_VERSION, "flags": {}, "shapes": shapes, "imagePath": image_name, "imageData": None,
            "imageHeight": int(size[0]), "imageWidth": int(size[1])}


def write_labelme(index: DatasetIndex, out: Path, images: str = "copy") -> Path:
    """Writes images/<split>/<name> with <stem>.json beside each, and classes.txt; returns `out`."""
    from yolo3.data.image_io import image_size

    for split in [s for s in SPLITS if s in index.splits] + [s for s in index.splits if s not in SPLITS]:
        folder = out / "images" / split
        folder.mkdir(parents=True, exist_ok=True)
        samples = index.splits[split]
        for sample, name in zip(samples, unique_names(samples)):
            place_image(sample.image_path, folder / name, images)
            size = sample.image_size if sample.image_size and min(sample.image_size) > 0 else image_size(
                sample.image_path)
            doc = labelme_doc(sample, name, index.class_names, size)
            (folder / f"{Path(name).stem}.json").write_text(json.dumps(doc, indent=2), encoding="utf-8")
    (out / "classes.txt").write_text("".join(n + "\n" for n in index.class_names), encoding="utf-8")
    return out
