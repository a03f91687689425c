"""Export: ONNX ↔ PyTorch detection parity (dynamic batch), TorchScript, the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from _infer_utils import random_image, saved_model, small_model
from yolo3.cli import main
from yolo3.export import DecodedModel, export_checkpoint, export_torchscript, read_onnx_metadata
from yolo3.export.from_checkpoint import SUFFIX
from yolo3.inference.detector import Detector
from yolo3.inference.postprocess import NMSConfig

NMS = NMSConfig(conf_threshold=0.2, iou_threshold=0.45)


@pytest.mark.parametrize("arch", ["yolov3-tiny", "yolov3", "yolov3-spp"])
def test_onnx_detections_match_pytorch(tmp_path: Path, arch: str) -> None:
    weights = saved_model(tmp_path, arch, class_thresholds=[0.2, 0.3, 0.25])
    onnx_path = export_checkpoint(weights, "onnx")
    assert read_onnx_metadata(onnx_path)["class_thresholds"] == [0.2, 0.3, 0.25]
    torch_det = Detector.load(weights, nms=NMS, batch_size=3, backend="torch")
    onnx_det = Detector.load(onnx_path, nms=NMS, batch_size=3, backend="onnxruntime")
    assert onnx_det.backend.name == "onnxruntime" and onnx_det.class_names == ["cat", "dog", "car"]
    images = [random_image(96, 96, 0), random_image(70, 110, 1), random_image(128, 64, 2)]  # batch of 3
    total = 0
    for a, b in zip(torch_det(images), onnx_det(images)):
        assert len(a) == len(b)
        # The same detections as a set: scores tied to ~1e-7 may come out in either order.
        for box, score, cls in zip(a.boxes, a.scores, a.class_ids):
            same = (b.class_ids == cls) & (np.abs(b.boxes - box).max(1) < 1e-3) & (np.abs(b.scores - score) < 1e-5)
            assert same.any(), (box, score, cls)
        total += len(a)
    assert total > 0
    auto = onnx_det(images[0], thresholds="auto")[0]  # thresholds travel inside the .onnx
    assert (auto.scores > np.array([0.2, 0.3, 0.25])[auto.class_ids]).all()


def test_torchscript_export_dynamic_batch(tmp_path: Path) -> None:
    model = small_model()
    path = export_torchscript(model, tmp_path / "m.torchscript", metadata={"class_thresholds": [0.1] * 3})
    extra = {"yolo3.json": ""}
    loaded = torch.jit.load(str(path), _extra_files=extra)
    assert json.loads(extra["yolo3.json"])["model"]["class_names"] == ["cat", "dog", "car"]
    reference = DecodedModel(model)
    for batch in (1, 3):
        x = torch.rand(batch, 3, 96, 96)
        with torch.no_grad():
            torch.testing.assert_close(loaded(x), reference(x), atol=1e-4, rtol=1e-4)


def test_export_cli(tmp_path: Path) -> None:
    weights = saved_model(tmp_path)
    assert main(["export", "--weights", str(weights), "--format", "onnx", "--out", str(tmp_path / "x.onnx")]) == 0
    assert (tmp_path / "x.onnx").stat().st_size > 0
    assert main(["export", "--weights", str(tmp_path / "nope.safetensors")]) == 2


def test_onnxruntime_workers_do_not_spin(tmp_path: Path) -> None:
    from yolo3.inference.backends import OnnxBackend

    # spinning workers steal the 2-core machine from the post-processing after each run
    path = export_checkpoint(saved_model(tmp_path), "onnx")
    options = OnnxBackend(path, threads=2).session.get_session_options()
    assert options.get_session_config_entry("session.intra_op.allow_spinning") == "0"
    assert options.intra_op_num_threads == 2


def test_a_torchscript_export_given_as_weights_is_named_as_such(tmp_path: Path, capsys) -> None:
    # found by hand: `detect --weights m.torchscript` said "a pickle ... load it with --trust-pickle", and
    # with --trust-pickle torch's own message advised weights_only=False, which yolo3 never does
    path = export_checkpoint(saved_model(tmp_path), "torchscript")
    image = tmp_path / "a.png"
    cv2.imwrite(str(image), random_image(64, 64))
    for extra in ([], ["--trust-pickle"]):
        assert main(["detect", str(image), "--weights", str(path), "--out", str(tmp_path / "o")] + extra) == 2
        err = capsys.readouterr().err.strip()
        assert err == (f"yolo3 detect: error: {path}: a TorchScript export (`yolo3 export --format torchscript`), "
                       "which yolo3 does not run: load it with torch.jit.load; for detect, val and serve give the "
                       ".safetensors checkpoint it was exported from, or an .onnx or OpenVINO export of it")
    assert not (tmp_path / "o").exists()


def test_export_checkpoint_refuses_an_input_size_detect_would_refuse(tmp_path: Path) -> None:
    # found by hand: export_checkpoint(w, "onnx", imgsz=100) wrote a model recording export.imgsz 100, a size
    # every loader refuses ("not a positive multiple of 32"); `yolo3 export --imgsz 100` is refused by argparse
    weights = saved_model(tmp_path)
    for fmt in ("onnx", "torchscript", "openvino"):
        with pytest.raises(ValueError, match="imgsz: 100 is not a positive multiple of 32.*nearest valid: 96 or 128"):
            export_checkpoint(weights, fmt, tmp_path / f"m_{fmt}", imgsz=100)
        assert not (tmp_path / f"m_{fmt}").exists()


def test_export_out_through_a_file_is_a_clear_error(tmp_path: Path, capsys) -> None:
    # found by hand: `export --format openvino --out notes.txt` and `--out notes.txt/m.onnx` printed only
    # "[Errno 17] File exists: 'notes.txt'"
    weights = saved_model(tmp_path)
    notes = tmp_path / "notes.txt"
    notes.write_text("keep me")
    for fmt, out in (("openvino", notes), ("onnx", notes / "m.onnx"), ("openvino", notes / "ov")):
        assert main(["export", "--weights", str(weights), "--format", fmt, "--out", str(out)]) == 2
        assert capsys.readouterr().err.strip() == (f"yolo3 export: error: --out {out}: {notes} is a file, not a folder; "
                                                   "choose another --out")
    assert notes.read_text() == "keep me"


def test_export_never_overwrites_what_is_not_an_export(tmp_path: Path, capsys) -> None:
    """`export --format torchscript --out best.safetensors` replaced the checkpoint itself by the
    TorchScript archive (and --out data.yaml the dataset file); an earlier export is still replaced."""
    weights = saved_model(tmp_path)
    data = tmp_path / "data.yaml"
    data.write_text("names: [cat, dog, car]\n")
    before = weights.read_bytes()
    for fmt in ("torchscript", "onnx"):
        for out in (weights, data):
            assert main(["export", "--weights", str(weights), "--format", fmt, "--out", str(out)]) == 2
            assert capsys.readouterr().err.strip() == (
                f"yolo3 export: error: --out {out}: exists and is not a {fmt} export, so writing there would "
                f"destroy it; choose another --out (e.g. {weights.with_suffix(SUFFIX[fmt])})")
        assert weights.read_bytes() == before and data.read_text() == "names: [cat, dog, car]\n"
        for _ in range(2):  # an export of the same format is replaced
            assert main(["export", "--weights", str(weights), "--format", fmt, "--out", str(tmp_path / f"m.{fmt}")]) == 0
        other = "onnx" if fmt == "torchscript" else "torchscript"  # not by an export of another format
        assert main(["export", "--weights", str(weights), "--format", other, "--out", str(tmp_path / f"m.{fmt}")]) == 2
        capsys.readouterr()


def test_an_opset_the_exporter_cannot_write_is_a_clear_error(tmp_path: Path, capsys) -> None:
    # found by hand: `export --opset 5` ended in torch's OnnxExporterError traceback (upsample_nearest2d), and
    # `--opset 99` in "RuntimeError: Unsupported onnx_opset_version: 99" after a page of TorchScript IR
    weights = saved_model(tmp_path)
    for opset in (5, 99):
        out = tmp_path / f"m{opset}.onnx"
        assert main(["export", "--weights", str(weights), "--out", str(out), "--opset", str(opset)]) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith(f"yolo3 export: error: --opset {opset}: ") and "\n" not in err
        assert err.endswith("(default 17)") and not out.exists()
    assert main(["export", "--weights", str(weights), "--out", str(tmp_path / "m11.onnx"), "--opset", "11"]) == 0
