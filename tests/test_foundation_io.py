"""Checkpoints, predictions on images, results formats, the CLI."""

from __future__ import annotations

import json
import pickle

import numpy as np
import pytest
import torch

from yolo3.cli import main
from yolo3.inference.postprocess import NMSConfig
from yolo3.inference.predict import predict_arrays
from yolo3.inference.results import Detections
from yolo3.io.checkpoint import CheckpointError, load_model, read_metadata, save_model
from yolo3.models import create_model


def test_checkpoint_round_trip(tmp_path) -> None:
    model = create_model("yolov3-tiny", num_classes=2, class_names=["cell", "dot"], width=0.25).eval()
    path = tmp_path / "m.safetensors"
    save_model(path, model, class_thresholds=[0.3, 0.4])
    loaded, meta = load_model(path)
    assert meta["class_thresholds"] == [0.3, 0.4]
    assert read_metadata(path)["model"]["class_names"] == ["cell", "dot"]
    x = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        for a, b in zip(model(x), loaded(x)):
            assert torch.equal(a, b)
    assert [p.name for p in tmp_path.iterdir()] == ["m.safetensors"]  # no temp file left


def test_pickled_file_is_refused_without_running_it(tmp_path) -> None:
    marker = tmp_path / "pwned"

    class Payload:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    path = tmp_path / "evil.pt"
    path.write_bytes(pickle.dumps({"state_dict": Payload()}))
    with pytest.raises(CheckpointError, match="refuses"):
        load_model(path)
    assert not marker.exists()
    with pytest.raises(CheckpointError, match="weights_only"):
        load_model(path, trust_pickle=True)
    assert not marker.exists()


def test_metadata_is_validated(tmp_path) -> None:
    from yolo3.io.checkpoint import save_checkpoint

    model = create_model("yolov3-tiny", num_classes=2, width=0.25)
    path = tmp_path / "bad.safetensors"
    save_checkpoint(path, model.state_dict(), {"model": {"arch": "yolov3-tiny", "num_classes": "2"}})
    with pytest.raises(CheckpointError, match="expected int"):
        load_model(path)
    save_checkpoint(path, model.state_dict(), {"model": {"arch": "yolov3-tiny", "num_classes": 3, "width": 0.25}})
    with pytest.raises(CheckpointError, match="do not match"):
        load_model(path)


def test_predict_maps_boxes_to_original_pixels() -> None:
    model = create_model("yolov3-tiny", num_classes=2, width=0.25).eval()
    image = np.zeros((90, 200, 3), np.uint8)
    (dets,) = predict_arrays(model, [image], imgsz=64, nms=NMSConfig(conf_threshold=0.0, max_det=50))
    assert len(dets) == 50 and dets.image_size == (90, 200)
    assert dets.boxes[:, [0, 2]].min() >= 0 and dets.boxes[:, [0, 2]].max() <= 200
    assert dets.boxes[:, [1, 3]].max() <= 90


def test_detections_to_coco_json_and_yolo_txt() -> None:
    dets = Detections(
        boxes=np.array([[10, 20, 50, 80]], np.float32), scores=np.array([0.9], np.float32),
        class_ids=np.array([1]), class_names=["a", "b"], image_size=(100, 200),
    )
    assert dets.to_json(7, category_ids=[3, 5]) == [
        {"image_id": 7, "category_id": 5, "bbox": [10.0, 20.0, 40.0, 60.0], "score": 0.9}
    ]
    assert dets.to_yolo_txt() == "1 0.150000 0.500000 0.200000 0.600000 0.90000\n"
    assert dets.labels == ["b"]
    json.dumps(dets.to_json())


def test_cli_info_prints_darknet_figures(capsys) -> None:
    assert main(["info", "--model", "yolov3-tiny", "--summary"]) == 0
    assert "8,852,366 parameters, 5.56 GFLOPs" in capsys.readouterr().out


def test_loading_a_checkpoint_does_not_import_torch_dynamo(tmp_path) -> None:
    """The shape check builds the model on the meta device; initialising meta weights with
    torch's normal_ imported torch._dynamo (~1.4 s on every fresh `yolo3 detect`/`val`/`serve`)."""
    import subprocess
    import sys

    from yolo3.io.checkpoint import save_model
    from yolo3.models import create_model

    path = tmp_path / "m.safetensors"
    save_model(path, create_model("yolov3-tiny", num_classes=3, width=0.25, imgsz=64))
    script = ("import sys; from yolo3.io.checkpoint import load_model; load_model(sys.argv[1]); "
              "print('dynamo' if 'torch._dynamo' in sys.modules else 'no dynamo')")
    done = subprocess.run([sys.executable, "-c", script, str(path)], capture_output=True, text=True, timeout=120,
                          check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "no dynamo"
