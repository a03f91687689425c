"""COCO detection JSON (images, annotations with bbox [x, y, w, h], categories).

A .json file is one split, named from its file name ('train', 'val' or 'test' in the
stem; else 'train'); a folder with annotations/*.json gives one split per file (only the
instances_*.json files when there are any: COCO's download also holds captions and
keypoints files; images then lie in train2017/ etc. beside annotations/). A folder whose
split folders (train/, valid/, test/, …) each hold `_annotations.coco.json` beside their
images, as Roboflow exports COCO, gives one split per folder; such an export's first
category is the project's name, the supercategory of every other one and never used by
an annotation: that placeholder is not a class (a category used by any box always is).
Category ids may be non-contiguous: class index i ↔ categories sorted by id, kept in
DatasetIndex.category_ids. `iscrowd` regions become crowd=True and difficult=True
(evaluated as pycocotools does, ignored by the VOC metrics, not training targets), and
each annotation's `area` is kept (COCO's size ranges use it). Extra keys `difficult` /
`truncated` written by this module keep VOC flags through a conversion. Ids written as whole-number floats (1.0, as
some tools write them) are read as the integers they are, in 'images', 'categories' and
the annotations alike; any other float id is an error.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from yolo3.data.findings import DataError, Finding
from yolo3.data.formats import SPLITS, DatasetIndex, case_variant, check_unique_names, place_image, unique_names
from yolo3.data.formats.layouts import SPLIT_FOLDERS
from yolo3.data.sample import Sample


SPLIT_FOLDER_FILE = "_annotations.coco.json"
"""The JSON in each split folder of a Roboflow COCO export (train/, valid/, test/)."""


def split_folder_files(folder: Path) -> list[Path]:
    """`<split folder>/_annotations.coco.json` files under `folder` (Roboflow's layout)."""
    return sorted(d / SPLIT_FOLDER_FILE for d in folder.iterdir() if d.name.lower() in SPLIT_FOLDERS
                  and (d / SPLIT_FOLDER_FILE).is_file()) if folder.is_dir() else []


def split_name(path: Path) -> str:
    """'train' | 'val' | 'test' of a JSON file: its split folder's (train/, valid/, …) for
    `_annotations.coco.json`, else guessed from the stem (default 'train')."""
    if path.name == SPLIT_FOLDER_FILE and path.parent.name.lower() in SPLIT_FOLDERS:
        return SPLIT_FOLDERS[path.parent.name.lower()]
    stem = path.stem.lower()
    for split in ("test", "val", "train"):
        if split in stem:
            return split
    return "train"


def _placeholder_category(categories: list[Any], annotations: list[Any]) -> Any:
    """The id of a Roboflow export's placeholder category (no annotation uses it, and it is
    the supercategory of every other category), else None."""
    used = {a.get("category_id") for a in annotations
            if isinstance(a, dict) and isinstance(a.get("category_id"), (int, float, str))}
    for cat in categories:
        others = [c for c in categories if c is not cat]
        if (others and cat.get("id") not in used
                and all(isinstance(c, dict) and c.get("supercategory") == cat.get("name") for c in others)):
            return cat.get("id")
    return None


def _get(obj: dict, key: str, where: str, path: Path) -> Any:
    if not isinstance(obj, dict) or key not in obj:
        raise DataError(f"{path}: missing key '{where}.{key}'; every COCO {where.split('[')[0]} entry needs it")
    return obj[key]


def _typed(value: Any, kinds: tuple[type, ...], what: str, path: Path) -> Any:
    """`value` when it is one of `kinds` (bool excluded), else DataError naming `what`."""
    if isinstance(value, bool) or not isinstance(value, kinds):
        names = " or ".join(k.__name__ for k in kinds)
        raise DataError(f"{path}: '{what}' must be {names}, got {value!r}")
    return value


def whole_ids(obj: Any, keys: tuple[str, ...]) -> None:
    """Replaces, in the dict `obj`, each of `keys` that is a whole-number float (1.0) by its
    int, so an id written as 1.0 on one side matches 1 on the other; anything else stays
    as it is (a non-dict, 1.5, nan: the usual checks report them)."""
    if isinstance(obj, dict):
        for key in keys:
            value = obj.get(key)
            if isinstance(value, float) and value.is_integer():
                obj[key] = int(value)


def _image_root(json_path: Path, first_file: str | None) -> Path:
    base = json_path.parent
    split_dir = json_path.stem.rsplit("_", 1)[-1]  # instances_train2017.json → train2017/ (COCO's own layout)
    candidates = [base.parent / "images" / json_path.stem, base.parent / "images" / split_dir, base.parent / "images",
                  base.parent / json_path.stem, base.parent / split_dir, base / "images", base, base.parent]
    for c in candidates:
        if first_file is not None and case_variant(c / first_file).exists():
            return c
    return next((c for c in candidates if c.is_dir() and c != base), base)


def _annotation_problem(ann: Any, known_images: set, cat_to_index: dict[int, int]) -> str:
    """Why one annotation cannot be used ("" when it can)."""
    if not isinstance(ann, dict):
        return f"an annotation must be an object, got {type(ann).__name__}"
    missing = [k for k in ("image_id", "category_id", "bbox") if k not in ann]
    if missing:
        return f"missing key(s) {missing}; annotation left out"
    image_id, cid = ann["image_id"], ann["category_id"]
    if isinstance(image_id, bool) or not isinstance(image_id, (int, str)) or image_id not in known_images:
        return f"image_id {image_id!r} is not in 'images'; annotation left out"
    if isinstance(cid, bool) or not isinstance(cid, int):
        return f"category_id must be an integer, got {cid!r}"
    return ""


def _unique_images(images: list[dict], path: Path, findings: list[Finding]) -> tuple[list[dict], set, dict]:
    """Resolves repeated ids and file names in 'images' → (entries kept, ids left out as
    ambiguous, {id: id its boxes merge into}), with a Finding at each JSON path.

    An id shared by different files cannot say whose annotations are whose: every
    entry with it (and its annotations) is left out (duplicate_id). An entry that repeats
    another exactly (same id, file and size) is only dropped. Two ids naming one file
    are one image: the later id's boxes are merged into the first (duplicate_file_name)."""
    first_of_id: dict[Any, int] = {}
    for j, img in enumerate(images):
        first_of_id.setdefault(img["id"], j)
    ambiguous = set()
    kept = []
    for j, img in enumerate(images):
        k = first_of_id[img["id"]]
        if k == j:
            continue
        same = all(img.get(key) == images[k].get(key) for key in ("file_name", "height", "width"))
        if same:
            findings.append(Finding("duplicate_id", path, f"images[{j}].id", f"repeats images[{k}] (id "
                                    f"{img['id']!r}, {img['file_name']}); the repeat is left out"))
        else:
            ambiguous.add(img["id"])
            findings.append(Finding("duplicate_id", path, f"images[{j}].id", f"id {img['id']!r} is also "
                                    f"images[{k}].id, but for {img['file_name']} instead of {images[k]['file_name']}; "
                                    "nothing says whose annotations are whose: both images left out; give each a "
                                    "unique id"))
    first_of_file: dict[str, int] = {}
    merged_into = {}
    for j, img in enumerate(images):
        if img["id"] in ambiguous or first_of_id[img["id"]] != j:
            continue
        k = first_of_file.setdefault(img["file_name"], j)
        if k != j:
            merged_into[img["id"]] = images[k]["id"]
            findings.append(Finding("duplicate_file_name", path, f"images[{j}].file_name",
                                    f"{img['file_name']!r} is also images[{k}].file_name (id {images[k]['id']!r}); "
                                    f"one image: the annotations of id {img['id']!r} are merged into id "
                                    f"{images[k]['id']!r}"))
            continue
        kept.append(img)
    return kept, ambiguous, merged_into


def _finite(value: int | float) -> bool:
    """math.isfinite that says False, instead of raising, for ints too large for a float."""
    try:
        return math.isfinite(value)
    except OverflowError:
        return False


def read_coco_file(path: Path, image_root: Path | None = None) -> tuple[list[str], list[int], list[Sample], list[Finding]]:
    """Reads one COCO JSON → (class names, category ids, samples, findings).

    A broken file structure (top-level lists, categories, an image without id or
    file_name) raises DataError naming the JSON path; a broken annotation is left out
    with a Finding (bad_label / unknown_class), like a bad line of a YOLO label file.
    """
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise DataError(f"{path}: not valid JSON ({err})") from err
    except RecursionError as err:  # nesting deeper than Python's stack: no COCO file looks like that
        raise DataError(f"{path}: JSON nested too deeply to read; not a COCO detection file") from err
    for key in ("images", "annotations", "categories"):
        if not isinstance(data, dict) or not isinstance(data.get(key), list):
            raise DataError(f"{path}: missing key '{key}' (a list); a COCO detection file has images, "
                            "annotations and categories")
    for key, ids in (("categories", ("id",)), ("images", ("id",)), ("annotations", ("image_id", "category_id"))):
        for obj in data[key]:
            whole_ids(obj, ids)
    cats = sorted((_typed(_get(c, "id", f"categories[{i}]", path), (int,), f"categories[{i}].id", path),
                   str(_get(c, "name", f"categories[{i}]", path))) for i, c in enumerate(data["categories"]))
    if len({c for c, _ in cats}) != len(cats):
        raise DataError(f"{path}: category ids repeat in 'categories'; each id must be unique")
    placeholder = _placeholder_category(data["categories"], data["annotations"])
    cats = [(c, n) for c, n in cats if c != placeholder]
    check_unique_names([n for _, n in cats], path, "'categories' (sorted by id)")
    cat_to_index = {cid: i for i, (cid, _) in enumerate(cats)}
    images = data["images"]
    for j, img in enumerate(images):
        _typed(_get(img, "id", f"images[{j}]", path), (int, str), f"images[{j}].id", path)
        _typed(_get(img, "file_name", f"images[{j}]", path), (str,), f"images[{j}].file_name", path)
        for key in ("height", "width"):
            value = img.get(key)
            if value is not None and not _finite(_typed(value, (int, float), f"images[{j}].{key}", path)):
                raise DataError(f"{path}: 'images[{j}].{key}' must be a finite number, got "
                                f"{value if isinstance(value, float) else f'an integer of {len(str(value))} digits'}")
    root = image_root or _image_root(path, images[0]["file_name"] if images else None)
    findings: list[Finding] = []
    images, ambiguous, merged_into = _unique_images(images, path, findings)
    known = {img["id"] for img in images} | ambiguous | set(merged_into)
    by_image: dict[Any, list[tuple[int, dict]]] = {}
    for i, ann in enumerate(data["annotations"]):
        problem = _annotation_problem(ann, known, cat_to_index)
        if problem:
            findings.append(Finding("bad_label", path, f"annotations[{i}]", problem))
            continue
        if ann["image_id"] in ambiguous:
            findings.append(Finding("duplicate_id", path, f"annotations[{i}]", f"image_id {ann['image_id']!r} "
                                    "names several images; annotation left out with them"))
            continue
        by_image.setdefault(merged_into.get(ann["image_id"], ann["image_id"]), []).append((i, ann))
    samples = []
    for img in images:
        image_id, file_name = img["id"], img["file_name"]
        h, w = int(img.get("height") or 0), int(img.get("width") or 0)
        boxes, ids, difficult, truncated, crowd, areas, positions = [], [], [], [], [], [], []
        for i, ann in by_image.pop(image_id, []):
            pos = f"annotations[{i}] (id {ann.get('id', '?')}, {file_name})"
            cid, bbox = ann["category_id"], ann["bbox"]
            if cid not in cat_to_index:
                findings.append(Finding("unknown_class", path, pos, f"category_id {cid} is not in 'categories'"))
                continue
            try:
                if not isinstance(bbox, list) or len(bbox) != 4 or any(isinstance(v, (bool, str)) for v in bbox):
                    raise TypeError
                x, y, bw, bh = (float(v) for v in bbox)
            except (TypeError, ValueError, OverflowError):
                findings.append(Finding("bad_label", path, pos, f"bbox must be 4 numbers [x, y, w, h], got {bbox!r}"))
                continue
            if not np.isfinite([x, y, bw, bh, x + bw, y + bh]).all():
                findings.append(Finding("bad_label", path, pos, f"NaN or inf in bbox {bbox!r}"))
                continue
            boxes.append([x, y, x + bw, y + bh])
            ids.append(cat_to_index[cid])
            crowd.append(bool(ann.get("iscrowd", 0)))
            area = ann.get("area")  # the segmentation's: COCO's size ranges use it
            areas.append(float(area) if isinstance(area, (int, float)) and not isinstance(area, bool)
                         and math.isfinite(area) and area > 0 else bw * bh)
            difficult.append(crowd[-1] or bool(ann.get("difficult", 0)))
            truncated.append(bool(ann.get("truncated", 0)))
            positions.append(pos)
        sample = Sample(case_variant(root / file_name), np.array(boxes).reshape(-1, 4), ids, image_id=image_id,
                        image_size=(h, w) if "height" in img and "width" in img else None,
                        difficult=difficult, truncated=truncated, crowd=crowd, areas=areas, annotation_path=path,
                        positions=positions)
        samples.append(sample)
    return [n for _, n in cats], [c for c, _ in cats], samples, findings


def read_coco(path: str | Path, image_root: str | Path | None = None) -> DatasetIndex:
    """Reads a COCO .json (one split), a folder with annotations/*.json (one split each) or
    with split folders holding `_annotations.coco.json` (one split each)."""
    path = Path(path)
    files = [path] if path.is_file() else (sorted((path / "annotations").glob("*.json")) or split_folder_files(path))
    # COCO's download also holds captions_* and person_keypoints_* files: the detection ones are instances_*
    files = [f for f in files if f.name.startswith("instances_")] or files
    # root: the folder holding annotations/ (COCO's layout), else the JSON's own folder
    root = (path.parent.parent if path.parent.name == "annotations" else path.parent) if path.is_file() else path
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
        raise DataError(f"{path}: no COCO JSON files found (expected annotations/*.json, or "
                        f"train/{SPLIT_FOLDER_FILE} and the like)")
    return DatasetIndex(names, {s: splits[s] for s in SPLITS if s in splits}, root, "coco", cat_ids, findings)


def _image_ids(samples: list[Sample]) -> list[int]:
    """COCO image ids for one split: each sample's integer id, kept; a string (or repeated)
    id gets the lowest integer no other image of the split has."""
    ints = [s.image_id if isinstance(s.image_id, int) and not isinstance(s.image_id, bool) else None
            for s in samples]
    taken = {i for i in ints if i is not None}
    seen: set[int] = set()
    free = 1
    out = []
    for i in ints:
        if i is None or i in seen:
            while free in taken:
                free += 1
            i = free
            taken.add(i)
        seen.add(i)
        out.append(i)
    return out


def write_coco(index: DatasetIndex, out: Path, images: str = "copy") -> Path:
    """Writes annotations/<split>.json and images/<split>/ under `out`; returns `out`."""
    from yolo3.data.image_io import image_size

    (out / "annotations").mkdir(parents=True, exist_ok=True)
    categories = [{"id": c, "name": n, "supercategory": ""} for c, n in zip(index.category_ids, index.class_names)]
    ann_id = 1
    for split, samples in index.splits.items():
        imgs, anns = [], []
        for sample, name, image_id in zip(samples, unique_names(samples), _image_ids(samples)):
            place_image(sample.image_path, out / "images" / split / name, images)
            h, w = sample.image_size if sample.image_size and min(sample.image_size) > 0 else image_size(
                sample.image_path)
            imgs.append({"id": image_id, "file_name": name, "width": int(w), "height": int(h)})
            areas = sample.areas if sample.areas is not None else [None] * len(sample)
            for box, cls, diff, trunc, crowd, area in zip(sample.boxes, sample.class_ids, sample.difficult,
                                                          sample.truncated, sample.crowd, areas):
                x1, y1, x2, y2 = (float(v) for v in box)
                bw, bh = x2 - x1, y2 - y1
                anns.append({"id": ann_id, "image_id": image_id, "category_id": index.category_ids[int(cls)],
                             "bbox": [x1, y1, bw, bh], "area": float(area) if area is not None else bw * bh,
                             "iscrowd": int(crowd), "difficult": int(diff), "truncated": int(trunc)})
                ann_id += 1
        doc = {"info": {"description": f"converted by yolo3 from {index.format}"}, "images": imgs,
               "annotations": anns, "categories": categories}
        (out / "annotations" / f"{split}.json").write_text(json.dumps(doc), encoding="utf-8")
    return out
