"""The CUDA paths against the CPU ones: forward, Detector (fp32/fp16/bf16), training with
fp16/bf16 autocast, val, detect, ONNX export traced on the GPU, and serve.

Every test needs a CUDA device and is skipped without one (CI has none; these run on a
lent GPU: `pytest tests/test_cuda.py`). The CPU result of the same file is the reference;
TF32 is switched off for the fp32 comparisons so that they test the code, not the
tensor cores' 10-bit mantissa.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from fastapi.testclient import TestClient

from _infer_utils import small_model
from _serve_utils import encode, scene, serve_model
from _train_utils import small_config, synth_data
from yolo3.cli import main
from yolo3.data.augment.config import AugmentConfig
from yolo3.eval.val import val
from yolo3.export import export_checkpoint
from yolo3.inference.backends import OnnxBackend, TorchBackend
from yolo3.inference.detector import Detector
from yolo3.inference.postprocess import NMSConfig
from yolo3.io.checkpoint import load_model, read_metadata
from yolo3.ops.boxes import box_iou
from yolo3.ops.decode import decode
from yolo3.serve import ServeConfig, create_app
from yolo3.train import train
from yolo3.train.config import AveragingConfig

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
NMS = NMSConfig(conf_threshold=0.25, iou_threshold=0.45)


@pytest.fixture(autouse=True)
def _no_tf32() -> None:
    """fp32 on the GPU means fp32: TF32 convolutions and matmuls off for each test."""
    saved = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    yield
    torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = saved


def _matched(ref, other, iou_min: float) -> float:
    """Share of `ref`'s boxes that `other` has with the same class at IoU ≥ iou_min."""
    if len(ref.boxes) == 0:
        return 1.0
    iou = box_iou(torch.from_numpy(ref.boxes), torch.from_numpy(other.boxes)).numpy()
    same_class = ref.class_ids[:, None] == other.class_ids[None, :]
    return float(((iou >= iou_min) & same_class).any(1).mean())


@pytest.mark.parametrize("arch", ["yolov3-tiny", "yolov3"])
def test_forward_on_cuda_equals_cpu(arch: str) -> None:
    model = small_model(arch, imgsz=128)
    images = torch.rand(2, 3, 128, 128)
    with torch.no_grad():
        ref = decode(model(images), model.anchors, model.strides, model.cfg.xy_mode)
        gpu = model.to("cuda")
        out = decode(gpu(images.cuda()), gpu.anchors, gpu.strides, gpu.cfg.xy_mode).cpu()
    # boxes in network pixels (0..128), probabilities in [0, 1]: fp32 summation order only
    torch.testing.assert_close(out, ref, rtol=1e-4, atol=1e-3)


@pytest.mark.parametrize("precision,iou_min,score_atol", [("fp32", 0.999, 1e-4), ("fp16", 0.95, 0.01),
                                                          ("bf16", 0.85, 0.05)])
def test_detector_on_cuda_agrees_with_cpu(tmp_path: Path, precision: str, iou_min: float, score_atol: float) -> None:
    """The same checkpoint on CPU fp32 and on CUDA: the same objects, boxes and scores
    within the precision's rounding (fp16: 10-bit mantissa, bf16: 7-bit)."""
    path = serve_model(tmp_path)
    images = [scene(120, 90, seed=s) for s in range(4)]
    cpu = Detector.load(path, nms=NMS, threads=1, backend="torch")(images)
    cuda = Detector.load(path, device="cuda", precision=precision, nms=NMS, backend="torch")
    assert cuda.backend_name == "torch" and cuda.precision == precision
    got = cuda(images)
    assert sum(len(r.boxes) for r in cpu) >= 4  # the model finds something to compare
    for ref, out in zip(cpu, got):
        assert _matched(ref, out, iou_min) >= 0.9 and _matched(out, ref, iou_min) >= 0.9
        if precision == "fp32":
            np.testing.assert_allclose(out.boxes, ref.boxes, atol=0.05)
            np.testing.assert_allclose(out.scores, ref.scores, atol=score_atol)
        else:
            top = min(len(ref.scores), len(out.scores))
            np.testing.assert_allclose(np.sort(out.scores)[::-1][:top], np.sort(ref.scores)[::-1][:top],
                                       atol=score_atol)


@pytest.fixture(scope="module")
def cuda_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A yolov3-tiny trained on CUDA with fp16 autocast (240 updates): (data.yaml, best).

    On CPU in fp32 the same run's loss falls 0.57 → 0.16; it is not a converged detector,
    so the comparisons below are of CPU against CUDA, not of accuracy."""
    root = tmp_path_factory.mktemp("cuda-train")
    data = synth_data(root, n_train=32, n_val=16, imgsz=96)
    cfg = small_config(data, root / "runs", device="cuda", amp="fp16", epochs=60, batch_size=8,
                       nominal_batch_size=8, imgsz=96, val_interval=20, augment=AugmentConfig(mosaic=0.0, scale=0.1),
                       averaging=AveragingConfig(ema=True, ema_decay=0.9, ema_tau=5.0))
    cfg = dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, imgsz=96, width=0.5))
    result = train(cfg)
    losses = [row["train/loss"] for row in result.metrics]
    assert all(np.isfinite(losses)) and losses[-1] < 0.6 * losses[0], losses
    return Path(data), result.best


@pytest.mark.parametrize("amp", ["fp16", "bf16", "off"])
def test_train_on_cuda_each_precision(tmp_path: Path, amp: str) -> None:
    """Two epochs on CUDA: finite losses, a checkpoint that loads on CPU, the fp16 loss
    scaler saved for an exact resume."""
    data = synth_data(tmp_path, n_train=16)
    result = train(small_config(data, tmp_path / "runs", device="cuda", amp=amp))
    assert result.epochs_done == 2 and all(np.isfinite(row["train/loss"]) for row in result.metrics)
    model, _ = load_model(result.last)
    assert next(model.parameters()).device.type == "cpu"
    scaler = read_metadata(result.last)["train"]["scaler"]
    if amp == "fp16":
        assert scaler["scale"] > 0  # GradScaler's state, restored on --resume
    else:
        assert scaler is None


def test_val_on_cuda_equals_cpu(cuda_run: tuple[Path, Path], tmp_path: Path) -> None:
    data, best = cuda_run
    cpu, _ = val(best, data, out_dir=tmp_path / "cpu", plots=False, threads=1)
    gpu, _ = val(best, data, out_dir=tmp_path / "gpu", plots=False, device="cuda")
    half, _ = val(best, data, out_dir=tmp_path / "fp16", plots=False, device="cuda", precision="fp16")
    for key in ("mAP@0.5", "mAP@0.5:0.95"):
        assert abs(gpu.metrics[key] - cpu.metrics[key]) <= 0.005, (key, gpu.metrics[key], cpu.metrics[key])
        assert abs(half.metrics[key] - cpu.metrics[key]) <= 0.02, (key, half.metrics[key], cpu.metrics[key])


def _unmatched(ref: list[dict], other: list[dict], conf: float, margin: float = 0.02) -> list[dict]:
    """`ref`'s detections scoring clear of the threshold that `other` lacks (same image and
    class, box within 0.1 px): near-threshold ones may fall either side of it."""
    return [d for d in ref if d["score"] >= conf + margin and not any(
        o["image_id"] == d["image_id"] and o["category_id"] == d["category_id"]
        and np.allclose(o["bbox"], d["bbox"], atol=0.1) for o in other)]


def test_detect_cli_on_cuda_writes_what_cpu_writes(cuda_run: tuple[Path, Path], tmp_path: Path) -> None:
    data, best = cuda_run
    images = sorted((data.parent / "images" / "val").glob("*.png"))[:8]
    assert images
    outs = {}
    for device in ("cpu", "cuda"):
        out = tmp_path / device
        assert main(["detect", *map(str, images), "--weights", str(best), "--device", device, "--backend", "torch",
                     "--out", str(out), "--no-images", "--no-txt", "--conf", "0.05"]) == 0
        outs[device] = json.loads((out / "predictions.json").read_text())
    assert len(outs["cpu"]) > 0
    assert _unmatched(outs["cpu"], outs["cuda"], 0.05) == [] and _unmatched(outs["cuda"], outs["cpu"], 0.05) == []


def test_onnx_traced_on_cuda_equals_cpu_model(tmp_path: Path) -> None:
    path = serve_model(tmp_path)
    onnx_path = export_checkpoint(path, "onnx", out=tmp_path / "m.onnx", device="cuda")
    model, _ = load_model(path)
    images = torch.rand(2, 3, 96, 96)
    ref = TorchBackend(model, "fp32", channels_last=False)(images)
    torch.testing.assert_close(OnnxBackend(onnx_path, threads=1)(images), ref, rtol=1e-4, atol=1e-3)


def test_serve_on_cuda_answers_like_cpu_detector(tmp_path: Path) -> None:
    path = serve_model(tmp_path)
    cpu = Detector.load(path, nms=NMS, threads=1, backend="torch")
    detector = Detector.load(path, device="cuda", nms=NMS, backend="torch")
    image = scene(120, 90, seed=3)
    ref = cpu(image)[0]
    with TestClient(create_app(detector, ServeConfig(max_batch=4, max_wait_ms=2))) as client:
        answer = client.post("/v1/detect", files={"image": ("a.png", encode(image), "image/png")})
        assert answer.status_code == 200, answer.text
        info = client.get("/v1/model").json()
    dets = answer.json()["detections"]
    assert [d["class_id"] for d in dets] == ref.class_ids.tolist()
    np.testing.assert_allclose(np.array([d["box"] for d in dets]).reshape(-1, 4), ref.boxes, atol=0.05)
    assert (info["backend"], info["precision"]) == ("torch", "fp32")
