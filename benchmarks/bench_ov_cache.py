"""How long `--backend auto` takes to load a .safetensors on CPU: the first load converts
it to OpenVINO and caches the conversion, a later load of the same bytes reads it back.

    .venv/bin/python benchmarks/bench_ov_cache.py --threads 2 --runs 3

Random weights (80 classes, 416 px) stand in for trained ones: the conversion does not
depend on the weight values. Each run uses a fresh, empty cache folder (YOLO3_CACHE_DIR),
so its first load converts; the second load of the same file is the cache hit. Prints the
median and the range over the runs, per architecture, and the machine's load average.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

from yolo3.inference.detector import Detector
from yolo3.io.checkpoint import save_model
from yolo3.models import create_model


def load_seconds(path: Path, threads: int) -> float:
    start = time.perf_counter()
    detector = Detector.load(path, backend="auto", threads=threads)
    seconds = time.perf_counter() - start
    assert type(detector.backend).__name__.lower().startswith("openvino"), detector.backend
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--archs", nargs="+", default=["yolov3", "yolov3-tiny"])
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()[0]:.2f} (1 min), {os.cpu_count()} CPUs")
    with tempfile.TemporaryDirectory() as tmp:
        for arch in args.archs:
            path = Path(tmp) / f"{arch}.safetensors"
            save_model(path, create_model(arch, num_classes=80, imgsz=416).eval())
            first, again = [], []
            for run in range(args.runs):
                os.environ["YOLO3_CACHE_DIR"] = str(Path(tmp) / f"cache-{arch}-{run}")
                first.append(load_seconds(path, args.threads))
                again.append(load_seconds(path, args.threads))
            for name, values in (("first load (converts)", first), ("later load (cache)", again)):
                print(f"{arch:12s} {name:22s} median {statistics.median(values):5.2f} s, "
                      f"range {min(values):.2f}–{max(values):.2f} s over {args.runs} runs")
    print(f"load average after: {os.getloadavg()[0]:.2f} (1 min)")


if __name__ == "__main__":
    main()
