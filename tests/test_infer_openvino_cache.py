"""The on-disk cache of checkpoint → OpenVINO conversions (yolo3/inference/openvino_cache.py).

Each test points YOLO3_CACHE_DIR at its own folder. `to_openvino` is spied on in the
cache module: a load that reads the cache must not convert. Cached and fresh conversions
are the same fp32 graph, so their detections must be equal exactly (no tolerance).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("openvino")

from _infer_utils import random_image, saved_model, small_model  # noqa: E402
from yolo3.inference import openvino_cache  # noqa: E402
from yolo3.inference.detector import Detector  # noqa: E402
from yolo3.inference.postprocess import NMSConfig  # noqa: E402
from yolo3.io.checkpoint import save_model  # noqa: E402

NMS = NMSConfig(conf_threshold=0.2, iou_threshold=0.45)
IMAGES = [random_image(96, 96, 0), random_image(70, 110, 1)]


@pytest.fixture
def conversions(monkeypatch) -> list[int]:
    """Counts the conversions the cache module runs (one entry per `to_openvino` call)."""
    calls: list[int] = []
    real = openvino_cache.to_openvino

    def spy(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(openvino_cache, "to_openvino", spy)
    return calls


@pytest.fixture
def cache_dir(tmp_path: Path, monkeypatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv("YOLO3_CACHE_DIR", str(folder))
    return folder


def entries(cache: Path) -> list[Path]:
    folder = cache / "openvino"
    return sorted(p for p in folder.iterdir()) if folder.is_dir() else []


def detections(det: Detector) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    return [(d.boxes, d.scores, d.class_ids) for d in det(IMAGES)]


def assert_equal_detections(a, b) -> None:
    assert sum(len(boxes) for boxes, _, _ in a) > 0
    for (boxes_a, scores_a, ids_a), (boxes_b, scores_b, ids_b) in zip(a, b, strict=True):
        np.testing.assert_array_equal(boxes_a, boxes_b)
        np.testing.assert_array_equal(scores_a, scores_b)
        np.testing.assert_array_equal(ids_a, ids_b)


def test_first_load_writes_the_entry_second_reads_it(tmp_path, cache_dir, conversions) -> None:
    weights = saved_model(tmp_path, class_thresholds=[0.2, 0.3, 0.25])
    first = Detector.load(weights, nms=NMS)
    assert conversions == [1]
    [entry] = entries(cache_dir)  # one entry, no temporary folder left behind
    assert sorted(p.name for p in entry.iterdir()) == ["model.bin", "model.xml"]
    assert first.backend_name == "openvino" and f"converted once, cached at {entry}" in first.backend_note
    second = Detector.load(weights, nms=NMS)
    assert conversions == [1]  # read back, not converted
    assert f"from the cache {entry}" in second.backend_note and "auto: openvino" in second.backend_note
    assert second.metadata["class_thresholds"] == [0.2, 0.3, 0.25]  # metadata still from the checkpoint
    assert second.class_names == ["cat", "dog", "car"] and second.imgsz == 96
    # fp32 on disk (no fp16 compression): exactly the detections of the in-memory conversion
    assert_equal_detections(detections(first), detections(second))
    copy = tmp_path / "elsewhere" / "renamed.safetensors"  # same bytes at another path: same entry
    copy.parent.mkdir()
    shutil.copyfile(weights, copy)
    assert f"from the cache {entry}" in Detector.load(copy, nms=NMS).backend_note and conversions == [1]


def test_changed_checkpoint_or_input_size_gets_a_new_entry(tmp_path, cache_dir, conversions) -> None:
    weights = saved_model(tmp_path)
    Detector.load(weights, nms=NMS)
    [old] = entries(cache_dir)
    save_model(weights, small_model(), class_thresholds=[0.5, 0.5, 0.5])  # other weights, same path
    changed = Detector.load(weights, nms=NMS)
    assert conversions == [1, 1] and len(entries(cache_dir)) == 2
    [new] = [e for e in entries(cache_dir) if e != old]
    assert f"converted once, cached at {new}" in changed.backend_note
    reference = Detector.load(weights, nms=NMS, backend="torch")  # the new weights, not the cached old ones
    for a, b in zip(detections(reference), detections(changed)):
        np.testing.assert_allclose(a[0], b[0], atol=1e-3)
    Detector.load(weights, nms=NMS, imgsz=64)  # traced at another input size
    assert conversions == [1, 1, 1] and len(entries(cache_dir)) == 3


@pytest.mark.parametrize("damage", ["truncated bin", "garbage xml", "truncated xml", "other key"])
def test_unreadable_entry_is_replaced(tmp_path, cache_dir, conversions, damage) -> None:
    weights = saved_model(tmp_path)
    first = detections(Detector.load(weights, nms=NMS))
    [entry] = entries(cache_dir)
    xml, bin_ = entry / "model.xml", entry / "model.bin"
    if damage == "truncated bin":
        os.truncate(bin_, bin_.stat().st_size // 2)
    elif damage == "garbage xml":
        xml.write_bytes(b"\x00garbage<")
    elif damage == "truncated xml":
        xml.write_bytes(xml.read_bytes()[: xml.stat().st_size // 2])
    else:  # a valid OpenVINO model written under another key
        text = xml.read_text()
        key = entry.name
        assert text.count(key) == 1
        xml.write_text(text.replace(key, "0" * len(key)))
    det = Detector.load(weights, nms=NMS)
    assert conversions == [1, 1]
    assert f"converted once, cached at {entry}" in det.backend_note and "replaced an unreadable entry" in det.backend_note
    assert_equal_detections(first, detections(det))
    assert f"from the cache {entry}" in Detector.load(weights, nms=NMS).backend_note  # rewritten whole
    assert conversions == [1, 1]


def test_unwritable_cache_still_loads(tmp_path, monkeypatch, conversions) -> None:
    in_the_way = tmp_path / "a_file"
    in_the_way.write_text("not a folder")
    monkeypatch.setenv("YOLO3_CACHE_DIR", str(in_the_way))
    weights = saved_model(tmp_path)
    det = Detector.load(weights, nms=NMS)
    assert det.backend_name == "openvino" and conversions == [1]
    assert "converted in memory, not cached (" in det.backend_note and str(in_the_way) in det.backend_note
    assert det.backend_note.count("not cached") == 1
    reference = Detector.load(weights, nms=NMS, backend="torch")
    for a, b in zip(detections(reference), detections(det)):
        np.testing.assert_allclose(a[0], b[0], atol=1e-3)
    assert in_the_way.read_text() == "not a folder"


def test_off_disables_the_cache(tmp_path, monkeypatch, conversions) -> None:
    monkeypatch.setenv("YOLO3_CACHE_DIR", "off")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.chdir(tmp_path)
    weights = saved_model(tmp_path)
    for n in (1, 2):
        det = Detector.load(weights, nms=NMS)
        assert "converted in memory (YOLO3_CACHE_DIR=off)" in det.backend_note and len(conversions) == n
    assert sorted(p.name for p in tmp_path.iterdir()) == ["yolov3-tiny.safetensors"]  # nothing written anywhere


def test_cache_location(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("YOLO3_CACHE_DIR")
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    assert openvino_cache.cache_root() == tmp_path / "home" / ".cache" / "yolo3"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/ignored")  # the XDG spec ignores relative paths
    assert openvino_cache.cache_root() == tmp_path / "home" / ".cache" / "yolo3"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert openvino_cache.cache_root() == tmp_path / "xdg" / "yolo3"
    monkeypatch.setenv("YOLO3_CACHE_DIR", str(tmp_path / "mine"))
    assert openvino_cache.cache_root() == tmp_path / "mine"
    for off in ("off", "OFF", " Off "):
        monkeypatch.setenv("YOLO3_CACHE_DIR", off)
        assert openvino_cache.cache_root() is None


def test_concurrent_writer_of_the_same_key_keeps_one_valid_entry(tmp_path, monkeypatch, conversions) -> None:
    weights = saved_model(tmp_path)
    monkeypatch.setenv("YOLO3_CACHE_DIR", str(tmp_path / "other"))
    Detector.load(weights, nms=NMS)  # another process's finished entry, to drop into place
    [theirs] = entries(tmp_path / "other")
    cache = tmp_path / "cache"
    monkeypatch.setenv("YOLO3_CACHE_DIR", str(cache))
    spy = openvino_cache.to_openvino

    def other_writer_finishes_first(*args, **kwargs):
        converted = spy(*args, **kwargs)
        shutil.copytree(theirs, cache / "openvino" / theirs.name)  # while we converted, the other one renamed
        return converted

    monkeypatch.setattr(openvino_cache, "to_openvino", other_writer_finishes_first)
    det = Detector.load(weights, nms=NMS)
    [entry] = entries(cache)  # theirs kept, ours dropped, no temporary folder left
    assert entry.name == theirs.name and f"cached at {entry}" in det.backend_note
    for name in ("model.xml", "model.bin"):
        assert (entry / name).read_bytes() == (theirs / name).read_bytes()
    monkeypatch.setattr(openvino_cache, "to_openvino", spy)
    again = Detector.load(weights, nms=NMS)
    assert f"from the cache {entry}" in again.backend_note and conversions == [1, 1]
    assert_equal_detections(detections(det), detections(again))


def test_checkpoint_rewritten_while_loading_is_not_cached(tmp_path, cache_dir, monkeypatch) -> None:
    weights = saved_model(tmp_path)
    real = openvino_cache.to_openvino

    def training_saves_over_it(*args, **kwargs):  # the file changes after it was read
        save_model(weights, small_model(), class_thresholds=[0.5, 0.5, 0.5])
        return real(*args, **kwargs)

    monkeypatch.setattr(openvino_cache, "to_openvino", training_saves_over_it)
    det = Detector.load(weights, nms=NMS)
    assert det.backend_name == "openvino" and "not cached" in det.backend_note and "changed" in det.backend_note
    assert entries(cache_dir) == []


def test_prune_keeps_the_most_recently_used(tmp_path) -> None:
    folder = tmp_path / "openvino"
    now = time.time()
    ages = {"a": 30, "b": 10, "c": 20, ".tmp-old": 2 * openvino_cache.STALE_TMP_S, ".tmp-new": 5}
    for name, age in ages.items():
        (folder / name).mkdir(parents=True)
        (folder / name / "model.xml").write_text("x")
        os.utime(folder / name, (now - age, now - age))
    openvino_cache.prune(folder, keep=2)
    assert sorted(p.name for p in folder.iterdir()) == [".tmp-new", "b", "c"]


def test_test_session_cache_is_private_and_inherited() -> None:
    """conftest.py points the cache at a temporary folder before any test; child processes see it."""
    folder = Path(os.environ["YOLO3_CACHE_DIR"])
    assert folder.is_dir() and folder.parent == Path(tempfile.gettempdir())
    assert folder.name.startswith("yolo3-test-cache-")
    child = subprocess.run([sys.executable, "-c", "import os; print(os.environ['YOLO3_CACHE_DIR'])"],
                           capture_output=True, text=True, check=True)
    assert child.stdout.strip() == str(folder)
