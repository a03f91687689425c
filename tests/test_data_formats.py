"""Readers and writers: YOLO, COCO, VOC, and exact round trips."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from _data_utils import plain_image, write_rgb, write_yolo_dataset
from yolo3.data.findings import DataError
from yolo3.data.formats import DatasetIndex, detect_format, load_dataset, save_dataset
from yolo3.data.formats.yolo import label_path, parse_label_file
from yolo3.data.sample import Sample


def test_yolo_reader_denormalises_by_image_size(tmp_path: Path) -> None:
    data = write_yolo_dataset(tmp_path, {"a.jpg": plain_image(64, 96)}, {"a.jpg": "1 0.5 0.25 0.5 0.25\n"},
                              ["x", "y"])
    index = load_dataset(data)
    s = index.splits["train"][0]
    # cx = 48, cy = 16, w = 48, h = 16 → x1 24, y1 8, x2 72, y2 24
    np.testing.assert_allclose(s.boxes, [[24, 8, 72, 24]])
    assert s.class_ids.tolist() == [1] and s.image_size == (64, 96)
    assert s.box_positions() == ["line 1"]
    assert index.format == "yolo" and index.category_ids == [1, 2]


def test_yolo_bad_lines_reported_with_line_numbers(tmp_path: Path) -> None:
    text = "\ufeff0 0.5 0.5 0.2 0.2\r\n0 0.5 nan 0.1 0.1\r\n1 0.5 0.5\r\n5 0.5 0.5 0.1 0.1\r\n0 0.5 0.5 -0.1 0.1\r\n" \
           "x 1 2 3 4\r\n0 0.5 0.5 inf 0.1\r\n1.5 0.5 0.5 0.1 0.1\r\n\r\n1 0.1 0.1 0.1 0.1\r\n"
    path = tmp_path / "a.txt"
    path.write_bytes(text.encode())
    boxes, ids, lines, findings = parse_label_file(path, 2)
    assert lines == [1, 10] and ids.tolist() == [0, 1]  # BOM and CRLF read fine
    got = {(f.kind, f.position) for f in findings}
    assert got == {("bad_label", "line 2"), ("bad_label", "line 3"), ("unknown_class", "line 4"),
                   ("bad_label", "line 5"), ("bad_label", "line 6"), ("bad_label", "line 7"),
                   ("bad_label", "line 8")}



def test_yolo_segmentation_polygon_lines_are_read_as_their_boxes(tmp_path: Path) -> None:
    """Ultralytics segment labels ('cls x1 y1 x2 y2 x3 y3 …') give the box around the points,
    counted in one polygon_label finding; 4, 6 (even) and 7-with-a-word lines stay bad_label."""
    from yolo3.data.validate import check_dataset

    text = ("1 0.25 0.25 0.75 0.125 0.5 0.75\n"  # triangle: x 0.25..0.75, y 0.125..0.75
            "0 0.5 0.5 0.25 0.25\n"
            "0 0.1 0.2 0.3 0.2 0.3 0.4 0.1 0.4\n"  # rectangle x 0.1..0.3, y 0.2..0.4
            "0 0.1 0.2 0.3 0.2 0.3\n"  # 6 columns
            "0 0.1 0.2 0.3 0.2 0.3 0.4 0.1\n"  # 8 columns
            "0 0.1 0.2 0.3 x 0.3 0.4\n")
    data = write_yolo_dataset(tmp_path, {"a.png": plain_image(64, 96)}, {"a.png": text}, ["x", "y"])
    index = load_dataset(data)
    s = index.splits["train"][0]
    np.testing.assert_allclose(s.boxes, [[24, 8, 72, 48], [36, 24, 60, 40], [9.6, 12.8, 28.8, 25.6]])
    assert s.class_ids.tolist() == [1, 0, 0] and s.box_positions() == ["line 1", "line 2", "line 3"]
    [poly] = [f for f in index.findings if f.kind == "polygon_label"]
    assert (poly.position, poly.count) == ("line 1", 2) and "bounding box" in poly.message
    bad = {f.position: f.message for f in index.findings if f.kind == "bad_label"}
    assert set(bad) == {"line 4", "line 5", "line 6"}
    assert "expected 5 columns" in bad["line 4"] and "polygon" in bad["line 4"] and "got 8" in bad["line 5"]
    assert "not numbers" in bad["line 6"]
    report = check_dataset(index)
    assert report.counts["polygon_label"] == 2 and "polygon_label (2, fixed)" in report.format()
    assert len(report.splits["train"][0].boxes) == 3


def test_yolo_image_list_written_on_windows_is_read_on_posix(tmp_path: Path) -> None:
    """A .txt list with backslash paths (images\\train\\a.jpg) finds the images when the path
    as written does not exist; a file really named with a backslash is taken as written."""
    import yaml

    data = write_yolo_dataset(tmp_path, {"a.jpg": plain_image(64, 96), "b.jpg": plain_image(64, 96, 1)},
                              {"a.jpg": "0 0.5 0.25 0.5 0.25\n", "b.jpg": ""}, ["x"])
    write_rgb(tmp_path / "c\\d.jpg", plain_image(64, 96, 2))  # a legal POSIX name holding a backslash
    (tmp_path / "train.txt").write_text("images\\train\\a.jpg\r\n.\\images\\train\\b.jpg\r\nc\\d.jpg\r\n")
    data.write_text(yaml.safe_dump({"path": ".", "train": "train.txt", "names": ["x"]}))
    [a, b, c] = load_dataset(data).splits["train"]
    assert a.image_path == tmp_path / "images" / "train" / "a.jpg" and a.image_path.is_file()
    assert b.image_path.resolve() == (tmp_path / "images" / "train" / "b.jpg").resolve()
    assert c.image_path == tmp_path / "c\\d.jpg"
    np.testing.assert_allclose(a.boxes, [[24, 8, 72, 24]])

def test_label_path_maps_images_to_labels() -> None:
    assert label_path(Path("/d/images/train/a.jpg")) == Path("/d/labels/train/a.txt")
    assert label_path(Path("/d/pics/a.png")) == Path("/d/pics/a.txt")


def _coco(tmp_path: Path, doc: dict) -> Path:
    write_rgb(tmp_path / "images" / "a.jpg", plain_image(40, 50))
    path = tmp_path / "annotations" / "instances_val.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(doc))
    return path


def test_coco_noncontiguous_categories_and_crowd(tmp_path: Path) -> None:
    doc = {"images": [{"id": 7, "file_name": "a.jpg", "width": 50, "height": 40}],
           "annotations": [{"id": 1, "image_id": 7, "category_id": 90, "bbox": [1.5, 2, 10, 20], "iscrowd": 0},
                           {"id": 2, "image_id": 7, "category_id": 3, "bbox": [0, 0, 5, 5], "iscrowd": 1}],
           "categories": [{"id": 90, "name": "toothbrush"}, {"id": 3, "name": "car"}]}
    index = load_dataset(_coco(tmp_path, doc))
    assert index.class_names == ["car", "toothbrush"] and index.category_ids == [3, 90]
    s = index.splits["val"][0]
    assert s.image_path == tmp_path / "images" / "a.jpg" and s.image_id == 7
    np.testing.assert_allclose(s.boxes, [[1.5, 2, 11.5, 22], [0, 0, 5, 5]])
    assert s.class_ids.tolist() == [1, 0] and s.difficult.tolist() == [False, True]



def test_coco_whole_number_float_ids_are_the_integer_ids(tmp_path: Path) -> None:
    """image_id 1.0 / category_id 3.0 (some tools write ids as floats) on either side match 1 / 3;
    a float that is not whole stays an error."""
    doc = {"images": [{"id": 1.0, "file_name": "a.jpg", "width": 50, "height": 40},
                      {"id": 2, "file_name": "b.jpg", "width": 50, "height": 40}],
           "annotations": [{"id": 1, "image_id": 1, "category_id": 3.0, "bbox": [1, 2, 10, 20]},
                           {"id": 2, "image_id": 2.0, "category_id": 5, "bbox": [0, 0, 5, 5]},
                           {"id": 3, "image_id": 1.5, "category_id": 3, "bbox": [0, 0, 5, 5]},
                           {"id": 4, "image_id": 1.0, "category_id": 3.5, "bbox": [0, 0, 5, 5]}],
           "categories": [{"id": 3, "name": "car"}, {"id": 5.0, "name": "bus"}]}
    index = load_dataset(_coco(tmp_path, doc))
    assert index.category_ids == [3, 5] and all(type(c) is int for c in index.category_ids)
    a, b = index.splits["val"]
    assert (a.image_id, b.image_id) == (1, 2) and type(a.image_id) is int
    np.testing.assert_allclose(a.boxes, [[1, 2, 11, 22]])
    np.testing.assert_allclose(b.boxes, [[0, 0, 5, 5]])
    assert a.class_ids.tolist() == [0] and b.class_ids.tolist() == [1]
    assert [(f.kind, f.position, f.message.split(";")[0]) for f in index.findings] == [
        ("bad_label", "annotations[2]", "image_id 1.5 is not in 'images'"),
        ("bad_label", "annotations[3]", "category_id must be an integer, got 3.5")]
    doc["categories"][0]["id"] = 3.5
    with pytest.raises(DataError, match=r"categories\[0\]\.id' must be int, got 3\.5"):
        load_dataset(_coco(tmp_path / "c", doc))

def test_coco_folder_as_downloaded_reads_the_instances_files(tmp_path: Path) -> None:
    # COCO 2017's annotations/ also holds captions_*.json (no categories) and
    # person_keypoints_*.json (a second 'train' file): the folder was refused
    write_rgb(tmp_path / "train2017" / "a.jpg", plain_image(40, 50))
    write_rgb(tmp_path / "val2017" / "b.jpg", plain_image(40, 50, 1))
    ann = tmp_path / "annotations"
    ann.mkdir()
    cats = [{"id": 1, "name": "person"}, {"id": 3, "name": "car"}]
    for split, name, cat in (("train", "a.jpg", 3), ("val", "b.jpg", 1)):
        images = [{"id": 1, "file_name": name, "width": 50, "height": 40}]
        box = [{"id": 1, "image_id": 1, "category_id": cat, "bbox": [1, 2, 10, 20]}]
        (ann / f"instances_{split}2017.json").write_text(json.dumps(
            {"images": images, "annotations": box, "categories": cats}))
        (ann / f"person_keypoints_{split}2017.json").write_text(json.dumps(
            {"images": images, "annotations": box, "categories": cats[:1]}))
        (ann / f"captions_{split}2017.json").write_text(json.dumps({"images": images, "annotations": []}))
    index = load_dataset(tmp_path)
    assert index.class_names == ["person", "car"] and sorted(index.splits) == ["train", "val"]
    assert [s.image_path for s in index.splits["train"]] == [tmp_path / "train2017" / "a.jpg"]
    assert index.splits["train"][0].class_ids.tolist() == [1] and index.splits["val"][0].class_ids.tolist() == [0]


def test_coco_missing_key_names_the_path(tmp_path: Path) -> None:
    doc = {"images": [{"id": 1, "width": 5, "height": 5}], "annotations": [], "categories": []}
    with pytest.raises(DataError, match=r"images\[0\]\.file_name"):
        load_dataset(_coco(tmp_path, doc))
    (tmp_path / "b.json").write_text(json.dumps({"images": []}))
    with pytest.raises(DataError, match="annotations"):
        load_dataset(tmp_path / "b.json")


def _voc(root: Path, xml: str, name: str = "img1") -> Path:
    (root / "Annotations").mkdir(parents=True, exist_ok=True)
    (root / "Annotations" / f"{name}.xml").write_text(xml)
    write_rgb(root / "JPEGImages" / f"{name}.jpg", plain_image(30, 40))
    return root


VOC_XML = """<annotation><filename>img1.jpg</filename><size><width>40</width><height>30</height></size>
<object><name>dog</name><truncated>1</truncated><difficult>0</difficult>
<bndbox><xmin>1</xmin><ymin>2</ymin><xmax>20</xmax><ymax>25</ymax></bndbox></object>
<object><name>cat</name><difficult>1</difficult>
<bndbox><xmin>3</xmin><ymin>4</ymin><xmax>10</xmax><ymax>12</ymax></bndbox></object>
</annotation>"""


def test_voc_keeps_difficult_and_truncated(tmp_path: Path) -> None:
    index = load_dataset(_voc(tmp_path, VOC_XML))
    assert detect_format(tmp_path) == "voc" and index.class_names == ["cat", "dog"]
    s = index.splits["train"][0]
    np.testing.assert_array_equal(s.boxes, [[1, 2, 20, 25], [3, 4, 10, 12]])
    assert s.class_ids.tolist() == [1, 0]
    assert s.difficult.tolist() == [False, True] and s.truncated.tolist() == [True, False]
    assert s.box_positions()[1] == "object 2, line 4" and s.image_size == (30, 40)


def test_voc_flags_written_as_words_or_decimals(tmp_path: Path) -> None:
    # <difficult>false</difficult> was read as difficult (any text but "0"), so the VOC
    # metrics ignored that ground truth box
    obj = ("<object><name>cat</name><difficult>{}</difficult><truncated>{}</truncated><bndbox><xmin>1</xmin>"
           "<ymin>2</ymin><xmax>9</xmax><ymax>9</ymax></bndbox></object>")
    flags = [("false", "False"), ("0.0", "no"), ("true", "1"), ("1.0", "yes"), ("", "0")]
    xml = ("<annotation><filename>img1.jpg</filename><size><width>40</width><height>30</height></size>"
           + "".join(obj.format(d, t) for d, t in flags) + "</annotation>")
    s = load_dataset(_voc(tmp_path, xml)).splits["train"][0]
    assert s.difficult.tolist() == [False, False, True, True, False]
    assert s.truncated.tolist() == [False, False, True, True, False]


def test_voc_with_an_xml_namespace_keeps_its_objects(tmp_path: Path) -> None:
    # some tools write <annotation xmlns="…">: every tag is then namespaced, and a plain
    # find("object") saw no objects at all (the image read as background-only)
    xml = VOC_XML.replace("<annotation>", '<annotation xmlns="http://example.com/voc">')
    s = load_dataset(_voc(tmp_path, xml)).splits["train"][0]
    np.testing.assert_array_equal(s.boxes, [[1, 2, 20, 25], [3, 4, 10, 12]])
    assert s.class_ids.tolist() == [1, 0] and s.difficult.tolist() == [False, True]
    assert s.image_size == (30, 40) and s.image_path.name == "img1.jpg"


@pytest.mark.parametrize("xml", [
    '<?xml version="1.0"?><!DOCTYPE a [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">'
    '<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;">]><annotation><filename>&c;</filename></annotation>',
    '<?xml version="1.0"?><!DOCTYPE a [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
    '<annotation><filename>&x;</filename></annotation>',
    "<annotation><object>",  # cut off
])
def test_voc_hostile_or_broken_xml_fails_cleanly(tmp_path: Path, xml: str) -> None:
    _voc(tmp_path, VOC_XML, "good")
    _voc(tmp_path, xml, "bad")
    index = load_dataset(tmp_path)
    assert [s.image_id for s in index.splits["train"]] == ["good"]
    assert [(f.kind, Path(f.file).name) for f in index.findings] == [("bad_annotation", "bad.xml")]


def test_round_trip_all_formats_exact_floats(tmp_path: Path) -> None:
    write_rgb(tmp_path / "src" / "a.png", plain_image(37, 53))
    s = Sample(tmp_path / "src" / "a.png", [[0.1, 1 / 3, 52.9, 36.99], [7, 8, 9, 10]], [1, 0], image_size=(37, 53))
    index = DatasetIndex(["p", "q"], {"train": [s]}, tmp_path, "yolo")
    for fmt in ("coco", "yolo", "voc"):
        back = load_dataset(save_dataset(index, tmp_path / fmt, fmt, images="link"))
        b = back.splits["train"][0]
        np.testing.assert_allclose(b.boxes, s.boxes, rtol=0, atol=1e-12)
        assert b.class_ids.tolist() == [1, 0] and back.class_names == ["p", "q"]


def test_bccd_voc_coco_yolo_voc_round_trip_is_exact(bccd_root: Path, tmp_path: Path) -> None:
    voc = load_dataset(bccd_root)
    coco = load_dataset(save_dataset(voc, tmp_path / "coco", "coco", images="link"))
    yolo = load_dataset(save_dataset(coco, tmp_path / "yolo", "yolo", images="link"))
    back = load_dataset(save_dataset(yolo, tmp_path / "voc", "voc", images="link"))
    assert back.class_names == voc.class_names == ["Platelets", "RBC", "WBC"]
    assert {k: len(v) for k, v in back.splits.items()} == {"train": 205, "val": 87, "test": 72}
    n = 0
    for split, samples in voc.splits.items():
        for a, b in zip(samples, back.splits[split], strict=True):
            assert a.image_path.name == b.image_path.name
            np.testing.assert_array_equal(a.boxes, b.boxes)  # exact integers again
            np.testing.assert_array_equal(a.class_ids, b.class_ids)
            n += len(a)
    assert n == 4888
    for a, b in zip(voc.splits["val"], coco.splits["val"]):  # COCO keeps the VOC flags
        np.testing.assert_array_equal(a.truncated, b.truncated)


def test_empty_or_unknown_dataset_is_a_clear_error(tmp_path: Path) -> None:
    data = write_yolo_dataset(tmp_path / "e", {}, {}, ["a"])
    (tmp_path / "e" / "images" / "train").mkdir(parents=True)
    with pytest.raises(DataError, match="no images"):
        load_dataset(data)
    with pytest.raises(DataError, match="not a dataset"):
        load_dataset(tmp_path)


@pytest.mark.parametrize("fmt", ["yolo", "coco", "voc", "labelme", "cvat"])
def test_write_keeps_images_that_share_a_stem(tmp_path: Path, fmt: str) -> None:
    # a.jpg / a.png share the stem of their label file (a.txt, a.xml, a.json); a second a.jpg
    # from another folder must not be renamed onto the existing a_1.jpg either
    files = ["src/a.jpg", "src/a.png", "other/a.jpg", "src/a_1.jpg"]
    samples = []
    for k, name in enumerate(files):
        write_rgb(tmp_path / name, plain_image(20 + k, 30 + k, seed=k))
        samples.append(Sample(tmp_path / name, [[k, k, k + 5, k + 6]], [0], image_size=(20 + k, 30 + k)))
    index = DatasetIndex(["p"], {"train": samples}, tmp_path, "coco")
    back = load_dataset(save_dataset(index, tmp_path / fmt, fmt, images="copy"))
    got = sorted((s.image_size or (0, 0), s.boxes.round(9).tolist()) for s in back.all_samples())
    assert got == [((20 + k, 30 + k), [[k, k, k + 5, k + 6]]) for k in range(len(files))]


def test_coco_writer_gives_every_image_its_own_id_when_source_ids_mix_types(tmp_path: Path) -> None:
    # the source's integer ids are kept; a string id was numbered by position, which could
    # repeat an integer id of the same split (both images were then left out on reading)
    samples = []
    for k, image_id in enumerate(["x", 1, 5]):
        write_rgb(tmp_path / f"{k}.jpg", plain_image(20, 30, seed=k))
        samples.append(Sample(tmp_path / f"{k}.jpg", [[k, k, k + 5, k + 6]], [0], image_id=image_id,
                              image_size=(20, 30)))
    index = DatasetIndex(["p"], {"train": samples}, tmp_path, "coco")
    back = load_dataset(save_dataset(index, tmp_path / "out", "coco", images="link"))
    got = sorted((s.image_path.name, s.boxes.tolist()) for s in back.splits["train"])
    assert got == [(f"{k}.jpg", [[k, k, k + 5, k + 6]]) for k in range(3)] and not back.findings
    ids = [s.image_id for s in back.splits["train"]]
    assert len(set(ids)) == 3


def test_no_images_left_after_parsing_says_why(tmp_path: Path) -> None:
    # a.jpg with an unparseable a.xml: "the dataset has no images" alone sent the user to
    # the split lists; the reader's findings say what is wrong
    write_rgb(tmp_path / "a.jpg", plain_image(20, 30))
    (tmp_path / "a.xml").write_text("<annotation><object>")
    with pytest.raises(DataError, match="no images") as err:
        load_dataset(tmp_path)
    assert "a.xml" in str(err.value) and "bad_annotation: cannot parse XML" in str(err.value)


def test_yolo_label_file_without_an_image_is_reported(tmp_path: Path) -> None:
    # labels/train/b.txt (its image has a suffix not read, b.jfif) and c.txt (image deleted)
    # were ignored without a word: their boxes vanished and check-data said "no problems found"
    data = write_yolo_dataset(tmp_path, {"a.jpg": plain_image(20, 30)},
                              {"a.jpg": "0 0.5 0.5 0.2 0.2\n", "b.jfif": "0 0.5 0.5 0.2 0.2\n",
                               "c.jpg": "0 0.5 0.5 0.2 0.2\n"}, ["x"])
    (tmp_path / "images" / "train" / "b.jfif").write_bytes((tmp_path / "images" / "train" / "a.jpg").read_bytes())
    (tmp_path / "labels" / "train" / "classes.txt").write_text("x\n")  # LabelImg's: not a label file
    index = load_dataset(data)
    assert [s.image_path.name for s in index.splits["train"]] == ["a.jpg"]
    assert sorted((f.kind, Path(f.file).name) for f in index.findings) == [
        ("bad_annotation", "b.txt"), ("bad_annotation", "c.txt")]
    assert "no image" in index.findings[0].message


def test_yolo_labels_beside_images_or_of_a_listed_subset_are_not_orphans(tmp_path: Path) -> None:
    write_rgb(tmp_path / "flat" / "a.jpg", plain_image(20, 30))
    (tmp_path / "flat" / "a.txt").write_text("0 0.5 0.5 0.2 0.2\n")
    (tmp_path / "flat" / "notes.txt").write_text("not a label\n")  # beside the images: not judged
    (tmp_path / "data.yaml").write_text("path: .\ntrain: flat\nnames: [x]\n")
    assert load_dataset(tmp_path / "data.yaml").findings == []


def test_a_class_name_given_twice_is_a_clear_error(tmp_path: Path) -> None:
    # COCO categories 1 and 2 both named 'cat': converted to VOC (boxes carry names) the
    # boxes of category 1 came back as category 2, silently; the summary counted 'cat 1'
    write_rgb(tmp_path / "images" / "a.jpg", plain_image(20, 30))
    doc = {"images": [{"id": 1, "file_name": "a.jpg", "width": 30, "height": 20}],
           "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [1, 2, 5, 5]}],
           "categories": [{"id": 1, "name": "cat"}, {"id": 2, "name": "cat"}]}
    (tmp_path / "train.json").write_text(json.dumps(doc))
    with pytest.raises(DataError, match=r"class name 'cat' .* classes 0 and 1") as err:
        load_dataset(tmp_path / "train.json")
    assert str(tmp_path / "train.json") in str(err.value)
    data = write_yolo_dataset(tmp_path / "y", {"a.jpg": plain_image(20, 30)}, {"a.jpg": "1 0.5 0.5 0.2 0.2\n"},
                              ["dog", "cat", "cat"])
    with pytest.raises(DataError, match=r"'cat' .* classes 1 and 2") as err:
        load_dataset(data)
    assert str(data) in str(err.value)


def test_a_split_entry_one_level_too_high_as_roboflow_writes_it_is_read(tmp_path: Path) -> None:
    # Roboflow's YOLO export: data.yaml beside train/ and valid/, but `train: ../train/images`; it
    # failed with 'not a folder' (later with a hint): every such download needed its data.yaml edited
    ds = tmp_path / "ds"
    write_rgb(ds / "train" / "images" / "a.jpg", plain_image(20, 30))
    (ds / "train" / "labels").mkdir()
    (ds / "train" / "labels" / "a.txt").write_text("0 0.5 0.5 0.2 0.2\n")
    write_rgb(ds / "valid" / "images" / "b.jpg", plain_image(20, 30, 1))
    (ds / "data.yaml").write_text("train: ../train/images\nval: ../valid/images\nnames: [cell]\n")
    index = load_dataset(ds / "data.yaml")
    assert [s.image_path for s in index.splits["train"]] == [ds / "train" / "images" / "a.jpg"]
    assert index.splits["train"][0].boxes.tolist() == [[12.0, 8.0, 18.0, 12.0]]
    assert [s.image_path for s in index.splits["val"]] == [ds / "valid" / "images" / "b.jpg"]
    (ds / "train" / "labels" / "gone.txt").write_text("0 0.5 0.5 0.2 0.2\n")  # its image deleted: reported here too
    assert [str(f.file) for f in load_dataset(ds / "data.yaml").findings if f.kind == "bad_annotation"] == [
        str(ds / "train" / "labels" / "gone.txt")]
    write_rgb(tmp_path / "train" / "images" / "c.jpg", plain_image(20, 30))  # it exists as written: taken as written
    with pytest.raises(DataError, match="allow-outside-root"):
        load_dataset(ds / "data.yaml")


def test_yolo_split_folder_follows_linked_subfolders(tmp_path: Path) -> None:
    # images/train/batch1 → a folder elsewhere: its images were skipped without a word
    # (Path.rglob does not enter linked folders)
    ds = tmp_path / "ds"
    data = write_yolo_dataset(ds, {"b.jpg": plain_image(20, 30)}, {"b.jpg": "0 0.5 0.5 0.2 0.2\n"}, ["x"])
    write_rgb(ds / "store" / "batch1" / "a.jpg", plain_image(20, 30, 1))
    (ds / "images" / "train" / "batch1").symlink_to(ds / "store" / "batch1", target_is_directory=True)
    (ds / "images" / "train" / "loop").symlink_to(ds / "images" / "train", target_is_directory=True)  # ends
    (ds / "labels" / "train" / "batch1").mkdir()
    (ds / "labels" / "train" / "batch1" / "a.txt").write_text("0 0.5 0.5 0.2 0.2\n")
    index = load_dataset(data)
    assert [s.image_path.relative_to(ds).as_posix() for s in index.splits["train"]] == [
        "images/train/b.jpg", "images/train/batch1/a.jpg"] and not index.findings
    write_rgb(tmp_path / "elsewhere" / "c.jpg", plain_image(20, 30, 2))
    (ds / "images" / "train" / "far").symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    with pytest.raises(DataError, match="allow-outside-root"):  # outside the data.yaml's tree, as a split folder
        load_dataset(data)
    assert len(load_dataset(data, allow_outside_root=True).splits["train"]) == 3


def test_yolo_writer_normalises_by_the_image_files_size(tmp_path: Path) -> None:
    # a VOC <size> of 60x40 for a 30x20 file: check-data and training keep the pixel boxes and
    # use the file's size; the YOLO writer normalised by the stated size, so the YOLO copy
    # (read back by the file's size) held every box at half its coordinates
    write_rgb(tmp_path / "a.jpg", plain_image(20, 30))
    s = Sample(tmp_path / "a.jpg", [[2, 3, 10, 12]], [0], image_size=(40, 60))
    index = DatasetIndex(["p"], {"train": [s]}, tmp_path, "voc")
    back = load_dataset(save_dataset(index, tmp_path / "y", "yolo", images="link"))
    np.testing.assert_allclose(back.splits["train"][0].boxes, [[2, 3, 10, 12]], rtol=0, atol=1e-12)


def test_convert_writes_yolo_polygon_lines_as_boxes_with_a_note(tmp_path: Path) -> None:
    from yolo3.data.convert import convert_dataset

    data = write_yolo_dataset(tmp_path / "src", {"a.png": plain_image(64, 96)},
                              {"a.png": "0 0.25 0.25 0.75 0.125 0.5 0.75\n"}, ["x"])
    result = convert_dataset(data, tmp_path / "out", "coco")
    assert any("1 YOLO segmentation polygon lines" in n for n in result.notes)
    np.testing.assert_allclose(load_dataset(result.path).splits["train"][0].boxes, [[24, 8, 72, 48]])


def _roboflow_coco(root: Path, placeholder_used: bool = False) -> Path:
    """A COCO export as Roboflow writes it: train/ valid/ test/, each with its images and
    _annotations.coco.json; category 0 is the project ('cells'), supercategory of the others."""
    categories = [{"id": 0, "name": "cells", "supercategory": "none"},
                  {"id": 1, "name": "RBC", "supercategory": "cells"}, {"id": 2, "name": "WBC", "supercategory": "cells"}]
    for k, split in enumerate(("train", "valid", "test")):
        folder = root / split
        folder.mkdir(parents=True)
        images, anns = [], []
        for i in range(2):
            name = f"img{i}_jpg.rf.{k}{i}.jpg"
            write_rgb(folder / name, plain_image(40, 60, 10 * k + i))
            images.append({"id": i, "file_name": name, "width": 60, "height": 40})
            anns.append({"id": i, "image_id": i, "category_id": 1 + i, "bbox": [5, 6, 20, 10], "iscrowd": 0})
        if placeholder_used:
            anns.append({"id": 9, "image_id": 0, "category_id": 0, "bbox": [1, 1, 5, 5], "iscrowd": 0})
        (folder / "_annotations.coco.json").write_text(json.dumps(
            {"images": images, "annotations": anns, "categories": categories}))
    return root


def test_roboflow_coco_export_reads_one_split_per_folder_without_its_placeholder_class(tmp_path: Path) -> None:
    # found: such a folder was "not a dataset"; and the placeholder category 0 became an empty class
    root = _roboflow_coco(tmp_path / "rf")
    assert detect_format(root) == "coco"
    index = load_dataset(root)
    assert index.class_names == ["RBC", "WBC"] and index.category_ids == [1, 2]
    assert {k: len(v) for k, v in index.splits.items()} == {"train": 2, "val": 2, "test": 2}
    first = index.splits["val"][0]
    assert first.image_path == root / "valid" / "img0_jpg.rf.10.jpg" and first.class_ids.tolist() == [0]
    assert first.boxes.tolist() == [[5.0, 6.0, 25.0, 16.0]]
    assert index.splits["test"][1].class_ids.tolist() == [1]
    used = load_dataset(_roboflow_coco(tmp_path / "rf2", placeholder_used=True))  # a box uses it: a class
    assert used.class_names == ["cells", "RBC", "WBC"]
