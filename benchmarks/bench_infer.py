"""Inference latency on CPU: end-to-end (read image → detections) and forward alone.

    .venv/bin/python benchmarks/bench_infer.py --threads 2 --imgsz 416 --runs 7

Random weights (80 classes) stand in for trained ones: the cost of the forward pass
does not depend on the weight values. Configurations, side by side in one run:
  torch-fp32-plain  unfused, NCHW (the model as built)
  torch-fp32        BN folded + channels-last
  torch-bf16        BN folded + channels-last + bf16 body (fp32 heads)
  onnxruntime       exported .onnx, ORT_ENABLE_ALL, fp32
Also: this machine's measured matmul peak (fp32, bf16) and the share of it reached,
a stage breakdown of end-to-end, and bf16-vs-fp32 detection agreement.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import torch

from yolo3.data.image_io import read_image
from yolo3.export import export_onnx
from yolo3.inference.backends import OnnxBackend, TorchBackend
from yolo3.inference.detector import Detector
from yolo3.inference.fast import configure_threads
from yolo3.inference.postprocess import NMSConfig
from yolo3.inference.preprocess import letterbox_batch
from yolo3.models import create_model
from yolo3.models.summary import info
from yolo3.ops.decode import decode
from yolo3.train.ema import recompute_bn

IMAGE = Path(__file__).resolve().parents[2] / "shared/datasets/bccd/JPEGImages/BloodImage_00000.jpg"


def timed(fn, runs: int, warmup: int = 2) -> float:
    """Median seconds of `fn()` over `runs` after `warmup` calls."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def matmul_peak(dtype: torch.dtype, n: int = 2048) -> float:
    """GFLOP/s of an n×n matmul in `dtype` (2n³ FLOPs), best of a few."""
    a, b = torch.randn(n, n).to(dtype), torch.randn(n, n).to(dtype)
    best = min(timed(lambda: a @ b, 1, 0) for _ in range(12))
    return 2 * n**3 / best / 1e9


@torch.no_grad()
def calibrated(model, imgsz: int):
    """Sets BN running stats from one random batch so activations stay O(1) through depth.

    A freshly built yolov3 in eval mode (mean 0, var 1 BN) overflows to inf/NaN after
    its 75 layers, which makes both the timing and the bf16 comparison meaningless.
    """
    recompute_bn(model, [torch.rand(2, 3, imgsz, imgsz)])
    return model.eval()


class PlainBackend:
    """The model as built: unfused, NCHW, fp32 (the baseline)."""

    name = "plain"

    def __init__(self, model) -> None:
        self.model = model.eval()

    @torch.inference_mode()
    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        raw = self.model(images.contiguous())
        return decode(raw, self.model.anchors, self.model.strides, self.model.cfg.xy_mode)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--imgsz", type=int, default=416)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--archs", nargs="+", default=["yolov3", "yolov3-tiny"])
    args = parser.parse_args()
    configure_threads(args.threads)
    peak32, peak16 = matmul_peak(torch.float32), matmul_peak(torch.bfloat16)
    print(f"threads={torch.get_num_threads()} matmul peak: fp32 {peak32:.0f} GFLOP/s, bf16 {peak16:.0f} GFLOP/s")
    image = read_image(IMAGE)
    nms = NMSConfig()
    tmp = Path(tempfile.mkdtemp())
    for arch in args.archs:
        torch.manual_seed(0)
        model = calibrated(create_model(arch, num_classes=80, imgsz=args.imgsz), args.imgsz)
        gflops = info(arch, args.imgsz, 80).gflops
        onnx_path = export_onnx(model, tmp / f"{arch}.onnx", args.imgsz)
        backends = {
            "torch-fp32-plain": PlainBackend(model),
            "torch-fp32": TorchBackend(model, "fp32"),
            "torch-bf16": TorchBackend(model, "bf16"),
            "onnxruntime": OnnxBackend(onnx_path, args.threads),
        }
        batch, _ = letterbox_batch([image], args.imgsz)
        print(f"\n{arch} @ {args.imgsz}, batch 1, {gflops:.2f} GFLOPs")
        print(f"{'config':18s} {'forward ms':>10s} {'e2e ms':>8s} {'GFLOP/s':>8s} {'% peak':>7s}")
        outputs = {}
        for name, backend in backends.items():
            fwd = timed(lambda: backend(batch), args.runs)
            det = Detector(backend, [str(i) for i in range(80)], args.imgsz, nms=nms, batch_size=1)
            e2e = timed(lambda: det(IMAGE), args.runs)
            peak = peak16 if "bf16" in name else peak32
            rate = gflops / fwd
            print(f"{name:18s} {fwd * 1e3:10.1f} {e2e * 1e3:8.1f} {rate:8.0f} {100 * rate / peak:6.0f}%")
            outputs[name] = backend(batch)
        # where the end-to-end time goes (fastest torch fp32 config)
        det = Detector(backends["torch-fp32"], [str(i) for i in range(80)], args.imgsz, nms=nms, batch_size=1)
        t_read = timed(lambda: read_image(IMAGE), args.runs)
        t_pre = timed(lambda: letterbox_batch([image], args.imgsz), args.runs)
        preds = backends["torch-fp32"](batch)
        from yolo3.inference.postprocess import postprocess

        t_post = timed(lambda: postprocess(preds, nms), args.runs)
        print(f"stages (torch-fp32): read {t_read * 1e3:.1f} ms, letterbox+tensor {t_pre * 1e3:.1f} ms, "
              f"decode+NMS {t_post * 1e3:.1f} ms")
        ref, low = outputs["torch-fp32"], outputs["torch-bf16"]
        box_err = (ref[..., :4] - low[..., :4]).abs()
        prob_err = (ref[..., 4:] - low[..., 4:]).abs()
        onnx_err = (ref - outputs["onnxruntime"]).abs().max()
        print(f"bf16 vs fp32 decoded: box |Δ| median {box_err.median():.3f} px, 99% {box_err.quantile(0.99):.3f} px; "
              f"prob |Δ| max {prob_err.max():.4f}; onnx vs torch max |Δ| {onnx_err:.2e}")


if __name__ == "__main__":
    main()
