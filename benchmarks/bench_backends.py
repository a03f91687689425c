"""Backends × precision on the CPU, side by side: torch vs OpenVINO, fp32 / bf16 / int8.

    PYTHONPATH=. .venv/bin/python benchmarks/bench_backends.py --threads 2 --imgsz 416 --runs 15

Random weights (80 classes, BN statistics set from a random batch) stand in for trained
ones: the cost does not depend on the values. int8 is calibrated on BCCD images (the
ranges matter for accuracy, not for speed). All rows of one model are timed
interleaved, call by call, in one process: forward alone ((1, 3, S, S) → decoded
predictions) and end to end (JPEG file → boxes in original pixels, `Detector`).
The compute floor of a row is the model's GFLOPs ÷ this machine's matmul peak in the
row's arithmetic (fp32, bf16, or int8 via torch._int_mm), measured in the same run.
Also: pre- and post-processing stages of the end-to-end path.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

from yolo3.data.image_io import read_image
from yolo3.export.quantize import quantize_arrays
from yolo3.inference.backends import TorchBackend
from yolo3.inference.detector import Detector
from yolo3.inference.fast import bf16_supported, configure_threads
from yolo3.inference.openvino_backend import OpenVINOBackend, to_openvino
from yolo3.inference.postprocess import NMSConfig, candidates, select
from yolo3.inference.predict import detections_from_network
from yolo3.inference.preprocess import letterbox_batch
from yolo3.models import create_model
from yolo3.models.summary import info
from yolo3.ops.allocator import keep_freed_memory

sys.path.insert(0, str(Path(__file__).parent))
from bench_infer import IMAGE, calibrated, matmul_peak  # noqa: E402

BCCD = IMAGE.parent


def int8_peak(n: int = 2048) -> float:
    """GOP/s of an n×n int8 matmul (torch._int_mm, int32 accumulation), best of a few."""
    a = torch.randint(-128, 127, (n, n), dtype=torch.int8)
    b = torch.randint(-128, 127, (n, n), dtype=torch.int8)
    best = float("inf")
    for _ in range(8):
        t = time.perf_counter()
        torch._int_mm(a, b)
        best = min(best, time.perf_counter() - t)
    return 2 * n**3 / best / 1e9


def interleaved(fns: dict[str, object], runs: int, warmup: int = 2) -> dict[str, float]:
    """Median seconds per name; each round calls every fn once, in turn."""
    times: dict[str, list[float]] = {k: [] for k in fns}
    for r in range(runs + warmup):
        for k, fn in fns.items():
            t = time.perf_counter()
            fn()
            if r >= warmup:
                times[k].append(time.perf_counter() - t)
    return {k: statistics.median(v) for k, v in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--imgsz", type=int, default=416)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--calib-images", type=int, default=32)
    parser.add_argument("--archs", nargs="+", default=["yolov3", "yolov3-tiny"])
    args = parser.parse_args()
    configure_threads(args.threads)
    kept = keep_freed_memory()  # as Detector.load does (YOLO3_KEEP_ALLOCATIONS=0: glibc's defaults)
    peaks = {"fp32": matmul_peak(torch.float32), "bf16": matmul_peak(torch.bfloat16), "int8": int8_peak()}
    print(f"threads={torch.get_num_threads()}, native bf16: {bf16_supported()}, freed memory kept: {kept}; "
          "matmul peak GFLOP/s: "
          + ", ".join(f"{k} {v:.0f}" for k, v in peaks.items()))
    calib_files = sorted(BCCD.glob("*.jpg"))[: args.calib_images]
    calib = [np.ascontiguousarray(letterbox_batch([read_image(f)], args.imgsz)[0].numpy()) for f in calib_files]
    image = read_image(IMAGE)
    batch, infos = letterbox_batch([image], args.imgsz)
    nms = NMSConfig()
    names = [str(i) for i in range(80)]
    for arch in args.archs:
        torch.manual_seed(0)
        model = calibrated(create_model(arch, num_classes=80, imgsz=args.imgsz), args.imgsz)
        gflops = info(arch, args.imgsz, 80).gflops
        ov_fp32 = to_openvino(model, args.imgsz)
        t = time.perf_counter()
        ov_int8 = quantize_arrays(ov_fp32, calib)
        quant_s = time.perf_counter() - t
        rows = {  # name: (backend, arithmetic of the floor)
            "torch fp32": (TorchBackend(model, "fp32"), "fp32"),
            "torch bf16": (TorchBackend(model, "bf16"), "bf16"),
            "openvino fp32": (OpenVINOBackend(ov_fp32, "fp32"), "fp32"),
            "auto bf16 (openvino bf16)": (OpenVINOBackend(ov_fp32, "bf16"), "bf16"),
            "openvino int8 (fp32 rest)": (OpenVINOBackend(ov_int8, "int8"), "int8"),
            "openvino int8 (bf16 rest)": (OpenVINOBackend(ov_int8, "bf16"), "int8"),
        }
        detectors = {k: Detector(b, names, args.imgsz, nms=nms, batch_size=1) for k, (b, _) in rows.items()}
        fwd = interleaved({k: (lambda b=b: b(batch)) for k, (b, _) in rows.items()}, args.runs)
        e2e = interleaved({k: (lambda d=d: d(IMAGE)) for k, d in detectors.items()}, args.runs)
        base = e2e["torch bf16"]
        print(f"\n{arch} @ {args.imgsz}, batch 1, {gflops:.2f} GFLOPs; int8 quantisation took {quant_s:.0f} s "
              f"({len(calib)} BCCD images)")
        print("| config | forward ms | end-to-end ms | e2e ÷ torch bf16 | compute floor ms | forward ÷ floor |")
        print("|---|---|---|---|---|---|")
        for k, (_, arith) in rows.items():
            floor = gflops / peaks[arith] * 1e3
            print(f"| {k} | {fwd[k] * 1e3:.1f} | {e2e[k] * 1e3:.1f} | {e2e[k] / base:.2f} | {floor:.1f} | "
                  f"{fwd[k] * 1e3 / floor:.1f} |")
        preds = rows["auto bf16 (openvino bf16)"][0](batch)
        cfg = detectors["torch fp32"].call_config(None, None, None)

        def post() -> None:
            boxes, scores, labels = candidates(preds[0], cfg)
            keep, kept = select(boxes, scores, labels, cfg)
            detections_from_network(boxes[keep], kept, labels[keep], infos[0], names, "x")

        stages = interleaved({"read": lambda: read_image(IMAGE),
                              "letterbox": lambda: letterbox_batch([image], args.imgsz), "post": post}, args.runs)
        n_cand = len(candidates(preds[0], cfg)[1])
        print(f"stages (auto bf16 outputs, {n_cand} candidates at conf {nms.conf_threshold}): read+decode JPEG "
              f"{stages['read'] * 1e3:.2f} ms, letterbox+tensor {stages['letterbox'] * 1e3:.2f} ms, "
              f"candidates+NMS+map back {stages['post'] * 1e3:.2f} ms; pre+post "
              f"{(stages['letterbox'] + stages['post']) * 1e3:.2f} ms (+ read {stages['read'] * 1e3:.2f})")


if __name__ == "__main__":
    main()
