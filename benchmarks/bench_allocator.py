"""Keeping freed memory (yolo3/ops/allocator.py) on and off: training and batch-16 inference speed, peak memory.

The setting lasts for a process, so each measurement is a fresh subprocess with
YOLO3_KEEP_ALLOCATIONS=1 or 0, the two alternating for --rounds rounds (the machine
is shared: interleaving keeps a slow minute from landing on one side only).
- train: the BCCD recipe (yolo3/configs/bccd.yaml: yolov3-tiny ×0.5, 416, batch 16,
  bf16, channels-last) through the real `train` loop on BCCD for --epochs epochs of
  --steps steps, no validation; images/s of the epochs after the first.
- infer: the prepared (BN-folded, channels-last) model's forward at batch 16, fp32 and
  bf16, median of 8 calls: what `yolo3 val` runs.
Usage: .venv/bin/python benchmarks/bench_allocator.py --rounds 3
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CHILD = r"""
import dataclasses, json, resource, sys, tempfile, time
import torch
from yolo3.config import ModelConfig, load_yaml
from yolo3.inference.fast import forward_raw, prepare_model
from yolo3.models import build_model
from yolo3.ops.allocator import keep_freed_memory
from yolo3.train import TrainConfig, train

kind, epochs, steps = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
out = {"kept": keep_freed_memory()}
torch.set_num_threads(2)
if kind == "train":
    cfg = load_yaml(TrainConfig, "yolo3/configs/bccd.yaml")
    cfg = dataclasses.replace(cfg, data="../shared/datasets/bccd", project=tempfile.mkdtemp(), epochs=epochs,
                              max_steps_per_epoch=steps, val_interval=0, time_budget_minutes=0.0,
                              progress=False, plots=False)
    rates = [row["images_per_s"] for row in train(cfg).metrics][1:]
    out["img/s"] = sum(rates) / len(rates)
else:
    for precision in ("fp32", "bf16"):
        model = prepare_model(build_model(ModelConfig(arch="yolov3-tiny", width=0.5, num_classes=3)), precision)
        x = torch.rand(16, 3, 416, 416).contiguous(memory_format=torch.channels_last)
        times = []
        with torch.no_grad():
            for i in range(10):
                t0 = time.perf_counter()
                forward_raw(model, x)
                if i >= 2:
                    times.append(time.perf_counter() - t0)
        out[f"{precision} ms"] = 1000 * sorted(times)[len(times) // 2]
out["peak MiB"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps(out))
"""


def run_child(kind: str, keep: bool, epochs: int, steps: int) -> dict[str, float]:
    env = {**os.environ, "YOLO3_KEEP_ALLOCATIONS": "1" if keep else "0", "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", CHILD, kind, str(epochs), str(steps)], cwd=ROOT, env=env,
                          capture_output=True, text=True, check=True)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    if bool(result.pop("kept")) != keep:
        raise SystemExit(f"YOLO3_KEEP_ALLOCATIONS={int(keep)} did not take effect (not glibc?)")
    return result


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--steps", type=int, default=15, help="training steps per epoch")
    args = ap.parse_args()
    cpu = subprocess.run(["sh", "-c", "lscpu | grep 'Model name'"], capture_output=True, text=True).stdout.strip()
    print(f"{cpu}; {args.rounds} rounds, keep on/off interleaved")
    results: dict[tuple[str, bool], list[dict[str, float]]] = {}
    for r in range(args.rounds):
        for kind in ("train", "infer"):
            for keep in (False, True):
                row = run_child(kind, keep, args.epochs, args.steps)
                results.setdefault((kind, keep), []).append(row)
                print(f"round {r + 1} {kind} keep={int(keep)}: {row}", flush=True)
    print("\n| measurement | glibc default | freed memory kept | ratio |\n|---|---|---|---|")
    for kind in ("train", "infer"):
        for key in results[kind, False][0]:
            off = statistics.median(row[key] for row in results[kind, False])
            on = statistics.median(row[key] for row in results[kind, True])
            print(f"| {kind} {key} (median of {args.rounds}) | {off:.1f} | {on:.1f} | {on / off:.2f} |")


if __name__ == "__main__":
    main()
