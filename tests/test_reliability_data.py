"""Data from the wild through check-data, train, val and detect (issue 10).

One dataset holds every defect (see _reliability_utils), in YOLO and in VOC layout,
under a path with unicode and spaces. For each defect: the message names the file and
the problem, the policy's action is applied, the counts add up, the run finishes and
nothing is lost silently.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

import _reliability_utils as R
from yolo3.cli import main as cli_main
from yolo3.data.findings import DataError
from yolo3.data.formats import load_dataset
from yolo3.data.image_io import ImageReadError, read_image
from yolo3.data.validate import check_dataset


@pytest.fixture(scope="module")
def bad(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("rel") / R.UNSAFE_DIR
    secret = root / "secret file.txt"
    secret.parent.mkdir(parents=True)
    secret.write_text(R.SECRET)
    return {"yolo": R.write_yolo(root / "yolo ds"), "voc": R.write_voc(root / "voc ds", secret), "root": root}


@pytest.fixture(scope="module")
def reports(bad):
    return {fmt: check_dataset(load_dataset(bad[fmt])) for fmt in ("yolo", "voc")}


@pytest.mark.parametrize("fmt", ["yolo", "voc"])
def test_every_defect_is_reported_with_file_position_and_action(reports, fmt: str) -> None:
    report = reports[fmt]
    expected = R.EXPECTED_YOLO if fmt == "yolo" else R.EXPECTED_VOC
    for want in expected:
        assert any(R.matches(f, want) for f in report.findings), (want, [f.format() for f in report.findings
                                                                        if Path(f.file).name == want.file])
    # every finding names a real path inside the dataset, and the counts are the findings per kind
    assert all(R.UNSAFE_DIR in str(f.file) for f in report.findings)
    assert report.counts == dict(Counter(f.kind for f in report.findings))
    # the entity's target was never read into anything
    assert R.SECRET not in report.format() and R.SECRET not in repr(report.splits)


@pytest.mark.parametrize("fmt", ["yolo", "voc"])
def test_cleaned_splits_keep_exactly_what_the_policy_says(reports, fmt: str) -> None:
    report = reports[fmt]
    kept = {s.image_path.stem: s for s in report.splits["train"]}
    assert not R.SKIPPED_IMAGES & set(kept)
    # every image is either kept or has a finding whose action is 'skipped' (nothing vanishes)
    written = {Path(p).stem for p in R.bad_images()} | ({"bomb", "entity"} if fmt == "voc" else set())
    skipped = {Path(f.file).stem for f in report.findings if f.action == "skipped" and f.position == ""
               and Path(f.file).name != "train.txt"}
    if fmt == "yolo":
        assert {s for s in skipped if s.startswith("val ")} == {"val empty", "val text"}
        skipped = {s for s in skipped if not s.startswith("val ")}
    missing_xml = {f.message.split(":")[0] for f in report.findings if Path(f.file).name == "train.txt"}
    assert written == set(kept) | skipped | missing_xml
    if fmt == "yolo":
        for stem, boxes in R.KEPT_BOXES.items():
            np.testing.assert_allclose(kept[stem].boxes, boxes, atol=1e-9, err_msg=stem)
        assert kept["crlf"].class_ids.tolist() == [0, 1] and len(kept["no_label"]) == 0
        assert len(report.splits["val"]) == 2  # val a.jpg, val b.png (grey, fixed); the broken two skipped
    else:
        np.testing.assert_allclose(kept["numbers"].boxes, [[0, 24, 20, 40], [36, 24, 60, 40]])
        assert kept["png_named"].image_size == (64, 96)  # the file's size replaces the XML's 0×0
        assert kept["exif6"].image_size == (96, 64)  # upright
        assert {"crlf", "bom", "good one", "ünï cødé"} <= set(kept)


def test_exif_rotated_pixels_are_read_upright(bad) -> None:
    image = read_image(bad["yolo"].parent / "images" / "train" / "exif6.jpg")
    assert image.shape == (96, 64, 3)
    np.testing.assert_allclose(image.astype(float), np.rot90(R.smooth(), -1).astype(float), atol=12)


def test_non_rgb_files_read_as_rgb_uint8(bad) -> None:
    folder = bad["yolo"].parent / "images" / "train"
    for name in ("grey.png", "rgba.png", "palette.png", "sixteen.png", "cmyk.jpg", "png_named.jpg", "one_pixel.png"):
        image = read_image(folder / name)
        assert image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3, name
    grey = read_image(folder / "grey.png")
    assert (grey[..., 0] == grey[..., 1]).all() and (grey[..., 1] == grey[..., 2]).all()
    assert read_image(folder / "sixteen.png")[..., 0].tolist() == R.rgb(7)[..., 0].tolist()  # 16→8 bit: >> 8


HUGE_READ = """
import resource, sys
from yolo3.data.image_io import ImageReadError, read_image
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
try:
    read_image(sys.argv[1])
    print("DECODED")
except ImageReadError as err:
    print("REFUSED", err)
print("GROWTH_KB", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before)
"""


def test_huge_image_is_refused_before_decoding_with_bounded_memory(bad) -> None:
    path = bad["yolo"].parent / "images" / "train" / "huge.jpg"
    out = subprocess.run([sys.executable, "-c", HUGE_READ, str(path)], capture_output=True, text=True, timeout=60)
    assert "REFUSED" in out.stdout and "12000x9000" in out.stdout and "downscale" in out.stdout, out.stdout + out.stderr
    growth_mb = int(out.stdout.split("GROWTH_KB")[1]) / 1024
    assert growth_mb < 50  # a decode would need 12000·9000·3 B = 309 MiB
    with pytest.raises(ImageReadError, match="huge.jpg"):
        read_image(path)


def test_cli_check_data_prints_files_and_counts(bad, capsys) -> None:
    for fmt in ("yolo", "voc"):
        assert cli_main(["check-data", str(bad[fmt])]) == 0
        out = capsys.readouterr().out
        assert "empty.jpg: unreadable: empty file" in out and "totals:" in out
        assert "huge.jpg: too_large: 12000x9000" in out
    assert "numbers.txt:line 1: bad_label: NaN or inf" in cli_main_out(bad["yolo"], capsys)
    assert cli_main(["check-data", str(bad["yolo"]), "--policy", "unreadable=stop"]) == 2
    captured = capsys.readouterr()
    assert "empty.jpg" in captured.err and "stop" in captured.err and "unreadable (4, stopped)" in captured.out


def cli_main_out(data: Path, capsys) -> str:
    assert cli_main(["check-data", str(data)]) == 0
    return capsys.readouterr().out


def test_empty_datasets_are_clear_errors(tmp_path: Path) -> None:
    yolo = tmp_path / "empty yolo"
    (yolo / "images" / "train").mkdir(parents=True)
    (yolo / "data.yaml").write_text("path: .\ntrain: images/train\nnames: [a]\n")
    with pytest.raises(DataError, match="no images"):
        load_dataset(yolo / "data.yaml")
    voc = tmp_path / "empty voc"
    (voc / "Annotations").mkdir(parents=True)
    with pytest.raises(DataError, match="no images"):
        load_dataset(voc)
    assert cli_main(["check-data", str(voc)]) == 2


def _coco(tmp_path: Path, doc: dict) -> Path:
    path = tmp_path / "annotations" / "train.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc))
    return path


GOOD_IMAGE = {"id": 1, "file_name": "a.jpg", "width": 96, "height": 64}
CATS = [{"id": 1, "name": "cell"}]


@pytest.mark.parametrize("ann, message", [
    ({"id": 5, "image_id": 1, "category_id": 1}, r"missing key\(s\) \['bbox'\]"),
    ({"id": 5, "image_id": 1, "bbox": [1, 2, 3, 4]}, r"missing key\(s\) \['category_id'\]"),
    ({"id": 5, "category_id": 1, "bbox": [1, 2, 3, 4]}, r"missing key\(s\) \['image_id'\]"),
    ({"id": 5, "image_id": [1], "category_id": 1, "bbox": [1, 2, 3, 4]}, r"image_id \[1\] is not in 'images'"),
    ({"id": 5, "image_id": 1, "category_id": "1", "bbox": [1, 2, 3, 4]}, "category_id must be an integer"),
    ({"id": 5, "image_id": 1, "category_id": 1, "bbox": "1234"}, "bbox must be 4 numbers"),
    ({"id": 5, "image_id": 1, "category_id": 1, "bbox": [1, 2, 3]}, "bbox must be 4 numbers"),
    ({"id": 5, "image_id": 1, "category_id": 1, "bbox": [1e308, 2, 1e308, 4]}, "NaN or inf"),
    ([1, 2], "must be an object"),
])
def test_coco_broken_annotation_is_left_out_with_a_finding(tmp_path: Path, ann, message: str) -> None:
    good = {"id": 9, "image_id": 1, "category_id": 1, "bbox": [10, 10, 20, 20]}
    index = load_dataset(_coco(tmp_path, {"images": [GOOD_IMAGE], "annotations": [ann, good], "categories": CATS}))
    (finding,) = index.findings
    assert finding.position.startswith("annotations[0]") and finding.kind == "bad_label"
    assert re.search(message, finding.message), finding.message
    np.testing.assert_array_equal(index.splits["train"][0].boxes, [[10, 10, 30, 30]])


@pytest.mark.parametrize("doc, message", [
    ({"images": [GOOD_IMAGE], "annotations": []}, "missing key 'categories'"),
    ({"images": [GOOD_IMAGE], "annotations": [], "categories": [{"name": "x"}]}, r"categories\[0\]\.id"),
    ({"images": [GOOD_IMAGE], "annotations": [], "categories": [{"id": "a", "name": "x"}]}, r"categories\[0\]\.id' must be int"),
    ({"images": [GOOD_IMAGE], "annotations": [], "categories": CATS * 2}, "repeat"),
    ({"images": [{"id": 1}], "annotations": [], "categories": CATS}, r"images\[0\]\.file_name"),
    ({"images": [{"file_name": "a.jpg"}], "annotations": [], "categories": CATS}, r"images\[0\]\.id"),
    ({"images": [{**GOOD_IMAGE, "height": "tall"}], "annotations": [], "categories": CATS}, r"images\[0\]\.height"),
    ({"images": [{**GOOD_IMAGE, "width": float("nan")}], "annotations": [], "categories": CATS}, "finite"),
])
def test_coco_broken_structure_is_a_clear_error_naming_the_key(tmp_path: Path, doc: dict, message: str) -> None:
    path = _coco(tmp_path, doc)
    with pytest.raises(DataError, match=message) as err:
        load_dataset(path)
    assert str(path) in str(err.value)
