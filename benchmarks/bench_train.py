"""Training throughput (images/s, data loading included): yolov3-tiny at 416, batch 16 (defaults).

Runs the real `yolo3.train.train` loop (loader with augmentation, forward, loss,
backward, optimizer, EMA) on a synthetic dataset, fp32 and bf16 side by side in one
process, and prints images/s per epoch (the first epoch is warm-up) and the loss curve
of each precision. Usage:
    .venv/bin/python benchmarks/bench_train.py --epochs 3 --steps 6 --threads 2 --workers 1
On a GPU: `--device cuda --amp off fp16 bf16 --archs yolov3-tiny yolov3 --batch 32 --workers 8`.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch

from yolo3.config import ModelConfig
from yolo3.data.synth import write_synth_dataset
from yolo3.train import TrainConfig, train
from yolo3.train.config import ScheduleConfig


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--steps", type=int, default=6, help="steps per epoch")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--imgsz", type=int, default=416)
    ap.add_argument("--amp", nargs="+", default=["off", "bf16"])
    ap.add_argument("--no-channels-last", action="store_true")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--archs", nargs="+", default=["yolov3-tiny"])
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        data = write_synth_dataset(Path(tmp) / "data", n_train=args.batch * args.steps, n_val=0, imgsz=args.imgsz)
        results = {}
        for arch, amp in ((arch, amp) for arch in args.archs for amp in args.amp):
            cfg = TrainConfig(
                data=str(data), project=str(Path(tmp) / "runs"), name=f"{arch}-{amp}", device=args.device,
                model=ModelConfig(arch=arch), epochs=args.epochs, batch_size=args.batch,
                imgsz=args.imgsz, workers=args.workers, threads=args.threads, amp=amp,
                channels_last=not args.no_channels_last, max_steps_per_epoch=args.steps, val_interval=0,
                tensorboard=False, plots=False, progress=False, seed=0,
                schedule=ScheduleConfig(warmup_epochs=1.0),
            )
            t0 = time.perf_counter()
            result = train(cfg)
            wall = time.perf_counter() - t0
            rates = [r["images_per_s"] for r in result.metrics]
            losses = [r["train/loss"] for r in result.metrics]
            results[arch, amp] = (rates, losses, wall)
        print(f"imgsz {args.imgsz} batch {args.batch}, device {args.device}, threads {args.threads}, workers "
              f"{args.workers}, channels_last {not args.no_channels_last}, {args.steps} steps/epoch")
        for (arch, amp), (rates, losses, wall) in results.items():
            steady = rates[1:] or rates
            print(f"  {arch} amp={amp:5s} images/s per epoch {[round(r, 2) for r in rates]} -> steady "
                  f"{sum(steady) / len(steady):.2f}; loss per epoch {[round(l, 3) for l in losses]}; wall {wall:.0f}s")


if __name__ == "__main__":
    main()
