"""Helpers for the reliability tests: a dataset with every defect from the wild, written
in YOLO and in Pascal VOC layout under a folder whose path has unicode and spaces.

Each defect is one file; EXPECTED_YOLO / EXPECTED_VOC list, per file, the finding kinds
check-data must report for it (with position and a message fragment where it matters).
"""

from __future__ import annotations

import dataclasses
import io
from pathlib import Path

import cv2
import numpy as np
import yaml
from PIL import Image

NAMES = ["cell", "dot"]
W, H = 96, 64  # every ordinary test image is 96 wide, 64 high
BOX = "0 0.5 0.5 0.25 0.25\n"  # → xyxy [36, 24, 60, 40] on a 96×64 image
UNSAFE_DIR = "données à vérifier ünï cødé"  # unicode and spaces in every path
SECRET = "TOP-SECRET-Zq81"  # content of the file the external entity points at


def rgb(seed: int, h: int = H, w: int = W) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 255, (h, w, 3), dtype=np.uint8)


def smooth(h: int = H, w: int = W) -> np.ndarray:
    """Red ramps left→right, green top→bottom: survives JPEG and shows any rotation."""
    y, x = np.mgrid[0:h, 0:w]
    return np.stack([x * 255 // (w - 1), y * 255 // (h - 1), np.full_like(x, 60)], 2).astype(np.uint8)


def encoded(arr: np.ndarray, suffix: str) -> bytes:
    """RGB (or single-channel) array → encoded bytes by OpenCV."""
    if arr.ndim == 3:
        arr = cv2.cvtColor(arr, cv2.COLOR_RGB2BGR)
    ok, buf = cv2.imencode(suffix, arr)
    assert ok
    return buf.tobytes()


def pil_bytes(img: Image.Image, fmt: str, **kw) -> bytes:
    out = io.BytesIO()
    img.save(out, fmt, **kw)
    return out.getvalue()


def huge_jpeg(w: int = 12000, h: int = 9000) -> bytes:
    """A real, flat w×h JPEG (about 1 MB); decoding it would need w·h·3 bytes."""
    return pil_bytes(Image.new("L", (w, h), 128), "JPEG", quality=5)


def bad_images() -> dict[str, bytes]:
    """File name → bytes for every image defect (plus good images with tricky labels)."""
    base = Image.fromarray(rgb(1))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise when displayed: upright size is 64 wide, 96 high
    return {
        "good one.jpg": encoded(rgb(0), ".jpg"),
        "crlf.jpg": encoded(rgb(2), ".jpg"),
        "bom.jpg": encoded(rgb(3), ".jpg"),
        "ünï cødé.jpg": encoded(rgb(4), ".jpg"),
        "truncated.jpg": encoded(rgb(5), ".jpg")[:-700],
        "empty.jpg": b"",
        "text.jpg": b"GIF89a? no: just a text file\n",
        "png_named.jpg": encoded(rgb(6), ".png"),
        "grey.png": pil_bytes(base.convert("L"), "PNG"),
        "rgba.png": pil_bytes(base.convert("RGBA"), "PNG"),
        "palette.png": pil_bytes(base.convert("P"), "PNG"),
        "sixteen.png": encoded((rgb(7)[..., 0].astype(np.uint16) * 257), ".png"),
        "cmyk.jpg": pil_bytes(base.convert("CMYK"), "JPEG"),
        "exif6.jpg": pil_bytes(Image.fromarray(smooth()), "JPEG", exif=exif, quality=95),
        "huge.jpg": huge_jpeg(),
        "one_pixel.png": encoded(np.full((1, 1, 3), 200, np.uint8), ".png"),
        "numbers.jpg": encoded(rgb(9), ".jpg"),
        "columns.jpg": encoded(rgb(10), ".jpg"),
        "classes.jpg": encoded(rgb(11), ".jpg"),
        "no_label.jpg": encoded(rgb(12), ".jpg"),
    }


# YOLO label text per image (None: no label file at all).
YOLO_LABELS: dict[str, str | None] = {
    "good one.jpg": BOX,
    "crlf.jpg": "0 0.5 0.5 0.25 0.25\r\n1 0.25 0.25 0.125 0.125\r\n",
    "bom.jpg": "\ufeff" + BOX,
    "ünï cødé.jpg": "1 0.5 0.5 0.5 0.5\n",
    "numbers.jpg": ("0 nan 0.5 0.1 0.1\n0 0.5 inf 0.1 0.1\n0 0.5 0.5 -0.1 0.1\n"
                    "0 1.5 0.5 0.2 0.2\n0 0.95 0.5 0.2 0.25\n" + BOX),
    "columns.jpg": "0 0.5 0.5 0.25\n0 0.5 0.5 0.25 0.25 7\n\n" + BOX,
    "classes.jpg": "2 0.5 0.5 0.25 0.25\n-1 0.5 0.5 0.25 0.25\n0.5 0.5 0.5 0.25 0.25\n" + BOX,
    "no_label.jpg": None,
}


@dataclasses.dataclass(frozen=True)
class Expect:
    """A finding check-data must report: in `file` (a name), of `kind`, at `position`
    (None = any), whose message contains `text`, with `action`."""

    file: str
    kind: str
    position: str | None = None
    text: str = ""
    action: str | None = None


IMAGE_EXPECT = [
    Expect("truncated.jpg", "truncated_image", "", "cut off", "skipped"),
    Expect("empty.jpg", "unreadable", "", "empty file", "skipped"),
    Expect("text.jpg", "unreadable", "", "text, not an image", "skipped"),
    Expect("png_named.jpg", "wrong_extension", "", "PNG file named .jpg", "fixed"),
    Expect("grey.png", "non_rgb", "", "grey", "fixed"),
    Expect("rgba.png", "non_rgb", "", "RGBA", "fixed"),
    Expect("palette.png", "non_rgb", "", "palette", "fixed"),
    Expect("sixteen.png", "non_rgb", "", "16-bit", "fixed"),
    Expect("cmyk.jpg", "non_rgb", "", "CMYK", "fixed"),
    Expect("exif6.jpg", "exif_orientation", "", "orientation 6", "fixed"),
    Expect("huge.jpg", "too_large", "", "12000x9000", "skipped"),
    Expect("one_pixel.png", "tiny_image", "", "1x1", "kept"),
]

EXPECTED_YOLO = IMAGE_EXPECT + [
    Expect("numbers.txt", "bad_label", "line 1", "NaN or inf", "skipped"),
    Expect("numbers.txt", "bad_label", "line 2", "NaN or inf", "skipped"),
    Expect("numbers.txt", "bad_label", "line 3", "negative width or height", "skipped"),
    Expect("numbers.txt", "out_of_bounds", "line 4", "nothing left inside, dropped", "fixed"),
    Expect("numbers.txt", "out_of_bounds", "line 5", "outside the 96x64 image", "fixed"),
    Expect("columns.txt", "bad_label", "line 1", "expected 5 columns", "skipped"),
    Expect("columns.txt", "bad_label", "line 2", "got 6", "skipped"),
    Expect("classes.txt", "unknown_class", "line 1", "class id 2 but data.yaml names only 2", "skipped"),
    Expect("classes.txt", "bad_label", "line 2", "non-negative integer", "skipped"),
    Expect("classes.txt", "bad_label", "line 3", "non-negative integer", "skipped"),
    Expect("no_label.txt", "missing_label_file", "", "no label file for no_label.jpg", "kept"),
]

# Boxes (xyxy original pixels) that must survive the check, per image stem.
KEPT_BOXES = {
    "good one": [[36, 24, 60, 40]],
    "crlf": [[36, 24, 60, 40], [18, 12, 30, 20]],
    "bom": [[36, 24, 60, 40]],
    "ünï cødé": [[24, 16, 72, 48]],
    "numbers": [[81.6, 24, 96, 40], [36, 24, 60, 40]],  # line 5 clipped at x = 96, line 6 intact
    "columns": [[36, 24, 60, 40]],
    "classes": [[36, 24, 60, 40]],
}
SKIPPED_IMAGES = {"truncated", "empty", "text", "huge"}


def write_yolo(root: Path) -> Path:
    """The bad dataset in YOLO layout (train: every defect; val: good + broken images)."""
    for name, data in bad_images().items():
        (root / "images" / "train").mkdir(parents=True, exist_ok=True)
        (root / "images" / "train" / name).write_bytes(data)
        text = YOLO_LABELS.get(name, BOX)
        if text is not None:
            label = root / "labels" / "train" / (Path(name).stem + ".txt")
            label.parent.mkdir(parents=True, exist_ok=True)
            label.write_bytes(text.encode("utf-8"))
    val = {"val a.jpg": encoded(rgb(20), ".jpg"), "val b.png": pil_bytes(Image.fromarray(rgb(21)).convert("L"), "PNG"),
           "val empty.jpg": b"", "val text.jpg": b"hello\n"}
    for name, data in val.items():
        (root / "images" / "val").mkdir(parents=True, exist_ok=True)
        (root / "images" / "val" / name).write_bytes(data)
        (root / "labels" / "val").mkdir(parents=True, exist_ok=True)
        (root / "labels" / "val" / (Path(name).stem + ".txt")).write_text(BOX + "1 0.25 0.25 0.2 0.3\n")
    data = root / "data.yaml"
    data.write_text(yaml.safe_dump({"path": ".", "train": "images/train", "val": "images/val", "names": NAMES},
                                   allow_unicode=True), encoding="utf-8")
    return data


def voc_object(name: str, box: tuple[str, str, str, str] | None) -> str:
    bnd = "" if box is None else ("<bndbox><xmin>{}</xmin><ymin>{}</ymin><xmax>{}</xmax><ymax>{}</ymax></bndbox>"
                                  .format(*box))
    return f"<object><name>{name}</name><difficult>0</difficult>{bnd}</object>\n"


def voc_xml(filename: str, objects: str, size: tuple[int, int] = (W, H)) -> str:
    return (f"<annotation>\n<filename>{filename}</filename>\n<size><width>{size[0]}</width>"
            f"<height>{size[1]}</height><depth>3</depth></size>\n{objects}</annotation>\n")


def write_voc(root: Path, secret_file: Path) -> Path:
    """The bad dataset in VOC layout: the same image defects plus hostile/broken XML."""
    (root / "Annotations").mkdir(parents=True, exist_ok=True)
    (root / "JPEGImages").mkdir(parents=True, exist_ok=True)
    (root / "ImageSets" / "Main").mkdir(parents=True, exist_ok=True)
    good = voc_object("cell", ("36", "24", "60", "40"))
    xml: dict[str, str] = {}
    for name, data in bad_images().items():
        (root / "JPEGImages" / name).write_bytes(data)
        size = (1, 1) if name == "one_pixel.png" else (12000, 9000) if name == "huge.jpg" else (H, W) if (
            name == "exif6.jpg") else (W, H)
        xml[Path(name).stem] = voc_xml(name, good if name != "one_pixel.png" else voc_object("cell", ("0", "0", "1", "1")),
                                       size)
    xml["png_named"] = voc_xml("png_named.jpg", good, (0, 0))  # PNG named .jpg, 0×0 size in its XML
    xml["numbers"] = voc_xml("numbers.jpg", voc_object("cell", ("nan", "1", "5", "5")) + voc_object(
        "cell", ("-10", "24", "20", "40")) + voc_object("dot", ("30", "20", "10", "40")) + good)
    xml["columns"] = voc_xml("columns.jpg", voc_object("cell", None) + voc_object("cell", ("1", "x", "5", "5")) + good)
    xml["classes"] = voc_xml("classes.jpg", voc_object("ghost", ("1", "1", "9", "9")) + good)
    xml["crlf"] = voc_xml("crlf.jpg", good).replace("\n", "\r\n")
    xml["bom"] = "\ufeff" + voc_xml("bom.jpg", good)
    bomb = ('<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
            + "".join(f'<!ENTITY lol{i + 1} "{("&lol" + (str(i) if i else "") + ";") * 10}">' for i in range(9))
            + ']><annotation><filename>&lol9;</filename></annotation>')
    xml["bomb"] = bomb
    xml["entity"] = (f'<?xml version="1.0"?><!DOCTYPE a [<!ENTITY x SYSTEM "{secret_file.as_uri()}">]>'
                     "<annotation><filename>&x;</filename>" + good + "</annotation>")
    (root / "JPEGImages" / "bomb.jpg").write_bytes(encoded(rgb(30), ".jpg"))
    (root / "JPEGImages" / "entity.jpg").write_bytes(encoded(rgb(31), ".jpg"))
    for stem, text in xml.items():
        if stem != "no_label":
            (root / "Annotations" / f"{stem}.xml").write_bytes(text.encode("utf-8"))
    (root / "ImageSets" / "Main" / "train.txt").write_text("".join(s + "\n" for s in xml), encoding="utf-8")
    (root / "classes.txt").write_text("cell\ndot\n", encoding="utf-8")
    return root


EXPECTED_VOC = [e for e in IMAGE_EXPECT if e.file != "huge.jpg"] + [
    Expect("huge.jpg", "too_large", "", "12000x9000", "skipped"),
    Expect("png_named.xml", "size_mismatch", "size", "annotation says 0x0 but the image is 96x64", "fixed"),
    Expect("numbers.xml", "bad_label", "object 1, line 4", "NaN or inf", "skipped"),
    Expect("numbers.xml", "out_of_bounds", "object 2, line 5", "outside the 96x64 image", "fixed"),
    Expect("numbers.xml", "degenerate_box", "object 3, line 6", "inverted", "skipped"),
    Expect("columns.xml", "bad_label", "object 1, line 4", "numeric xmin", "skipped"),
    Expect("columns.xml", "bad_label", "object 2, line 5", "numeric xmin", "skipped"),
    Expect("classes.xml", "unknown_class", "object 1, line 4", "'ghost'", "skipped"),
    Expect("bomb.xml", "bad_annotation", "", "cannot parse XML (EntitiesForbidden", "skipped"),
    Expect("entity.xml", "bad_annotation", "", "cannot parse XML (EntitiesForbidden", "skipped"),
    Expect("train.txt", "bad_annotation", "", "no_label: annotation", "skipped"),
]


def matches(finding, expect: Expect) -> bool:
    """Whether a Finding is the expected one (file name, kind, position, text, action)."""
    return (Path(finding.file).name == expect.file and finding.kind == expect.kind
            and (expect.position is None or finding.position == expect.position)
            and expect.text in finding.message and (expect.action is None or finding.action == expect.action))
