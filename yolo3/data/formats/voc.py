"""Pascal VOC: Annotations/*.xml, JPEGImages/, ImageSets/Main/{train,val,test}.txt,
and the layouts VOC XML is shipped in elsewhere (XML beside the images, or images/ +
annots/ folders; see layouts.py).

XML is parsed with defusedxml: entity expansion (billion laughs), external entities and
DTD tricks raise instead of running, and the file is reported as a bad annotation.
Boxes are VOC pixel coordinates as written (no 1-pixel shift), so a round trip gives
back the same integers. `difficult` and `truncated` are kept per box.
"""

from __future__ import annotations

import re
from pathlib import Path
from xml.etree.ElementTree import Element, ParseError

import defusedxml.ElementTree as SafeET
import numpy as np
from defusedxml import DefusedXmlException

from yolo3.data.findings import Finding
from yolo3.data.formats import IMAGE_SUFFIXES, SPLITS, DatasetIndex, case_variant, place_image, unique_names
from yolo3.data.formats.layouts import find_per_image_layout
from yolo3.data.sample import Sample
from yolo3.io.text import split_lines

_OBJECT_TAG = re.compile(rb"<object[\s>]")


def _text(node: Element | None, tag: str, default: str = "") -> str:
    child = node.find(tag) if node is not None else None
    return (child.text or "").strip() if child is not None and child.text is not None else default


def _object_lines(data: bytes) -> list[int]:
    """Line number of each <object> element, in document order (for messages)."""
    return [data.count(b"\n", 0, m.start()) + 1 for m in _OBJECT_TAG.finditer(data)]


def _flag(text: str) -> bool:
    """A VOC flag's value: 0, 0.0, false, no or empty → False; anything else → True."""
    value = text.strip().lower()
    if value in ("", "false", "no"):
        return False
    try:
        return float(value) != 0
    except ValueError:
        return True


def _strip_namespaces(tree: Element) -> None:
    """Drops XML namespaces from every tag in place ({uri}object → object): some tools
    write <annotation xmlns="…">, and namespaced tags would match no find("object")."""
    for el in tree.iter():
        if isinstance(el.tag, str) and "}" in el.tag:
            el.tag = el.tag.split("}", 1)[1]


def _find_image(folder: Path, filename: str, stem: str) -> Path:
    if filename and case_variant(folder / filename).exists():
        return case_variant(folder / filename)
    for suffix in IMAGE_SUFFIXES:
        if case_variant(folder / (stem + suffix)).exists():
            return case_variant(folder / (stem + suffix))
    return folder / (filename or stem + ".jpg")  # missing: the check reports it as unreadable


def parse_voc_xml(path: Path, root: Path, names: dict[str, int] | None, image: Path | None = None,
                  image_dir: Path | None = None) -> tuple[Sample | None, list[Finding], list[str]]:
    """Parses one VOC XML → (sample or None when unparseable, findings, class names seen).

    names maps class name → index; None collects names only (first pass). The image is
    `image` when given, else the XML's <filename> (or its stem) in `image_dir` (default
    root/JPEGImages).
    """
    findings: list[Finding] = []
    try:
        data = path.read_bytes()
        tree = SafeET.fromstring(data)
    except (DefusedXmlException, ParseError, OSError, ValueError) as err:
        kind = type(err).__name__
        return None, [Finding("bad_annotation", path, "", f"cannot parse XML ({kind}: {err})")], []
    _strip_namespaces(tree)
    objects = tree.findall("object")
    lines = _object_lines(data)
    seen = [_text(obj, "name") for obj in objects]
    if names is None:
        return None, [], seen
    size = tree.find("size")
    try:
        image_size = (int(float(_text(size, "height", "0"))), int(float(_text(size, "width", "0"))))
    except (ValueError, OverflowError):
        findings.append(Finding("bad_label", path, "size", "width/height are not finite numbers"))
        image_size = (0, 0)
    boxes, ids, difficult, truncated, positions = [], [], [], [], []
    for k, obj in enumerate(objects):
        pos = f"object {k + 1}, line {lines[k]}" if k < len(lines) else f"object {k + 1}"
        name = _text(obj, "name")
        if name not in names:
            findings.append(Finding("unknown_class", path, pos, f"class name {name!r} is not among {sorted(names)}"))
            continue
        bnd = obj.find("bndbox")
        try:
            box = [float(_text(bnd, t)) for t in ("xmin", "ymin", "xmax", "ymax")]
        except ValueError:
            findings.append(Finding("bad_label", path, pos, "bndbox needs numeric xmin, ymin, xmax, ymax"))
            continue
        if not np.isfinite(box).all():
            findings.append(Finding("bad_label", path, pos, f"NaN or inf in bndbox {box}"))
            continue
        boxes.append(box)
        ids.append(names[name])
        difficult.append(_flag(_text(obj, "difficult")))
        truncated.append(_flag(_text(obj, "truncated")))
        positions.append(pos)
    if image is None:
        image = _find_image(image_dir or root / "JPEGImages", _text(tree, "filename"), path.stem)
    sample = Sample(image, np.array(boxes).reshape(-1, 4), ids, image_id=path.stem, image_size=image_size,
                    difficult=difficult, truncated=truncated, annotation_path=path, positions=positions)
    return sample, findings, seen


_FLAGGED_ID = re.compile(r"^(.*\S)\s+(-1|0|1)$")  # per-class lists: "<id> 1" / "<id> -1"


def _list_ids(path: Path, annotations: Path) -> list[str]:
    """Image ids of an ImageSets list, one per line. A name may contain spaces; a
    trailing -1/0/1 column (per-class list format) is dropped unless the whole line
    names an existing annotation."""
    ids = []
    for line in split_lines(path.read_text(encoding="utf-8-sig")):
        line = line.strip()
        if line:
            flagged = _FLAGGED_ID.match(line)
            whole = not flagged or (annotations / f"{line}.xml").is_file()
            ids.append(line if whole else flagged.group(1))
    return ids


def _split_ids(root: Path) -> dict[str, list[str]]:
    folder = root / "ImageSets" / "Main"
    splits = {}
    for split in SPLITS:
        f = folder / f"{split}.txt"
        if f.is_file():
            splits[split] = _list_ids(f, root / "Annotations")
    if not splits and (folder / "trainval.txt").is_file():
        splits["train"] = _list_ids(folder / "trainval.txt", root / "Annotations")
    if not splits:  # no split lists: every annotation is training data
        splits["train"] = sorted(p.stem for p in (root / "Annotations").glob("*.xml"))
    return splits


def _devkit_entries(root: Path) -> tuple[dict[str, list[tuple[Path, Path | None, Path]]], list[Finding]]:
    """(XML, None, JPEGImages) per listed id and split; a listed id without XML is a finding."""
    entries: dict[str, list[tuple[Path, Path | None, Path]]] = {}
    findings = []
    for split, ids in _split_ids(root).items():
        entries[split] = []
        for stem in ids:
            xml = root / "Annotations" / f"{stem}.xml"
            if xml.is_file():
                entries[split].append((xml, None, root / "JPEGImages"))
            else:
                findings.append(Finding("bad_annotation", root / "ImageSets" / "Main" / f"{split}.txt", "",
                                        f"{stem}: annotation {xml} does not exist"))
    return entries, findings


def is_devkit(root: Path) -> bool:
    """Whether `root` is a VOC devkit root (Annotations/ with JPEGImages/ or ImageSets/)."""
    return (root / "Annotations").is_dir() and ((root / "JPEGImages").is_dir() or (root / "ImageSets").is_dir())


def read_voc(root: str | Path, class_names: list[str] | None = None) -> DatasetIndex:
    """Reads VOC XML: a devkit root, or a folder in one of the layouts of layouts.py.

    Class order: class_names, else classes.txt in the root, else sorted names found.
    """
    root = Path(root)
    layout = None if is_devkit(root) else find_per_image_layout(root, ".xml")
    if layout is None:
        entries, findings = _devkit_entries(root)
    else:
        entries, findings = layout.splits, []
    if class_names is None and (root / "classes.txt").is_file():
        lines = split_lines((root / "classes.txt").read_text(encoding="utf-8-sig"))
        class_names = [ln.strip() for ln in lines if ln.strip()]
    if class_names is None:
        found: set[str] = set()
        for xml in sorted({xml for pairs in entries.values() for xml, _, _ in pairs if xml.is_file()}):
            found.update(parse_voc_xml(xml, root, None)[2])
        class_names = sorted(n for n in found if n)
    names = {n: i for i, n in enumerate(class_names)}
    splits: dict[str, list[Sample]] = {}
    for split, pairs in entries.items():
        samples = []
        for xml, image, image_dir in pairs:
            if not xml.is_file():  # an image without its XML (per-image layouts only)
                findings.append(Finding("missing_label_file", xml, "", f"no annotation for {image}; "
                                        "read as an image without objects"))
                samples.append(Sample(image, np.zeros((0, 4)), [], annotation_path=xml))
                continue
            sample, found_here, _ = parse_voc_xml(xml, root, names, image, image_dir)
            findings.extend(found_here)
            if sample is not None:
                samples.append(sample)
        splits[split] = samples
    return DatasetIndex(list(class_names), splits, root, "voc", findings=findings)


def _num(v: float) -> str:
    return str(int(round(v))) if abs(v - round(v)) < 1e-6 else repr(float(v))


def voc_xml(sample: Sample, filename: str, class_names: list[str], size: tuple[int, int]) -> str:
    """The VOC XML text of one sample (integer coordinates when they are integers)."""
    h, w = size
    objects = "".join(
        f"\t<object>\n\t\t<name>{_escape(class_names[int(c)])}</name>\n\t\t<pose>Unspecified</pose>\n"
        f"\t\t<truncated>{int(t)}</truncated>\n\t\t<difficult>{int(d)}</difficult>\n\t\t<bndbox>\n"
        f"\t\t\t<xmin>{_num(b[0])}</xmin>\n\t\t\t<ymin>{_num(b[1])}</ymin>\n"
        f"\t\t\t<xmax>{_num(b[2])}</xmax>\n\t\t\t<ymax>{_num(b[3])}</ymax>\n\t\t</bndbox>\n\t</object>\n"
        for b, c, d, t in zip(sample.boxes, sample.class_ids, sample.difficult, sample.truncated)
    )
    return (f"<annotation>\n\t<folder>JPEGImages</folder>\n\t<filename>{_escape(filename)}</filename>\n"
            f"\t<size>\n\t\t<width>{w}</width>\n\t\t<height>{h}</height>\n\t\t<depth>3</depth>\n\t</size>\n"
            f"\t<segmented>0</segmented>\n{objects}</annotation>\n")


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def write_voc(index: DatasetIndex, out: Path, images: str = "copy") -> Path:
    """Writes Annotations/, JPEGImages/, ImageSets/Main/<split>.txt and classes.txt; returns `out`."""
    from yolo3.data.image_io import image_size

    for sub in ("Annotations", "JPEGImages", "ImageSets/Main"):
        (out / sub).mkdir(parents=True, exist_ok=True)
    everything = [s for samples in index.splits.values() for s in samples]
    file_names = dict(zip(map(id, everything), unique_names(everything)))
    for split, samples in index.splits.items():
        stems = []
        for sample in samples:
            name = file_names[id(sample)]
            place_image(sample.image_path, out / "JPEGImages" / name, images)
            size = sample.image_size if sample.image_size and min(sample.image_size) > 0 else image_size(
                sample.image_path)
            (out / "Annotations" / f"{Path(name).stem}.xml").write_text(
                voc_xml(sample, name, index.class_names, size), encoding="utf-8")
            stems.append(Path(name).stem)
        (out / "ImageSets" / "Main" / f"{split}.txt").write_text("".join(s + "\n" for s in stems), encoding="utf-8")
    (out / "classes.txt").write_text("".join(n + "\n" for n in index.class_names), encoding="utf-8")
    return out
