"""Dataset formats in and out: YOLO txt (+ data.yaml), COCO JSON, Pascal VOC XML,
LabelMe JSON and CVAT for images 1.1 XML.

Every reader gives a DatasetIndex of Samples (boxes xyxy in original pixels), and
every writer takes one, so a conversion is read → write and loses nothing.
Problems met while parsing (a bad label line, an unknown class name) are not raised
one by one: the item is left out and a Finding records it, for `check_dataset` to
report and apply its policy to.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
from pathlib import Path

from yolo3.data.findings import DataError, Finding
from yolo3.data.sample import Sample

SPLITS = ("train", "val", "test")
FORMATS = ("yolo", "coco", "voc", "labelme", "cvat")
"""Every format load_dataset reads and save_dataset writes."""
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".gif")


def check_unique_names(names: list[str], source: Path | str, where: str = "the class names") -> None:
    """Raises DataError naming `source` when a class name repeats: boxes of two classes
    of one name cannot be told apart once written by name (VOC, LabelMe, CVAT)."""
    first: dict[str, int] = {}
    for i, name in enumerate(names):
        j = first.setdefault(name, i)
        if j != i:
            raise DataError(f"{source}: class name {name!r} is given to classes {j} and {i} in {where}; class names "
                            "must be unique: rename one, or merge the two classes in the annotations")


@dataclasses.dataclass
class DatasetIndex:
    """A dataset in memory.

    Attributes:
        class_names: names by class index.
        splits: samples per split ('train', 'val', 'test').
        root: the dataset's root folder.
        format: 'yolo', 'coco', 'voc', 'labelme' or 'cvat'.
        category_ids: COCO category id of each class index (1-based contiguous when
            the source has none), for writing COCO results.
        findings: problems met while parsing (left out items), for check_dataset.
    """

    class_names: list[str]
    splits: dict[str, list[Sample]]
    root: Path
    format: str
    category_ids: list[int] = dataclasses.field(default_factory=list)
    findings: list[Finding] = dataclasses.field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.category_ids:
            self.category_ids = list(range(1, len(self.class_names) + 1))
        if len(self.category_ids) != len(self.class_names):
            raise DataError(f"{self.root}: {len(self.category_ids)} category ids for {len(self.class_names)} classes")
        check_unique_names(self.class_names, self.root)

    def all_samples(self) -> list[Sample]:
        return [s for split in self.splits.values() for s in split]


def _xml_root_tag(path: Path) -> str:
    """The root element's name of an XML file, from its first 4 KB ("" if none)."""
    import re

    try:
        with open(path, "rb") as f:
            head = f.read(4096)
    except OSError:
        return ""
    head = re.sub(rb"<\?.*?\?>|<!--.*?-->|<!DOCTYPE[^>]*>", b"", head, flags=re.S)
    found = re.search(rb"<([A-Za-z_][\w.-]*)", head)
    return found.group(1).decode() if found else ""


def detect_format(path: str | Path) -> str:
    """The format of a dataset path:

    'yolo': a .yaml, or a folder with data.yaml; 'coco': a .json, or a folder with
    annotations/*.json or split folders with _annotations.coco.json; 'cvat': a CVAT .xml,
    or a folder with annotations.xml whose root is <annotations>; 'voc': a devkit root (Annotations/) or VOC XML per image in one of the
    layouts of layouts.py; 'labelme': LabelMe JSON per image in one of those layouts.
    """
    from yolo3.data.formats.labelme import is_labelme_file
    from yolo3.data.formats.layouts import find_per_image_layout

    path = Path(path)
    if path.is_file() and path.suffix.lower() in (".yaml", ".yml"):
        return "yolo"
    if path.is_file() and path.suffix.lower() == ".json":
        return "coco"
    if path.is_file() and path.suffix.lower() == ".xml" and _xml_root_tag(path) == "annotations":
        return "cvat"
    if path.is_dir():
        if (path / "Annotations").is_dir():
            return "voc"
        if (path / "data.yaml").is_file():
            return "yolo"
        jsons = sorted((path / "annotations").glob("*.json"))
        if jsons and not is_labelme_file(jsons[0]):
            return "coco"
        from yolo3.data.formats.coco import split_folder_files

        if split_folder_files(path):  # train/_annotations.coco.json, … (Roboflow's COCO export)
            return "coco"
        if (path / "annotations.xml").is_file() and _xml_root_tag(path / "annotations.xml") == "annotations":
            return "cvat"
        layout = find_per_image_layout(path, ".xml")
        if layout is not None:
            return "voc"
        layout = find_per_image_layout(path, ".json")
        first = next((a for pairs in layout.splits.values() for a, _, _ in pairs if a.is_file()), None) if layout else None
        if first is not None and is_labelme_file(first):
            return "labelme"
    if not path.exists():
        raise DataError(f"{path}: no such file or folder")
    raise DataError(
        f"{path}: not a dataset; give a YOLO data.yaml, a COCO .json (or a folder with annotations/*.json), "
        "a Pascal VOC root (Annotations/ and JPEGImages/, or images with .xml beside them, or images/ with "
        "annots/ or annotations/), LabelMe .json beside the images, or a CVAT for images annotations.xml"
    )


def load_dataset(path: str | Path, class_names: list[str] | None = None,
                 allow_outside_root: bool = False) -> DatasetIndex:
    """Reads a dataset whatever its format (see detect_format).

    class_names fixes the class order of a VOC, LabelMe or CVAT dataset (default:
    classes.txt in the root if present, CVAT's label list, else the sorted names found);
    YOLO and COCO carry their own. allow_outside_root lets a data.yaml read folders
    outside its own folder tree.
    Raises DataError when the dataset holds no images.
    """
    from yolo3.data.formats import coco, cvat, labelme, voc, yolo  # the readers import this module

    path = Path(path)
    fmt = detect_format(path)
    if fmt == "yolo":
        index = yolo.read_yolo(path / "data.yaml" if path.is_dir() else path, allow_outside_root)
    elif fmt == "coco":
        index = coco.read_coco(path)
    elif fmt == "cvat":
        index = cvat.read_cvat(path, class_names)
    elif fmt == "labelme":
        index = labelme.read_labelme(path, class_names)
    else:
        index = voc.read_voc(path, class_names)
    if not any(index.splits.values()):
        found = index.findings
        why = "".join(f"\n  {f.format()}" for f in found[:10]) + (
            f"\n  … and {len(found) - 10} more" if len(found) > 10 else "")
        if found:
            raise DataError(f"{path}: the dataset has no images; every item found was left out:{why}")
        raise DataError(f"{path}: the dataset has no images; check the split lists / folders it names")
    return index


def save_dataset(index: DatasetIndex, out: str | Path, fmt: str, images: str = "copy") -> Path:
    """Writes `index` as `fmt` (one of FORMATS) under folder `out`; returns the path
    load_dataset reads back (data.yaml, the folder, the VOC root, CVAT's annotations.xml).

    images: 'copy' the image files, 'link' them (symlink), or 'none' (labels only).
    """
    from yolo3.data.formats import coco, cvat, labelme, voc, yolo

    writers = {"yolo": yolo.write_yolo, "coco": coco.write_coco, "voc": voc.write_voc,
               "labelme": labelme.write_labelme, "cvat": cvat.write_cvat}
    if fmt not in writers:
        raise DataError(f"unknown format {fmt!r}; choose one of {sorted(writers)}")
    if images not in ("copy", "link", "none"):
        raise DataError(f"images must be 'copy', 'link' or 'none', got {images!r}")
    return writers[fmt](index, Path(out), images)


def case_variant(path: Path) -> Path:
    """`path`, or when it does not exist the same name with its suffix in the other case if
    that exists (IMG_1.jpg and IMG_1.JPG: one file on Windows and macOS, two names on Linux)."""
    if path.exists() or not path.suffix:
        return path
    for suffix in (path.suffix.lower(), path.suffix.upper()):
        if suffix != path.suffix and path.with_suffix(suffix).exists():
            return path.with_suffix(suffix)
    return path


def place_image(src: Path, dst: Path, mode: str) -> None:
    """Copies or links one image file to dst (mode as in save_dataset)."""
    if mode == "none":
        return
    dst.parent.mkdir(parents=True, exist_ok=True)
    if dst.exists() and dst.resolve() == src.resolve():  # never replace (or self-link) a source file
        raise DataError(f"{dst}: is the source image {src} itself; write the conversion to another folder")
    if dst.exists() or dst.is_symlink():
        dst.unlink()
    if mode == "link":
        os.symlink(src.resolve(), dst)
    else:
        shutil.copy2(src, dst)


def unique_names(samples: list[Sample]) -> list[str]:
    """File names for writing each sample's image into one folder, with distinct stems
    (case-folded): a.jpg and a.png would share one label file a.txt / a.xml / a.json.
    A repeated stem gets the first free suffix _1, _2, … (never a name already taken)."""
    taken = {s.image_path.stem.casefold() for s in samples}
    used: set[str] = set()
    next_suffix: dict[str, int] = {}
    names = []
    for s in samples:
        stem = s.image_path.stem
        if stem.casefold() in used:
            n = next_suffix.get(stem.casefold(), 1)
            while f"{stem}_{n}".casefold() in used or f"{stem}_{n}".casefold() in taken:
                n += 1
            next_suffix[stem.casefold()] = n + 1
            stem = f"{stem}_{n}"
        used.add(stem.casefold())
        names.append(f"{stem}{s.image_path.suffix}")
    return names


__all__ = ["DatasetIndex", "DataError", "Finding", "FORMATS", "SPLITS", "detect_format", "load_dataset", "save_dataset"]
