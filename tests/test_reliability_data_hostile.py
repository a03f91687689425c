"""check-data on hostile or odd input (issue 14.3, 14.6, 14.8, 14.9, 14.10, 14.13; 17):
no box "fixed" into a wrong label, no image given another's boxes, bounded time and
memory on FIFOs, /dev/zero, `path: /`, YAML alias bombs and 10⁵ boxes on one image.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from _data_utils import painted, pixel_box, plain_image, write_yolo_dataset
from PIL import Image, ImageOps

from yolo3.data import check_boxes as cb
from yolo3.data.findings import DataError
from yolo3.data.formats import load_dataset
from yolo3.data.image_io import read_image
from yolo3.data.validate import CheckPolicy, check_dataset

REPO = Path(__file__).resolve().parents[1]


def _run_python(code: str, *args: str, timeout: float = 60, data_limit: int = 2 << 30) -> subprocess.CompletedProcess:
    """Runs code in a fresh interpreter with at most data_limit bytes of heap (a runaway
    read fails there, not on the machine) and a timeout (a hang fails the test)."""
    preamble = f"import resource; resource.setrlimit(resource.RLIMIT_DATA, ({data_limit}, {data_limit}))\n"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-c", preamble + textwrap.dedent(code), *args], capture_output=True,
                          text=True, timeout=timeout, env=env)


def _by_kind(report, kind: str) -> list:
    return [f for f in report.findings if f.kind == kind]


# --- 14.6: boxes never "fixed" into wrong labels -------------------------------------

def test_boxes_that_overflow_when_scaled_are_bad_labels_not_full_image_boxes(tmp_path: Path) -> None:
    # 1e308 is finite in the file; times the 96-pixel width it is inf (and inf - inf is nan)
    labels = "0 0.5 0.5 1e308 1e308\n0 1e308 0.5 0.1 0.1\n0 0.5 0.5 0.25 0.25\n"
    data = write_yolo_dataset(tmp_path, {"a.jpg": plain_image(64, 96)}, {"a.jpg": labels}, ["x"])
    report = check_dataset(load_dataset(data))
    bad = _by_kind(report, "bad_label")
    assert [f.position for f in bad] == ["line 1", "line 2"] and all(f.action == "skipped" for f in bad)
    assert all("not finite" in f.message for f in bad)
    assert not _by_kind(report, "out_of_bounds")
    (sample,) = report.splits["train"]
    np.testing.assert_array_equal(sample.boxes, [[36, 24, 60, 40]])  # only line 3, no [0, 0, 96, 64]


def _exif_jpeg(stored: np.ndarray, orientation: int) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = orientation
    out = io.BytesIO()
    Image.fromarray(stored).save(out, "JPEG", quality=98, exif=exif)
    return out.getvalue()


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_to_displayed_agrees_with_pillows_exif_transpose(orientation: int) -> None:
    stored = painted(40, 70, [(5, 3, 25, 13), (50, 20, 66, 38)], [(255, 0, 0), (0, 255, 0)])
    shown = Image.fromarray(stored)
    exif = shown.getexif()
    exif[0x0112] = orientation
    shown.info["exif"] = exif.tobytes()
    shown = np.asarray(ImageOps.exif_transpose(shown))  # Pillow's own implementation, the reference
    for colour in ((255, 0, 0), (0, 255, 0)):
        mapped = cb.exif_to_displayed(pixel_box(stored, colour)[None], (40, 70), orientation)
        np.testing.assert_array_equal(mapped[0], pixel_box(shown, colour))


def _voc(root: Path, images: dict[str, tuple[bytes, tuple[int, int], list[tuple[int, ...]]]]) -> Path:
    """VOC root: name → (image bytes, (width, height) written in <size>, boxes)."""
    for sub in ("Annotations", "JPEGImages"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    for name, (data, (w, h), boxes) in images.items():
        (root / "JPEGImages" / name).write_bytes(data)
        objects = "".join(f"<object><name>cell</name><bndbox><xmin>{b[0]}</xmin><ymin>{b[1]}</ymin>"
                          f"<xmax>{b[2]}</xmax><ymax>{b[3]}</ymax></bndbox></object>" for b in boxes)
        (root / "Annotations" / f"{Path(name).stem}.xml").write_text(
            f"<annotation><filename>{name}</filename><size><width>{w}</width><height>{h}</height></size>"
            f"{objects}</annotation>")
    return root


@pytest.mark.parametrize("orientation", [5, 6, 7, 8])
def test_voc_boxes_in_the_stored_frame_of_an_exif_image_land_on_the_object(tmp_path: Path,
                                                                            orientation: int) -> None:
    stored = painted(64, 96, [(10, 8, 40, 30)], [(255, 0, 0)], bg=30)
    data = _exif_jpeg(stored, orientation)
    # 'stored.jpg': <size> 96x64 is the stored frame; 'shown.jpg': 64x96, the displayed one
    displayed_box = pixel_box(read_image_bytes(data, tmp_path), (255, 0, 0))
    root = _voc(tmp_path / "voc", {"stored.jpg": (data, (96, 64), [(10, 8, 40, 30)]),
                                   "shown.jpg": (data, (64, 96), [tuple(int(v) for v in displayed_box)])})
    report = check_dataset(load_dataset(root))
    kept = {s.image_path.stem: s for s in report.splits["train"]}
    for stem in ("stored", "shown"):
        assert kept[stem].image_size == (96, 64)
        np.testing.assert_allclose(kept[stem].boxes, [displayed_box], atol=1)  # on the red rectangle
    mapped = [f for f in _by_kind(report, "exif_orientation") if f.position == "size"]
    assert [Path(f.file).name for f in mapped] == ["stored.xml"] and "mapped" in mapped[0].message
    assert not _by_kind(report, "out_of_bounds") and not _by_kind(report, "size_mismatch")


def read_image_bytes(data: bytes, tmp_path: Path) -> np.ndarray:
    path = tmp_path / "probe.jpg"
    path.write_bytes(data)
    return read_image(path)


@pytest.mark.parametrize("orientation", [2, 3, 4])
def test_exif_turn_that_keeps_the_size_leaves_the_frame_unknown_and_says_so(tmp_path: Path,
                                                                            orientation: int) -> None:
    data = _exif_jpeg(painted(64, 96, [(10, 8, 40, 30)], [(255, 0, 0)], bg=30), orientation)
    root = _voc(tmp_path / "voc", {"a.jpg": (data, (96, 64), [(10, 8, 40, 30)]),
                                   "b.jpg": (_exif_jpeg(plain_image(64, 96), 1),
                                             (96, 64), [(1, 1, 20, 20)])})
    report = check_dataset(load_dataset(root))
    (finding,) = _by_kind(report, "exif_frame")
    assert Path(finding.file).name == "a.xml" and finding.action == "skipped"
    assert f"orientation {orientation}" in finding.message and "exif_frame=warn" in finding.message
    assert [s.image_path.name for s in report.splits["train"]] == ["b.jpg"]
    kept = check_dataset(load_dataset(root), CheckPolicy(exif_frame="warn")).splits["train"]
    np.testing.assert_array_equal(kept[0].boxes, [[10, 8, 40, 30]])  # kept as written, reported as kept


def test_exif_image_whose_annotation_size_fits_neither_frame_is_not_fixed(tmp_path: Path) -> None:
    data = _exif_jpeg(painted(64, 96, [(10, 8, 40, 30)], [(255, 0, 0)], bg=30), 6)
    root = _voc(tmp_path / "voc", {"a.jpg": (data, (0, 0), [(10, 8, 40, 30)]),
                                   "b.jpg": (_exif_jpeg(plain_image(64, 96), 1), (96, 64), [(1, 1, 20, 20)])})
    report = check_dataset(load_dataset(root))
    (finding,) = _by_kind(report, "exif_frame")
    assert "neither the stored 96x64 nor the displayed 64x96" in finding.message and finding.action == "skipped"
    assert [s.image_path.name for s in report.splits["train"]] == ["b.jpg"]


def test_exif_orientation_zero_is_reported_as_invalid(tmp_path: Path) -> None:
    data = write_yolo_dataset(tmp_path, {"zero.jpg": _exif_jpeg(plain_image(64, 96), 0)},
                              {"zero.jpg": "0 0.5 0.5 0.25 0.25\n"}, ["x"])
    report = check_dataset(load_dataset(data))
    (finding,) = _by_kind(report, "exif_orientation")
    assert "invalid EXIF orientation 0" in finding.message and finding.action == "fixed"
    assert report.splits["train"][0].image_size == (64, 96)  # decoders ignore it: the stored frame
    assert read_image(tmp_path / "images" / "train" / "zero.jpg").shape == (64, 96, 3)


# --- 14.13: multi-frame images get a note ------------------------------------------------

def test_gif_and_multipage_tiff_are_read_with_a_note_about_the_first_frame(tmp_path: Path) -> None:
    frames = [Image.fromarray(np.full((64, 96, 3), v, np.uint8)) for v in (40, 200, 90)]
    files = {}
    for name, fmt in (("anim.gif", "GIF"), ("pages.tif", "TIFF")):
        out = io.BytesIO()
        frames[0].save(out, fmt, save_all=True, append_images=frames[1:])
        files[name] = out.getvalue()
    data = write_yolo_dataset(tmp_path, files, {n: "0 0.5 0.5 0.25 0.25\n" for n in files}, ["x"])
    report = check_dataset(load_dataset(data))
    notes = {Path(f.file).name: f for f in _by_kind(report, "multi_frame")}
    assert set(notes) == {"anim.gif", "pages.tif"} and all(f.action == "kept" for f in notes.values())
    assert "GIF with 3 frames" in notes["anim.gif"].message and "first" in notes["anim.gif"].message
    assert "TIFF with 3 frames" in notes["pages.tif"].message
    assert sorted(s.image_path.name for s in report.splits["train"]) == ["anim.gif", "pages.tif"]
    assert read_image(tmp_path / "images" / "train" / "anim.gif")[0, 0, 0] in range(30, 50)  # frame 1 (grey 40)


# --- 14.3: COCO ids and file names that repeat ----------------------------------------------

def test_coco_duplicate_ids_and_file_names_are_reported_with_json_paths(tmp_path: Path) -> None:
    images_dir = tmp_path / "images" / "train"
    images_dir.mkdir(parents=True)
    for k, name in enumerate(["a.jpg", "b.jpg", "c.jpg", "d.jpg"]):
        Image.fromarray(plain_image(64, 96, k)).save(images_dir / name)
    doc = {
        "images": [{"id": 1, "file_name": "a.jpg", "width": 96, "height": 64},
                   {"id": 1, "file_name": "b.jpg", "width": 96, "height": 64},   # same id, other file
                   {"id": 2, "file_name": "c.jpg", "width": 96, "height": 64},
                   {"id": 2, "file_name": "c.jpg", "width": 96, "height": 64},   # an exact repeat
                   {"id": 3, "file_name": "d.jpg", "width": 96, "height": 64},
                   {"id": 4, "file_name": "d.jpg", "width": 96, "height": 64}],  # other id, same file
        "annotations": [{"id": 10, "image_id": 1, "category_id": 1, "bbox": [1, 1, 10, 10]},
                        {"id": 11, "image_id": 1, "category_id": 1, "bbox": [20, 20, 10, 10]},
                        {"id": 12, "image_id": 2, "category_id": 1, "bbox": [30, 30, 10, 10]},
                        {"id": 13, "image_id": 3, "category_id": 1, "bbox": [40, 10, 10, 10]},
                        {"id": 14, "image_id": 4, "category_id": 1, "bbox": [5, 40, 10, 10]}],
        "categories": [{"id": 1, "name": "cell"}],
    }
    path = tmp_path / "annotations" / "train.json"
    path.parent.mkdir()
    path.write_text(json.dumps(doc))
    report = check_dataset(load_dataset(path))
    found = {(f.kind, f.position): f for f in report.findings}
    assert "images[0]" in found["duplicate_id", "images[1].id"].message
    assert found["duplicate_id", "images[1].id"].action == "skipped"
    assert "repeats images[2]" in found["duplicate_id", "images[3].id"].message
    assert found["duplicate_id", "annotations[0]"].action == "skipped" and ("duplicate_id", "annotations[1]") in found
    assert "images[4]" in found["duplicate_file_name", "images[5].file_name"].message
    kept = {s.image_path.name: s for s in report.splits["train"]}
    assert sorted(kept) == ["c.jpg", "d.jpg"]  # neither a.jpg nor b.jpg gets id 1's boxes
    np.testing.assert_array_equal(kept["c.jpg"].boxes, [[30, 30, 40, 40]])
    np.testing.assert_array_equal(kept["d.jpg"].boxes, [[40, 10, 50, 20], [5, 40, 15, 50]])
    with pytest.raises(DataError, match="duplicate_id"):
        check_dataset(load_dataset(path), CheckPolicy(duplicate_id="stop"))


# --- 14.8: the duplicate-box check is O(N log N) in memory ----------------------------------

def _greedy_reference(boxes, ids, near, dup, drop_near, drop_dup):
    """The O(N²) definition: each box against the earlier kept boxes of its class."""
    iou = cb.pairwise_iou(boxes)
    kept = np.ones(len(boxes), bool)
    out = []
    for j in range(len(boxes)):
        cands = [(iou[i, j], -i) for i in range(j) if kept[i] and ids[i] == ids[j] and iou[i, j] > near]
        if cands:
            v, neg_i = max(cands)
            out.append((j, -neg_i, v))
            kept[j] = not (drop_dup if v > dup else drop_near)
    return out


@pytest.mark.parametrize("seed", range(40))
def test_greedy_duplicates_equals_the_quadratic_definition(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 120))
    xy = rng.uniform(0, rng.choice([30, 300]), (n, 2))
    boxes = np.c_[xy, xy + np.exp(rng.uniform(0, rng.choice([1, 4]), (n, 2)))]
    k = rng.integers(0, n, n // 2)  # copies, exact or jittered
    boxes[k] = boxes[rng.integers(0, n, len(k))] + rng.choice([0, 0.05, 0.5]) * rng.normal(size=(len(k), 4))
    boxes[:, 2:] = np.maximum(boxes[:, 2:], boxes[:, :2] + 0.1)
    ids = rng.integers(0, 2, n)
    near, dup = sorted(rng.choice([0.3, 0.5, 0.8, 0.95, 1.0], 2))
    for drop_near, drop_dup in ((False, True), (True, True), (False, False)):
        j, i, iou = cb.greedy_duplicates(boxes, ids, near, dup, drop_near, drop_dup)
        want = _greedy_reference(boxes, ids, near, dup, drop_near, drop_dup)
        assert list(zip(j.tolist(), i.tolist())) == [(j, i) for j, i, _ in want]
        np.testing.assert_allclose(iou, [v for *_, v in want], rtol=1e-12)


MANY_BOXES = """
import sys, time, tracemalloc
from pathlib import Path
from yolo3.data.formats import load_dataset
from yolo3.data.validate import check_dataset
index = load_dataset(sys.argv[1])
tracemalloc.start()
start = time.perf_counter()
report = check_dataset(index)
print("SECONDS", time.perf_counter() - start)
print("PEAK_MB", tracemalloc.get_traced_memory()[1] / 2**20)
print("COUNTS", report.counts.get("duplicate_box", 0), report.counts.get("near_duplicate_box", 0))
print("KEPT", len(report.splits["train"][0]))
print("LISTED", sum(f.kind.endswith("duplicate_box") for f in report.findings))
"""


def test_1e5_boxes_on_one_image_are_checked_in_bounded_memory(tmp_path: Path) -> None:
    # 60 000 boxes of 10×10 px on a 3000×2000 grid (no two overlap), then 20 000 exact copies of
    # boxes 0…19 999 (IoU 1) and 20 000 copies of boxes 20 000…39 999 shifted right by 1 px:
    # intersection 9·10 = 90, union 110, IoU 0.818 (a near duplicate: 0.8 < IoU ≤ 0.95)
    gx, gy = np.meshgrid(np.arange(300) * 10, np.arange(200) * 10)
    xy = np.c_[gx.ravel(), gy.ravel()][:60_000].astype(float)
    boxes = np.r_[np.c_[xy, xy + 10], np.c_[xy[:20_000], xy[:20_000] + 10],
                  np.c_[xy[20_000:40_000] + [1, 0], xy[20_000:40_000] + [11, 10]]]
    w, h = 3000, 2000
    cx, cy = (boxes[:, 0] + boxes[:, 2]) / 2 / w, (boxes[:, 1] + boxes[:, 3]) / 2 / h
    lines = "".join(f"0 {float(a)!r} {float(b)!r} {10 / w!r} {10 / h!r}\n" for a, b in zip(cx, cy))
    image = np.zeros((h, w, 3), np.uint8)
    data = write_yolo_dataset(tmp_path, {"crowd.png": image}, {"crowd.png": lines}, ["x"])
    out = _run_python(MANY_BOXES, str(data), timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    values = {ln.split()[0]: ln.split()[1:] for ln in out.stdout.splitlines()}
    assert values["COUNTS"] == ["20000", "20000"] and values["KEPT"] == ["80000"]  # copies dropped, near kept
    assert values["LISTED"] == ["2002"]  # 1000 listed per kind, then one "… and 19000 more" line each
    assert float(values["PEAK_MB"][0]) < 400, out.stdout  # an N×N float64 IoU matrix alone is 74 GiB


def test_boxes_too_dense_to_search_are_refused_with_a_message(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    cx, cy = rng.uniform(0.45, 0.55, (2, 3000))
    lines = "".join(f"0 {float(a)!r} {float(b)!r} 0.5 0.5\n" for a, b in zip(cx, cy))  # 3000 boxes, all overlapping
    data = write_yolo_dataset(tmp_path, {"a.jpg": plain_image(64, 96), "b.jpg": plain_image(64, 96, 1)},
                              {"a.jpg": lines, "b.jpg": "0 0.5 0.5 0.25 0.25\n"}, ["x"])
    report = check_dataset(load_dataset(data), CheckPolicy(max_iou_pairs=100_000))
    (finding,) = _by_kind(report, "dense_boxes")
    assert Path(finding.file).name == "a.txt" and "3000 boxes" in finding.message and finding.action == "skipped"
    assert [s.image_path.name for s in report.splits["train"]] == ["b.jpg"]
    warned = check_dataset(load_dataset(data), CheckPolicy(max_iou_pairs=100_000, dense_boxes="warn"))
    assert len(warned.splits["train"][0]) == 3000


# --- 14.9: only regular files are images ----------------------------------------------------

CHECK = """
import sys
from yolo3.data.convert import check_data
report = check_data(sys.argv[1])
print(report.format())
"""


def test_a_fifo_or_a_link_to_dev_zero_named_like_an_image_is_unreadable_not_a_hang(tmp_path: Path) -> None:
    data = write_yolo_dataset(tmp_path, {"good.jpg": plain_image(64, 96)},
                              {"good.jpg": "0 0.5 0.5 0.25 0.25\n", "pipe.jpg": "0 0.5 0.5 0.25 0.25\n",
                               "zero.jpg": "0 0.5 0.5 0.25 0.25\n"}, ["x"])
    os.mkfifo(tmp_path / "images" / "train" / "pipe.jpg")
    (tmp_path / "images" / "train" / "zero.jpg").symlink_to("/dev/zero")
    out = _run_python(CHECK, str(data), timeout=60, data_limit=1 << 30)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "pipe.jpg: unreadable: " in out.stdout and "a FIFO" in out.stdout, out.stdout
    assert "zero.jpg: unreadable: " in out.stdout and "a character device" in out.stdout, out.stdout
    assert "train: 1 images kept" in out.stdout


# --- 14.10: data.yaml cannot walk the disk or explode ------------------------------------------

LOAD = """
import sys
from yolo3.data.findings import DataError
from yolo3.data.formats import load_dataset
try:
    load_dataset(sys.argv[1])
    print("LOADED")
except DataError as err:
    print("REFUSED", err)
"""


@pytest.mark.parametrize("yaml_text, fragment", [
    ("path: /\ntrain: .\nnames: [a]\n", "path '/'"),
    ("path: .\ntrain: /\nnames: [a]\n", "split folder '/'"),
    ("path: ../..\ntrain: .\nnames: [a]\n", "path '../..'"),
])
def test_a_root_outside_the_data_yaml_tree_is_refused_before_any_walk(tmp_path: Path, yaml_text: str,
                                                                       fragment: str) -> None:
    data = tmp_path / "ds" / "data.yaml"
    data.parent.mkdir()
    data.write_text(yaml_text)
    out = _run_python(LOAD, str(data), timeout=30)
    assert out.stdout.startswith("REFUSED"), out.stdout + out.stderr[-2000:]
    assert fragment in out.stdout and "outside the data.yaml's folder" in out.stdout
    assert "--allow-outside-root" in out.stdout


def test_a_sibling_root_loads_when_asked(tmp_path: Path) -> None:
    write_yolo_dataset(tmp_path / "ds", {"a.jpg": plain_image(64, 96)}, {"a.jpg": "0 0.5 0.5 0.25 0.25\n"}, ["x"])
    cfg = tmp_path / "cfg" / "data.yaml"
    cfg.parent.mkdir()
    cfg.write_text("path: ../ds\ntrain: images/train\nnames: [x]\n")
    with pytest.raises(DataError, match="allow-outside-root"):
        load_dataset(cfg)
    assert len(load_dataset(cfg, allow_outside_root=True).splits["train"]) == 1


def test_commands_without_the_flag_are_allowed_by_the_environment(tmp_path: Path, monkeypatch, capsys) -> None:
    """train, val, demo, … read the data.yaml through load_dataset with no flag of their own:
    the refusal names YOLO3_ALLOW_OUTSIDE_ROOT, and setting it lets them read a sibling root."""
    from yolo3.cli import main

    write_yolo_dataset(tmp_path / "ds", {"a.jpg": plain_image(64, 96)}, {"a.jpg": "0 0.5 0.5 0.25 0.25\n"}, ["x"])
    cfg = tmp_path / "cfg" / "data.yaml"
    cfg.parent.mkdir()
    cfg.write_text("path: ../ds\ntrain: images/train\nnames: [x]\n")
    assert main(["show-batch", str(cfg), "--out", str(tmp_path / "b.jpg")]) == 2
    assert "YOLO3_ALLOW_OUTSIDE_ROOT=1" in capsys.readouterr().err
    monkeypatch.setenv("YOLO3_ALLOW_OUTSIDE_ROOT", "1")
    assert len(load_dataset(cfg).splits["train"]) == 1
    assert main(["show-batch", str(cfg), "--out", str(tmp_path / "b.jpg")]) == 0


def test_a_yaml_alias_bomb_is_refused_fast_with_a_clear_message(tmp_path: Path) -> None:
    levels = ["a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    levels += [f"a{k}: &a{k} [" + ", ".join([f"*a{k - 1}"] * 10) + "]" for k in range(1, 10)]
    data = tmp_path / "data.yaml"
    data.write_text("\n".join(levels) + "\npath: .\ntrain: .\nnames: *a9\n")  # 10⁹ names once expanded
    out = _run_python(LOAD, str(data), timeout=20, data_limit=1 << 30)
    assert out.stdout.startswith("REFUSED"), out.stdout + out.stderr[-2000:]
    assert str(data) in out.stdout and "alias" in out.stdout


def test_an_oversized_data_yaml_is_refused(tmp_path: Path) -> None:
    data = tmp_path / "data.yaml"
    data.write_text("path: .\ntrain: .\nnames: [" + ", ".join(["n"] * 600_000) + "]\n")
    with pytest.raises(DataError, match="over 1 MiB"):
        load_dataset(data)
