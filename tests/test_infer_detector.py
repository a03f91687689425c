"""Detector on real (small, random) models: inputs, batching, checkpoints, TTA, bf16."""

from __future__ import annotations

import pickle
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from PIL import Image

from _infer_utils import random_image, saved_model, small_model
from yolo3.inference.detector import Detector
from yolo3.inference.postprocess import NMSConfig
from yolo3.inference.predict import predict_arrays
from yolo3.inference.tta import TTAConfig, merge_boxes, unflip
from yolo3.io.checkpoint import CheckpointError

NMS = NMSConfig(conf_threshold=0.2, iou_threshold=0.45)


def test_matches_predict_arrays_for_every_input_type(tmp_path: Path) -> None:
    path = saved_model(tmp_path)
    det = Detector.load(path, nms=NMS, batch_size=2, backend="torch")
    image = random_image(120, 90)
    cv2.imwrite(str(tmp_path / "a.png"), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    torch.manual_seed(0)
    ref = predict_arrays(small_model(), [image], 96, NMS)[0]  # same weights, unfused, NCHW
    assert len(ref) > 0
    results = det([tmp_path / "a.png", image, Image.fromarray(image)])  # 3 inputs, batch size 2
    for dets in results:
        assert dets.image_size == (120, 90)
        assert dets.class_ids.tolist() == ref.class_ids.tolist()
        np.testing.assert_allclose(dets.boxes, ref.boxes, atol=1e-3)
        np.testing.assert_allclose(dets.scores, ref.scores, atol=1e-5)
    assert results[0].source.endswith("a.png")


def test_thresholds_auto_from_checkpoint(tmp_path: Path) -> None:
    image = random_image(96, 96, seed=1)
    loose = NMSConfig(conf_threshold=0.01, max_det=1000)
    plain = Detector.load(saved_model(tmp_path), nms=loose, backend="torch")(image)[0]
    # thresholds at the median score of each class: about half of each class must go
    per_class = [float(np.median(plain.scores[plain.class_ids == c])) for c in range(3)]
    det = Detector.load(saved_model(tmp_path, class_thresholds=per_class), nms=loose, backend="torch")
    auto = det(image, thresholds="auto")[0]
    assert 0 < len(auto) < len(plain)
    for c in range(3):
        assert (auto.scores[auto.class_ids == c] > per_class[c]).all()
    explicit = det(image, thresholds=per_class)[0]
    np.testing.assert_array_equal(auto.boxes, explicit.boxes)


class _Payload:
    """Unpickling this would create a marker file: the attack a pickle loader allows."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


@pytest.mark.parametrize("trust", [False, True])
def test_pickled_checkpoint_is_refused_and_never_runs(tmp_path: Path, trust: bool) -> None:
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pt"
    path.write_bytes(pickle.dumps({"state_dict": _Payload(marker)}))
    with pytest.raises(CheckpointError) as err:
        Detector.load(path, trust_pickle=trust)
    assert not marker.exists()
    assert "evil.pt" in str(err.value)
    if trust:
        assert "weights_only=True" in str(err.value)
    else:
        assert "--trust-pickle" in str(err.value) and "arbitrary code" in str(err.value)


def test_trusted_plain_state_dict_pickle_loads(tmp_path: Path) -> None:
    from yolo3.config import to_dict

    model = small_model()
    path = tmp_path / "ok.pt"
    torch.save({"state_dict": model.state_dict(), "metadata": {"model": to_dict(model.cfg)}}, path)
    with pytest.raises(CheckpointError, match="--trust-pickle"):
        Detector.load(path)
    image = random_image(96, 96)
    a = Detector.load(path, trust_pickle=True, nms=NMS, backend="torch")(image)[0]
    b = predict_arrays(model, [image], 96, NMS)[0]
    np.testing.assert_allclose(a.boxes, b.boxes, atol=1e-3)


def test_unflip_and_merge_boxes_hand_worked() -> None:
    preds = torch.tensor([[10.0, 5, 30, 25, 0.9, 0.8]])
    assert unflip(preds, 100)[0, :4].tolist() == [70, 5, 90, 25]
    boxes = torch.tensor([[0.0, 0, 10, 10], [2, 0, 12, 10], [50, 50, 60, 60], [1, 0, 11, 10]])
    scores = torch.tensor([0.6, 0.2, 0.9, 0.5])
    labels = torch.tensor([0, 0, 0, 1])
    merged = merge_boxes(boxes, scores, labels, torch.tensor([0, 2]), 0.5)
    # box 0 merges with box 1 (IoU 8/12), not with box 3 (other class): x = (0.6·0 + 0.2·2)/0.8
    np.testing.assert_allclose(merged.numpy(), [[0.5, 0, 10.5, 10], [50, 50, 60, 60]], atol=1e-6)


def test_tta_single_view_equals_plain_and_flip_runs(tmp_path: Path) -> None:
    det = Detector.load(saved_model(tmp_path), nms=NMS, backend="torch")
    image = random_image(100, 80)
    plain = det(image)[0]
    same = det(image, tta=TTAConfig(scales=(1.0,), flip=False, merge=False))[0]
    np.testing.assert_allclose(same.boxes, plain.boxes, atol=1e-4)
    full = det(image, tta=True)[0]
    assert len(full) > 0 and (full.boxes[:, 2] <= 80 + 1e-3).all()


def test_bf16_detections_close_to_fp32(tmp_path: Path) -> None:
    path = saved_model(tmp_path)
    image = random_image(96, 96, seed=3)
    fp32 = Detector.load(path, nms=NMS, backend="torch")(image)[0]
    bf16 = Detector.load(path, precision="bf16", nms=NMS, backend="torch")(image)[0]
    # random weights amplify rounding; still, scores stay within bf16 resolution
    assert abs(len(bf16) - len(fp32)) <= max(3, len(fp32) // 10)
    top = np.argmax(fp32.scores)
    j = np.argmin(np.abs(bf16.boxes - fp32.boxes[top]).sum(1))
    np.testing.assert_allclose(bf16.boxes[j], fp32.boxes[top], atol=2.0)


def test_a_16_bit_pil_image_reads_like_its_file(tmp_path: Path) -> None:
    # found by hand: detector(Image.open("grey16.png")) saw an almost white image (PIL's convert("RGB") clips
    # 16-bit values at 255) while detector("grey16.png") sees the file scaled to 8 bits: different detections
    from yolo3.inference.preprocess import load_input

    grey = (np.arange(48 * 64, dtype=np.uint32).reshape(48, 64) * 21).astype(np.uint16)  # 0 .. 64491
    path = tmp_path / "grey16.png"
    cv2.imwrite(str(path), grey)
    with Image.open(path) as im:
        assert im.mode.startswith("I;16")
        from_pil, _ = load_input(im)
    from_file, _ = load_input(path)
    expected = np.repeat((grey >> 8).astype(np.uint8)[:, :, None], 3, axis=2)  # the top 8 bits, as OpenCV reads it
    np.testing.assert_array_equal(from_file, expected)
    np.testing.assert_array_equal(from_pil, expected)


def test_plot_and_save_need_no_image_for_array_and_pil_inputs(tmp_path: Path) -> None:
    # found running the README's Detector snippet: `dets.plot()` / `dets.save("a.jpg")` raised
    # "no image for array1" for a numpy or PIL input (only files could be re-read)
    det = Detector.load(saved_model(tmp_path), nms=NMS, backend="torch")
    image = random_image(120, 90)
    for dets in det([image, Image.fromarray(image)]):
        assert len(dets) > 0
        drawn = dets.plot()
        assert drawn.shape == image.shape and not np.array_equal(drawn, image)  # boxes were drawn on it
        np.testing.assert_array_equal(drawn, dets.plot(image))  # the very image that was passed
        out = dets.save(tmp_path / f"{dets.source}.png")
        assert out.is_file() and cv2.imread(str(out)).shape == image.shape
    assert det(tmp_path / "array0.png")[0].image is None  # a file is re-read on demand, not kept
