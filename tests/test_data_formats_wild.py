"""Datasets as people ship them: VOC XML beside images or in annots/, LabelMe JSON, CVAT XML."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from _data_utils import plain_image, write_rgb
from yolo3.data.findings import DataError
from yolo3.data.formats import DatasetIndex, detect_format, load_dataset, save_dataset
from yolo3.data.sample import Sample
from yolo3.data.validate import check_dataset


def _voc_xml(filename: str, objects: list[tuple[str, tuple[int, int, int, int]]], w: int = 40, h: int = 30) -> str:
    objs = "".join(f"<object><name>{n}</name><bndbox><xmin>{b[0]}</xmin><ymin>{b[1]}</ymin><xmax>{b[2]}</xmax>"
                   f"<ymax>{b[3]}</ymax></bndbox></object>" for n, b in objects)
    return (f"<annotation><filename>{filename}</filename><size><width>{w}</width><height>{h}</height></size>"
            f"{objs}</annotation>")


def _put(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_voc_xml_beside_images_in_split_folders(tmp_path: Path) -> None:
    for seed, (split, name, objs) in enumerate((
            ("train", "a", [("cat", (1, 2, 10, 12))]), ("train", "b", [("dog", (3, 3, 9, 9))]),
            ("valid", "c", [("dog", (5, 6, 30, 20)), ("cat", (0, 0, 4, 4))]))):
        write_rgb(tmp_path / "images" / split / f"{name}.jpg", plain_image(30, 40, seed))
        _put(tmp_path / "images" / split / f"{name}.xml", _voc_xml(f"{name}.jpg", objs))
    write_rgb(tmp_path / "images" / "train" / "d.jpg", plain_image(30, 40, 3))  # no XML
    assert detect_format(tmp_path) == "voc"
    index = load_dataset(tmp_path)
    assert index.class_names == ["cat", "dog"]
    assert {k: [s.image_path.name for s in v] for k, v in index.splits.items()} == {
        "train": ["a.jpg", "b.jpg", "d.jpg"], "val": ["c.jpg"]}
    c = index.splits["val"][0]
    np.testing.assert_array_equal(c.boxes, [[5, 6, 30, 20], [0, 0, 4, 4]])
    assert c.class_ids.tolist() == [1, 0] and c.image_path == tmp_path / "images" / "valid" / "c.jpg"
    [missing] = index.findings
    assert missing.kind == "missing_label_file" and Path(missing.file).name == "d.xml"
    report = check_dataset(index)  # the same check-data path: kept as background, reported
    assert report.counts == {"missing_label_file": 1, "no_labels": 1} and len(report.splits["train"]) == 3


@pytest.mark.parametrize("annots", ["annots", "annotations"])
def test_voc_images_and_annotation_folders(tmp_path: Path, annots: str) -> None:
    write_rgb(tmp_path / "images" / "x.png", plain_image(30, 40))
    write_rgb(tmp_path / "images" / "photo 7.jpg", plain_image(30, 40, 1))
    _put(tmp_path / annots / "x.xml", _voc_xml("x.png", [("car", (1, 1, 20, 20))]))
    _put(tmp_path / annots / "other_stem.xml", _voc_xml("photo 7.jpg", [("bus", (2, 2, 8, 8))]))  # by <filename>
    assert detect_format(tmp_path) == "voc"
    index = load_dataset(tmp_path)
    by_name = {s.image_path.name: s for s in index.splits["train"]}
    assert set(by_name) == {"x.png", "photo 7.jpg"} and index.class_names == ["bus", "car"]
    assert by_name["photo 7.jpg"].image_path == tmp_path / "images" / "photo 7.jpg"
    np.testing.assert_array_equal(by_name["x.png"].boxes, [[1, 1, 20, 20]])
    # the image without an XML of its stem is paired with nothing: reported, read as background
    assert [Path(f.file).name for f in index.findings] == ["photo 7.xml"]


def test_voc_split_folders_under_annotations(tmp_path: Path) -> None:
    for split in ("train", "test"):
        write_rgb(tmp_path / "images" / split / f"{split}1.jpg", plain_image(30, 40))
        _put(tmp_path / "annotations" / split / f"{split}1.xml", _voc_xml(f"{split}1.jpg", [("a", (1, 1, 5, 5))]))
    index = load_dataset(tmp_path)
    assert {k: len(v) for k, v in index.splits.items()} == {"train": 1, "test": 1} and not index.findings
    assert index.splits["test"][0].image_path.exists()


def test_not_a_dataset_names_the_layouts(tmp_path: Path) -> None:
    write_rgb(tmp_path / "images" / "a.jpg", plain_image(30, 40))
    with pytest.raises(DataError, match="annots/ or annotations/"):
        detect_format(tmp_path)


LABELME = {
    "version": "5.2.1", "flags": {}, "imagePath": "..\\pics\\p1.jpg", "imageData": None,
    "imageHeight": 30, "imageWidth": 40,
    "shapes": [
        {"label": "cat", "points": [[10, 12], [2, 3]], "shape_type": "rectangle", "flags": {"difficult": True}},
        {"label": "dog", "points": [[5, 5], [20, 6], [12, 25]], "shape_type": "polygon", "flags": {}},
        {"label": "dog", "points": [[20, 15], [23, 19]], "shape_type": "circle"},
        {"label": "cat", "points": [[7, 7]], "shape_type": "point"},
        {"label": "bird", "points": [[1, 1], [2, 2]], "shape_type": "rectangle"},
    ],
}


def test_labelme_shapes_become_boxes_with_findings(tmp_path: Path) -> None:
    write_rgb(tmp_path / "pics" / "p1.jpg", plain_image(30, 40))
    _put(tmp_path / "ann" / "p1.json", json.dumps(LABELME))
    _put(tmp_path / "ann" / "classes.txt", "cat\ndog\n")
    index = load_dataset(tmp_path / "ann")  # the JSON beside no image: its Windows-style imagePath is followed
    assert index.format == "labelme" and index.class_names == ["cat", "dog"]
    [s] = index.splits["train"]
    assert s.image_path.resolve() == (tmp_path / "pics" / "p1.jpg").resolve() and s.image_size == (30, 40)
    r = 5.0  # circle: centre (20, 15), rim point (23, 19)
    np.testing.assert_allclose(s.boxes, [[2, 3, 10, 12], [5, 5, 20, 25], [20 - r, 15 - r, 20 + r, 15 + r]])
    assert s.class_ids.tolist() == [0, 1, 1] and s.difficult.tolist() == [True, False, False]
    assert s.box_positions() == ["shapes[0]", "shapes[1]", "shapes[2]"]
    kinds = [(f.kind, f.position) for f in index.findings]
    assert kinds == [("bad_label", "shapes[3]"), ("unknown_class", "shapes[4]")]
    report = check_dataset(index)
    assert report.counts == {"bad_label": 1, "unknown_class": 1}



def test_labelme_and_cvat_labels_are_stripped_as_voc_names_are(tmp_path: Path) -> None:
    """'dog ' (a stray space typed in the labelling tool) is the class 'dog', not a class of its own."""
    rect = {"shape_type": "rectangle", "points": [[1, 2], [9, 8]]}
    for k, label in enumerate(("dog", "dog ", " cat\t")):
        write_rgb(tmp_path / "lm" / f"p{k}.jpg", plain_image(30, 40, k))
        _put(tmp_path / "lm" / f"p{k}.json", json.dumps({"shapes": [{"label": label, **rect}], "imagePath": f"p{k}.jpg",
                                                         "imageHeight": 30, "imageWidth": 40}))
    index = load_dataset(tmp_path / "lm")
    assert index.format == "labelme" and index.class_names == ["cat", "dog"] and not index.findings
    assert [s.class_ids.tolist() for s in index.splits["train"]] == [[1], [1], [0]]
    box = '<box label="{}" xtl="1" ytl="2" xbr="9" ybr="8"/>'
    images = "".join(f'<image id="{k}" name="p{k}.jpg" width="40" height="30">{box.format(label)}</image>'
                     for k, label in enumerate(("dog", "dog ", " cat")))
    for meta in ("", "<meta><task><labels><label><name>dog</name></label><label><name>cat</name></label>"
                     "</labels></task></meta>"):
        xml = _put(tmp_path / "lm" / "annotations.xml",
                   f"<annotations><version>1.1</version>{meta}{images}</annotations>")
        index = load_dataset(xml)
        assert index.class_names == (["dog", "cat"] if meta else ["cat", "dog"]) and not index.findings
        dog, cat = index.class_names.index("dog"), index.class_names.index("cat")
        assert [s.class_ids.tolist() for s in index.splits["train"]] == [[dog], [dog], [cat]]

def test_labelme_rotated_rectangle_becomes_the_box_around_it(tmp_path: Path) -> None:
    # X-AnyLabeling (LabelMe files) writes a rotated rectangle as shape_type 'rotation' with its 4
    # corners; it was left out as "gives no box" (CVAT's rotated boxes are read as the box around)
    write_rgb(tmp_path / "r.jpg", plain_image(30, 40))
    doc = {"shapes": [{"label": "cat", "points": [[20, 2], [30, 12], [20, 22], [10, 12]], "shape_type": "rotation"}],
           "imagePath": "r.jpg", "imageHeight": 30, "imageWidth": 40}
    _put(tmp_path / "r.json", json.dumps(doc))
    index = load_dataset(tmp_path)
    assert index.format == "labelme" and not index.findings
    np.testing.assert_array_equal(index.splits["train"][0].boxes, [[10, 2, 30, 22]])


def _two_split_index(tmp_path: Path) -> DatasetIndex:
    write_rgb(tmp_path / "src" / "a.png", plain_image(37, 53))
    write_rgb(tmp_path / "src" / "b.jpg", plain_image(30, 40, 1))
    a = Sample(tmp_path / "src" / "a.png", [[0.1, 1 / 3, 52.9, 36.99], [7, 8, 9, 10]], [1, 0], image_size=(37, 53),
               difficult=[False, True], truncated=[True, False])
    b = Sample(tmp_path / "src" / "b.jpg", [[1, 2, 3, 4]], [2], image_size=(30, 40))
    return DatasetIndex(["p", "q & r", "s"], {"train": [a], "val": [b]}, tmp_path, "yolo")


@pytest.mark.parametrize("fmt", ["labelme", "cvat"])
def test_labelme_and_cvat_round_trip_exactly(tmp_path: Path, fmt: str) -> None:
    index = _two_split_index(tmp_path)
    out = save_dataset(index, tmp_path / fmt, fmt, images="copy")
    assert detect_format(out) == fmt and detect_format(tmp_path / fmt) == fmt
    back = load_dataset(out)
    assert back.class_names == index.class_names and back.format == fmt
    for split in ("train", "val"):
        for a, b in zip(index.splits[split], back.splits[split], strict=True):
            np.testing.assert_allclose(b.boxes, a.boxes, rtol=0, atol=1e-12)
            assert b.class_ids.tolist() == a.class_ids.tolist() and b.image_size == a.image_size
            assert b.difficult.tolist() == a.difficult.tolist() and b.truncated.tolist() == a.truncated.tolist()
            assert b.image_path.read_bytes() == a.image_path.read_bytes()
    assert not back.findings


CVAT_XML = """<?xml version="1.0" encoding="utf-8"?>
<annotations>
  <version>1.1</version>
  <meta><task><name>t</name><labels>
    <label><name>person</name><attributes/></label><label><name>car</name><attributes/></label>
  </labels></task></meta>
  <image id="0" name="f0.jpg" subset="Train" width="40" height="30">
    <box label="car" occluded="0" source="manual" xtl="1.50" ytl="2.00" xbr="11.50" ybr="6.00" z_order="0">
      <attribute name="difficult">true</attribute></box>
    <box label="person" xtl="10" ytl="10" xbr="20" ybr="14" rotation="90.0" z_order="0"/>
    <polygon label="person" points="3.0,4.0;9.0,1.0;6.0,12.5" z_order="0"/>
    <ellipse label="car" cx="20" cy="20" rx="4" ry="2" z_order="0"/>
    <points label="car" points="1,1" z_order="0"/>
    <tag label="car"/>
  </image>
  <image id="1" name="sub/f1.jpg" subset="Validation" width="40" height="30">
    <box label="truck" xtl="1" ytl="1" xbr="5" ybr="5"/>
  </image>
</annotations>
"""


def test_cvat_shapes_subsets_and_findings(tmp_path: Path) -> None:
    write_rgb(tmp_path / "images" / "f0.jpg", plain_image(30, 40))
    write_rgb(tmp_path / "images" / "sub" / "f1.jpg", plain_image(30, 40, 1))
    xml = _put(tmp_path / "annotations.xml", CVAT_XML)
    assert detect_format(tmp_path) == "cvat" and detect_format(xml) == "cvat"
    index = load_dataset(xml)
    assert index.class_names == ["person", "car"]  # the order of <meta>
    [f0], [f1] = index.splits["train"], index.splits["val"]
    assert f0.image_path == tmp_path / "images" / "f0.jpg" and f1.image_path.exists()
    # rotated 90° about its centre (15, 12): the 10×4 box stands as 4×10
    np.testing.assert_allclose(f0.boxes, [[1.5, 2, 11.5, 6], [13, 7, 17, 17], [3, 1, 9, 12.5], [16, 18, 24, 22]],
                               atol=1e-9)
    assert f0.class_ids.tolist() == [1, 0, 0, 1] and f0.difficult.tolist() == [True, False, False, False]
    assert [(f.kind, f.position) for f in index.findings] == [
        ("bad_label", "image 'f0.jpg', <points> 5"), ("unknown_class", "image 'sub/f1.jpg', <box> 1")]
    assert check_dataset(index).counts == {"bad_label": 1, "unknown_class": 1, "no_labels": 1}


def test_cvat_rotation_45_degrees() -> None:
    from xml.etree.ElementTree import fromstring

    from yolo3.data.formats.cvat import element_box

    box, _ = element_box(fromstring('<box label="a" xtl="0" ytl="0" xbr="2" ybr="2" rotation="45"/>'))
    half = math.sqrt(2)  # a 2×2 square turned 45° spans its diagonal
    np.testing.assert_allclose(box, [1 - half, 1 - half, 1 + half, 1 + half])


def test_cvat_hostile_xml_is_a_clear_error(tmp_path: Path) -> None:
    xml = _put(tmp_path / "annotations.xml", '<?xml version="1.0"?><!DOCTYPE a [<!ENTITY x SYSTEM '
               '"file:///etc/passwd">]><annotations><image name="&x;"/></annotations>')
    with pytest.raises(DataError, match="annotations.xml: cannot parse"):
        load_dataset(xml)


def test_convert_cli_reads_voc_beside_images_and_writes_labelme(tmp_path: Path) -> None:
    from yolo3.cli import main

    write_rgb(tmp_path / "src" / "train" / "a.jpg", plain_image(30, 40))
    _put(tmp_path / "src" / "train" / "a.xml", _voc_xml("a.jpg", [("cat", (1, 2, 10, 12))]))
    assert main(["convert", str(tmp_path / "src"), str(tmp_path / "lm"), "--from", "voc", "--to", "labelme"]) == 0
    back = load_dataset(tmp_path / "lm")
    assert back.format == "labelme" and back.class_names == ["cat"]
    np.testing.assert_array_equal(back.splits["train"][0].boxes, [[1, 2, 10, 12]])


@pytest.mark.parametrize("fmt", ["voc", "coco", "cvat"])
def test_image_named_with_another_case_of_suffix_is_found(tmp_path: Path, fmt: str) -> None:
    # the annotation says IMG_1.jpg, the camera wrote IMG_1.JPG: fine on Windows and macOS,
    # "file not found" (image skipped) on Linux
    folder = tmp_path / {"voc": "JPEGImages", "coco": "images", "cvat": "images"}[fmt]
    write_rgb(folder / "IMG_1.JPG", plain_image(30, 40))
    if fmt == "voc":
        _put(tmp_path / "Annotations" / "IMG_1.xml", _voc_xml("IMG_1.jpg", [("cat", (1, 2, 10, 12))]))
        src = tmp_path
    elif fmt == "coco":
        src = _put(tmp_path / "train.json", json.dumps({
            "images": [{"id": 1, "file_name": "IMG_1.jpg", "width": 40, "height": 30}],
            "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [1, 2, 9, 10]}],
            "categories": [{"id": 1, "name": "cat"}]}))
    else:
        src = _put(tmp_path / "annotations.xml", '<annotations><image id="0" name="IMG_1.jpg" width="40" height="30">'
                   '<box label="cat" xtl="1" ytl="2" xbr="10" ybr="12"/></image></annotations>')
    report = check_dataset(load_dataset(src))
    [s] = report.splits["train"]
    assert s.image_path == folder / "IMG_1.JPG" and not report.findings
    np.testing.assert_array_equal(s.boxes, [[1, 2, 10, 12]])
