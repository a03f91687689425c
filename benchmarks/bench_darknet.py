"""darknet interop timings: .weights read/write for stock yolov3, and forward time of the
generic cfg-built network against the registered model (same weights), side by side.

    .venv/bin/python benchmarks/bench_darknet.py [--imgsz 416] [--reps 3]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch

from yolo3.darknet import DarknetNetwork, load_cfg, load_darknet, load_weights, save_weights

CFG = Path(__file__).resolve().parents[1] / "tests" / "data" / "darknet" / "yolov3.cfg"


def _best(fn, reps: int) -> float:
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--imgsz", type=int, default=416)
    parser.add_argument("--reps", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(2)
    generic = DarknetNetwork(load_cfg(CFG)).eval()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "yolov3.weights"
        t_write = _best(lambda: save_weights(path, generic.conv_layers()), args.reps)
        size = path.stat().st_size
        t_read_generic = _best(lambda: load_weights(path, generic.conv_layers()), args.reps)
        t_load = _best(lambda: load_darknet(CFG, path), args.reps)
        model, _ = load_darknet(CFG, path)
    x = torch.rand(1, 3, args.imgsz, args.imgsz)
    t_generic, t_ours = float("inf"), float("inf")
    with torch.no_grad():
        for _ in range(args.reps):  # interleaved, so background load hits both alike
            t_generic = min(t_generic, _best(lambda: generic(x), 1))
            t_ours = min(t_ours, _best(lambda: model(x), 1))
    print(f"yolov3.weights {size / 1e6:.1f} MB")
    print(f"write .weights (atomic, fsync)             {t_write:.2f} s")
    print(f"read .weights into generic network          {t_read_generic:.2f} s")
    print(f"load_darknet (parse, match, build, read)    {t_load:.2f} s")
    print(f"forward {args.imgsz}x{args.imgsz} generic DarknetNetwork  {t_generic * 1000:.0f} ms")
    print(f"forward {args.imgsz}x{args.imgsz} registered yolov3        {t_ours * 1000:.0f} ms  "
          f"(generic/registered = {t_generic / t_ours:.2f})")


if __name__ == "__main__":
    main()
