"""CVAT for images 1.1: one annotations.xml with an <image> element per image.

    <annotations><version>1.1</version>
      <meta><task><labels><label><name>dog</name></label></labels></task></meta>
      <image id="0" name="a.jpg" subset="train" width="40" height="30">
        <box label="dog" xtl="1" ytl="2" xbr="20" ybr="25" occluded="0" z_order="0"/>
      </image>
    </annotations>

Images are looked up as images/<name> beside the XML (CVAT's export), else <name> beside
it. The `subset` attribute gives the split (train/val/test and the aliases of
layouts.SPLIT_FOLDERS; 'default', none or another name: train). Classes are the labels
of <meta> in their order (else the sorted labels found). A <box> is read exactly (a
rotated one becomes the box around it); a <polygon>/<polyline> becomes the box of its
points, an <ellipse> the box around it, a <mask> its left/top/width/height rectangle —
the documented loss (shapes are not kept). <points> and <cuboid> are left out with a
`bad_label` finding; <tag> (an image-level label) is not a box and is not read.
Box attributes `difficult` / `truncated` (true/1) are kept. Labels are stripped of
surrounding spaces, as the <meta> names are ('dog ' is 'dog'). Parsed with defusedxml.
"""

from __future__ import annotations

import math
from pathlib import Path
from xml.etree.ElementTree import Element, ParseError

import defusedxml.ElementTree as SafeET
import numpy as np
from defusedxml import DefusedXmlException

from yolo3.data.findings import DataError, Finding
from yolo3.data.formats import SPLITS, DatasetIndex, case_variant, place_image, unique_names
from yolo3.data.formats.layouts import SPLIT_FOLDERS
from yolo3.data.sample import Sample

_SHAPES = ("box", "polygon", "polyline", "points", "ellipse", "mask", "cuboid")


def _float(el: Element, key: str) -> float:
    value = float(el.get(key, "nan"))
    if not math.isfinite(value):
        raise ValueError(f"{key}={el.get(key)!r}")
    return value


def element_box(el: Element) -> tuple[list[float] | None, str]:
    """(xyxy box, "") of one CVAT shape element, or (None, why it has none)."""
    try:
        if el.tag == "box":
            x1, y1, x2, y2 = (_float(el, k) for k in ("xtl", "ytl", "xbr", "ybr"))
            angle = math.radians(float(el.get("rotation", "0") or 0))
            if angle:  # rotated about the centre: the axis-aligned box around the corners
                cx, cy, hw, hh = (x1 + x2) / 2, (y1 + y2) / 2, (x2 - x1) / 2, (y2 - y1) / 2
                dx = abs(hw * math.cos(angle)) + abs(hh * math.sin(angle))
                dy = abs(hw * math.sin(angle)) + abs(hh * math.cos(angle))
                return [cx - dx, cy - dy, cx + dx, cy + dy], ""
            return [x1, y1, x2, y2], ""
        if el.tag in ("polygon", "polyline"):
            pts = np.array([[float(v) for v in p.split(",")] for p in el.get("points", "").split(";") if p.strip()])
            if pts.ndim != 2 or pts.shape[1] != 2 or len(pts) < 2 or not np.isfinite(pts).all():
                return None, f"points must be 'x,y;x,y;…' with 2 or more finite points, got {el.get('points')!r}"
            return [pts[:, 0].min(), pts[:, 1].min(), pts[:, 0].max(), pts[:, 1].max()], ""
        if el.tag == "ellipse":
            cx, cy, rx, ry = (_float(el, k) for k in ("cx", "cy", "rx", "ry"))
            return [cx - rx, cy - ry, cx + rx, cy + ry], ""
        if el.tag == "mask":
            left, top, w, h = (_float(el, k) for k in ("left", "top", "width", "height"))
            return [left, top, left + w, top + h], ""
    except ValueError as err:
        return None, f"<{el.tag}> needs finite numeric coordinates ({err})"
    return None, f"a <{el.tag}> has no box; left out"


def _flag(el: Element, name: str) -> bool:
    for attr in el.findall("attribute"):
        if attr.get("name") == name:
            return (attr.text or "").strip().lower() in ("true", "1", "yes")
    return False


def _split(subset: str | None) -> str:
    return SPLIT_FOLDERS.get((subset or "").strip().lower(), "train")


def read_cvat(path: str | Path, class_names: list[str] | None = None) -> DatasetIndex:
    """Reads a CVAT for images 1.1 XML file (or a folder holding annotations.xml)."""
    path = Path(path)
    xml = path / "annotations.xml" if path.is_dir() else path
    try:
        tree = SafeET.fromstring(xml.read_bytes())
    except (DefusedXmlException, ParseError, OSError, ValueError) as err:
        raise DataError(f"{xml}: cannot parse the CVAT XML ({type(err).__name__}: {err})") from err
    if tree.tag != "annotations":
        raise DataError(f"{xml}: the root element is <{tree.tag}>, not <annotations>; export as 'CVAT for images 1.1'")
    images = tree.findall("image")
    if class_names is None:
        listed = [(el.text or "").strip() for el in tree.findall("meta//labels/label/name")]
        class_names = [n for n in dict.fromkeys(listed) if n]  # a project export may list them per task too
    if not class_names:
        class_names = sorted({el.get("label", "").strip() for img in images for el in img if el.tag in _SHAPES} - {""})
    names = {n: i for i, n in enumerate(class_names)}
    base = xml.parent / "images" if (xml.parent / "images").is_dir() else xml.parent
    findings: list[Finding] = []
    splits: dict[str, list[Sample]] = {}
    for j, img in enumerate(images):
        name = img.get("name", "")
        boxes, ids, difficult, truncated, positions = [], [], [], [], []
        for k, el in enumerate(e for e in img if e.tag in _SHAPES):
            pos = f"image {name!r}, <{el.tag}> {k + 1}"
            label = el.get("label", "").strip()  # 'dog ' is 'dog', as the <meta> names and VOC's are
            if label not in names:
                findings.append(Finding("unknown_class", xml, pos, f"label {label!r} is not among {sorted(names)}"))
                continue
            box, why = element_box(el)
            if box is None:
                findings.append(Finding("bad_label", xml, pos, why))
                continue
            boxes.append(box)
            ids.append(names[label])
            difficult.append(_flag(el, "difficult"))
            truncated.append(_flag(el, "truncated"))
            positions.append(pos)
        try:
            size = (int(img.get("height", "")), int(img.get("width", "")))
        except ValueError:
            size = None
        if not name:
            findings.append(Finding("bad_annotation", xml, f"image {j + 1}", "<image> without a name; left out"))
            continue
        sample = Sample(case_variant(base / name), np.array(boxes).reshape(-1, 4), ids, image_id=img.get("id", name),
                        image_size=size, difficult=difficult, truncated=truncated, annotation_path=xml,
                        positions=positions)
        splits.setdefault(_split(img.get("subset")), []).append(sample)
    ordered = {s: splits[s] for s in SPLITS if s in splits}
    return DatasetIndex(list(class_names), ordered, xml.parent, "cvat", findings=findings)


def _num(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else repr(float(v))


def _attr(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def write_cvat(index: DatasetIndex, out: Path, images: str = "copy") -> Path:
    """Writes annotations.xml and images/<split>/<name> under `out`; returns the XML path."""
    from yolo3.data.image_io import image_size

    out.mkdir(parents=True, exist_ok=True)
    labels = "".join(f"<label><name>{_attr(n)}</name><attributes/></label>" for n in index.class_names)
    lines = ["<?xml version=\"1.0\" encoding=\"utf-8\"?>", "<annotations>", "  <version>1.1</version>",
             f"  <meta><task><labels>{labels}</labels></task></meta>"]
    image_id = 0
    for split, samples in index.splits.items():
        for sample, name in zip(samples, unique_names(samples)):
            place_image(sample.image_path, out / "images" / split / name, images)
            h, w = sample.image_size if sample.image_size and min(sample.image_size) > 0 else image_size(
                sample.image_path)
            lines.append(f'  <image id="{image_id}" name="{_attr(f"{split}/{name}")}" subset="{split}" '
                         f'width="{w}" height="{h}">')
            for box, cls, diff, trunc in zip(sample.boxes, sample.class_ids, sample.difficult, sample.truncated):
                x1, y1, x2, y2 = (_num(v) for v in box)
                flags = "".join(f'<attribute name="{k}">true</attribute>'
                                for k, v in (("difficult", diff), ("truncated", trunc)) if v)
                lines.append(f'    <box label="{_attr(index.class_names[int(cls)])}" source="manual" occluded="0" '
                             f'xtl="{x1}" ytl="{y1}" xbr="{x2}" ybr="{y2}" z_order="0">{flags}</box>')
            lines.append("  </image>")
            image_id += 1
    lines.append("</annotations>")
    xml = out / "annotations.xml"
    xml.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return xml
