"""check-data: every kind of problem is found, located, counted, and handled by policy."""

from __future__ import annotations

import io
from pathlib import Path

import cv2
import numpy as np
import pytest
from _data_utils import plain_image, write_rgb, write_yolo_dataset
from PIL import Image

from yolo3.config import ConfigError
from yolo3.data.findings import DataError
from yolo3.data.formats import load_dataset
from yolo3.data.validate import CheckPolicy, DataCheckError, check_dataset

BOX = "0 0.5 0.5 0.25 0.25\n"


def _encoded(arr: np.ndarray, suffix: str) -> bytes:
    ok, buf = cv2.imencode(suffix, arr)
    assert ok
    return buf.tobytes()


def _pil_bytes(img: Image.Image, fmt: str, **kw) -> bytes:
    out = io.BytesIO()
    img.save(out, fmt, **kw)
    return out.getvalue()


@pytest.fixture
def broken(tmp_path: Path) -> Path:
    good = _encoded(plain_image(64, 96), ".jpg")
    rgb = Image.fromarray(plain_image(64, 96, 1))
    exif = Image.Exif()
    exif[0x0112] = 6
    images = {
        "good.jpg": good,
        "copy.jpg": good,  # duplicate image file
        "trunc.jpg": _encoded(plain_image(64, 96, 2), ".jpg")[:-600],
        "pngjpg.jpg": _encoded(plain_image(64, 96, 3), ".png"),
        "grey.png": _pil_bytes(rgb.convert("L"), "PNG"),
        "rgba.png": _pil_bytes(rgb.convert("RGBA"), "PNG"),
        "pal.png": _pil_bytes(rgb.convert("P"), "PNG"),
        "d16.png": _encoded((plain_image(64, 96, 4)[..., 0].astype(np.uint16) * 257), ".png"),
        "cmyk.jpg": _pil_bytes(rgb.convert("CMYK"), "JPEG"),
        "exif.jpg": _pil_bytes(rgb, "JPEG", exif=exif),
        "tiny.png": _encoded(np.zeros((1, 1, 3), np.uint8), ".png"),
        "text.jpg": b"this is not an image\n",
        "empty.jpg": b"",
        "oob.jpg": _encoded(plain_image(64, 96, 5), ".jpg"),
        "zero.jpg": _encoded(plain_image(64, 96, 6), ".jpg"),
        "dup.jpg": _encoded(plain_image(64, 96, 7), ".jpg"),
        "nolabel.jpg": _encoded(plain_image(64, 96, 8), ".jpg"),
        "bg.jpg": _encoded(plain_image(64, 96, 9), ".jpg"),
    }
    labels = {name: BOX for name in images}
    labels.update({"oob.jpg": "0 0.95 0.5 0.2 0.5\n0 1.5 0.5 0.2 0.2\n", "zero.jpg": "0 0.5 0.5 0 0.1\n" + BOX,
                   "dup.jpg": BOX + BOX + "1 0.5 0.5 0.25 0.25\n", "nolabel.jpg": None, "bg.jpg": "",
                   "good.jpg": BOX + "3 0.5 0.5 0.1 0.1\n0 0.5 nan 0.1 0.1\n"})
    return write_yolo_dataset(tmp_path, images, labels, ["a", "b"])


def _by_file(report) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for f in report.findings:
        out.setdefault(Path(f.file).stem, set()).add(f.kind)
    return out


def test_every_problem_is_found_with_its_file(broken: Path) -> None:
    report = check_dataset(load_dataset(broken))
    kinds = _by_file(report)
    expected = {
        "good": {"duplicate_image", "unknown_class", "bad_label"}, "trunc": {"truncated_image"}, "pngjpg": {"wrong_extension"},
        "grey": {"non_rgb"}, "rgba": {"non_rgb"}, "pal": {"non_rgb"}, "d16": {"non_rgb"}, "cmyk": {"non_rgb"},
        "exif": {"exif_orientation"}, "tiny": {"tiny_image"}, "text": {"unreadable"},
        "empty": {"unreadable"}, "oob": {"out_of_bounds"}, "zero": {"degenerate_box"},
        "dup": {"duplicate_box"}, "nolabel": {"missing_label_file", "no_labels"}, "bg": {"no_labels"},
    }
    for stem, want in expected.items():
        assert want <= kinds.get(stem, set()), (stem, kinds.get(stem))
    messages = {Path(f.file).stem: f for f in report.findings if f.kind in ("non_rgb", "bad_label")}
    assert "16-bit" in messages["d16"].message and "palette" in messages["pal"].message
    assert messages["good"].position == "line 3"
    text = report.format()
    assert "text.jpg" in text and "empty file" in text and "text, not an image" in text
    assert report.counts["non_rgb"] == 5 and report.counts["unreadable"] == 2


def test_policies_clean_the_boxes(broken: Path) -> None:
    report = check_dataset(load_dataset(broken))
    kept = {s.image_path.stem: s for s in report.splits["train"]}
    assert not {"text", "empty", "trunc"} & set(kept)  # unreadable and truncated: skipped
    # oob: first box x 0.85..1.05 of 96 → clipped at 96; second entirely outside → dropped
    np.testing.assert_allclose(kept["oob"].boxes, [[81.6, 16, 96, 48]])
    assert len(kept["zero"]) == 1 and len(kept["dup"]) == 2  # zero-size dropped; exact duplicate dropped
    assert kept["dup"].class_ids.tolist() == [0, 1]  # a different class is not a duplicate
    assert kept["exif"].image_size == (96, 64)  # upright size after EXIF rotation
    oob = [f for f in report.findings if f.kind == "out_of_bounds" and "oob" in str(f.file)]
    assert [f.position for f in oob] == ["line 1", "line 2"] and [f.action for f in oob] == ["fixed", "fixed"]
    assert report.summary()["images_checked"] == 18


def test_stop_policy_raises_with_report(broken: Path) -> None:
    with pytest.raises(DataCheckError, match="degenerate_box") as err:
        check_dataset(load_dataset(broken), CheckPolicy(degenerate_box="stop"))
    assert err.value.report.counts["degenerate_box"] == 1


def test_skip_and_fix_variants(broken: Path) -> None:
    policy = CheckPolicy(out_of_bounds="skip", non_rgb="skip", duplicate_image="skip", no_labels="skip",
                         duplicate_box="warn")
    kept = {s.image_path.stem: s for s in check_dataset(load_dataset(broken), policy).splits["train"]}
    assert "oob" not in kept or len(kept["oob"]) == 0
    assert not {"grey", "rgba", "pal", "d16", "cmyk", "good", "bg", "nolabel"} & set(kept)  # good = copy's duplicate
    assert len(kept["dup"]) == 3


def test_inverted_box_fix_swaps_corners(tmp_path: Path) -> None:
    data = write_yolo_dataset(tmp_path, {"a.jpg": plain_image(64, 96)}, {"a.jpg": BOX}, ["a"])
    index = load_dataset(data)
    index.splits["train"][0].boxes[0] = [40, 30, 20, 10]
    report = check_dataset(index, CheckPolicy(degenerate_box="fix"))
    np.testing.assert_array_equal(report.splits["train"][0].boxes, [[20, 10, 40, 30]])


def test_size_mismatch_including_zero_size_and_pixel_cap(tmp_path: Path) -> None:
    data = write_yolo_dataset(tmp_path, {"a.jpg": plain_image(64, 96), "b.jpg": plain_image(80, 80)},
                              {"a.jpg": BOX, "b.jpg": BOX}, ["a"])
    index = load_dataset(data)
    index.splits["train"][0].image_size = (0, 0)  # as VOC files with <width>0</width> say
    report = check_dataset(index, CheckPolicy(max_pixels=6200))
    kinds = {(Path(f.file).stem, f.kind) for f in report.findings}
    assert ("a", "size_mismatch") in kinds and ("b", "too_large") in kinds
    assert report.splits["train"][0].image_size == (64, 96) and len(report.splits["train"]) == 1


def test_nothing_usable_and_bad_policy_are_clear_errors(tmp_path: Path) -> None:
    data = write_yolo_dataset(tmp_path, {"a.jpg": b"junk"}, {"a.jpg": BOX}, ["a"])
    with pytest.raises(DataError, match="no usable images"):
        check_dataset(load_dataset(data))
    with pytest.raises(ConfigError, match="unreadable"):
        CheckPolicy(unreadable="fix")


def test_bccd_report_names_known_defects(bccd_root: Path) -> None:
    report = check_dataset(load_dataset(bccd_root))
    zero = sorted(Path(f.file).stem for f in report.findings if f.kind == "degenerate_box")
    assert zero == ["BloodImage_00338", "BloodImage_00343"]
    doubles = sorted(Path(f.file).stem[-5:] for f in report.findings if f.kind == "near_duplicate_box")
    assert doubles == ["00013", "00020", "00100", "00104", "00251", "00284", "00331", "00403"]
    assert set(report.counts) == {"degenerate_box", "near_duplicate_box"}
    assert sum(len(s) for split in report.splits.values() for s in split) == 4888 - 2
    assert "BloodImage_00338.xml:object 13, line 158" in report.format()


def test_image_findings_in_a_shared_annotation_file_name_the_image(tmp_path: Path) -> None:
    # a COCO JSON annotates every image: "train.json: no_labels" alone does not say which image
    import json

    for name in ("a.jpg", "b.jpg", "c.jpg"):
        write_rgb(tmp_path / "images" / name, plain_image(64, 96, seed=ord(name[0])))
    doc = {"images": [{"id": 1, "file_name": "a.jpg", "width": 96, "height": 64},
                      {"id": 2, "file_name": "b.jpg", "width": 96, "height": 64},
                      {"id": 3, "file_name": "c.jpg", "width": 50, "height": 40}],
           "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [1, 1, 10, 10]},
                           {"id": 2, "image_id": 3, "category_id": 1, "bbox": [1, 1, 10, 10]}],
           "categories": [{"id": 1, "name": "x"}]}
    (tmp_path / "train.json").write_text(json.dumps(doc))
    report = check_dataset(load_dataset(tmp_path / "train.json"))
    found = {f.kind: f for f in report.findings}
    assert set(found) == {"no_labels", "size_mismatch"}
    assert Path(found["no_labels"].file).name == "train.json" and "b.jpg" in found["no_labels"].position
    assert "c.jpg" in found["size_mismatch"].position and "size" in found["size_mismatch"].position


def test_complete_images_with_data_after_the_end_marker_are_not_truncated(tmp_path: Path) -> None:
    # phones append trailers after a JPEG's end marker (Samsung's SEFH…SEFT) and tools append
    # data after a PNG's IEND: the pictures are whole, but were skipped as "cut off"
    trailer = b"SEFH" + bytes(range(256)) * 2 + b"SEFT"
    jpg, png = _encoded(plain_image(64, 96), ".jpg"), _encoded(plain_image(64, 96, 1), ".png")
    app1 = b"\xff\xe1" + (4 + 300).to_bytes(2, "big") + b"\xff\xd8" + bytes(296) + b"\xff\xd9"  # an EOI inside APP1
    thumb_cut = (jpg[:2] + app1 + jpg[2:])[:-600]  # cut in the scan: the only EOI left is the thumbnail's
    data = write_yolo_dataset(tmp_path, {"tail.jpg": jpg + trailer, "tail.png": png + trailer,
                                         "cut.jpg": jpg[:-600], "cut.png": png[:-40], "thumb_cut.jpg": thumb_cut},
                              {n: BOX for n in ("tail.jpg", "tail.png", "cut.jpg", "cut.png", "thumb_cut.jpg")}, ["a"])
    report = check_dataset(load_dataset(data))
    truncated = sorted(Path(f.file).name for f in report.findings if f.kind == "truncated_image")
    assert truncated == ["cut.jpg", "cut.png", "thumb_cut.jpg"]
    assert sorted(s.image_path.name for s in report.splits["train"]) == ["tail.jpg", "tail.png"]


def test_images_the_check_keeps_are_the_images_read_image_reads(tmp_path: Path) -> None:
    # a float or 32-bit int TIFF (thermal, depth, remote sensing) decoded in the check's own
    # mode, so it was kept as "non_rgb: converted to 8-bit RGB when read [fixed]", and then
    # read_image refused it in the middle of training
    from yolo3.data.image_io import read_image

    rng = np.random.default_rng(0)
    images = {"f.tif": _pil_bytes(Image.fromarray(rng.random((64, 96)).astype(np.float32), "F"), "TIFF"),
              "i.tif": _pil_bytes(Image.fromarray(rng.integers(0, 2**31, (64, 96), dtype=np.int32), "I"), "TIFF"),
              "ok.png": _encoded(plain_image(64, 96), ".png")}
    data = write_yolo_dataset(tmp_path, images, {n: BOX for n in images}, ["a"])
    report = check_dataset(load_dataset(data))
    kept = report.splits["train"]
    assert [s.image_path.name for s in kept] == ["ok.png"]
    for s in kept:
        assert read_image(s.image_path).shape == (64, 96, 3)
    unreadable = {Path(f.file).name: f for f in report.findings if f.kind == "unreadable"}
    assert set(unreadable) == {"f.tif", "i.tif"} and "8-bit" in unreadable["f.tif"].message
    assert not [f for f in report.findings if f.kind == "non_rgb" and Path(f.file).name in unreadable]
