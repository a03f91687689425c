"""Cost of the reliability guards, measured side by side in one run (issue 10).

1. read_image with the pixel cap (header probe before decoding) vs without, on BCCD
   640×480 JPEGs: the probe's share of a read.
2. load_model with check_weights (meta-device shape check + finiteness) vs building and
   loading without it, for yolov3 (62 M parameters).
3. The refusal itself: time for a 12000×9000 JPEG.

Usage: .venv/bin/python benchmarks/bench_reliability.py [--reps 5]
"""

from __future__ import annotations

import argparse
import io
import statistics
import tempfile
import time
from pathlib import Path

import torch
from PIL import Image

from yolo3.data.image_io import ImageReadError, read_image
from yolo3.io.checkpoint import load_checkpoint, load_model, save_model
from yolo3.models import build_model, create_model

BCCD = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "bccd" / "JPEGImages"


def _median_ms(fn, reps: int) -> float:
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--images", type=int, default=100)
    args = parser.parse_args()
    torch.set_num_threads(1)

    files = sorted(BCCD.glob("*.jpg"))[: args.images]
    capped, uncapped = [], []
    for _ in range(args.reps):  # interleaved rounds: load hits both alike
        capped.append(_median_ms(lambda: [read_image(f) for f in files], 1) / len(files))
        uncapped.append(_median_ms(lambda: [read_image(f, max_pixels=None) for f in files], 1) / len(files))
    a, b = statistics.median(capped), statistics.median(uncapped)
    print(f"read_image 640x480 JPEG: capped {a:.3f} ms, uncapped {b:.3f} ms, overhead {100 * (a - b) / b:+.1f} %")

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "yolov3.safetensors"
        reference = create_model("yolov3", num_classes=80)
        save_model(path, reference)
        cfg = reference.cfg

        def plain() -> None:
            tensors, _ = load_checkpoint(path)
            build_model(cfg).load_state_dict(tensors)

        with_check, without = [], []
        load_model(path)  # warm-up (meta kernels, page cache)
        for _ in range(args.reps):
            with_check.append(_median_ms(lambda: load_model(path), 1))
            without.append(_median_ms(plain, 1))
        a, b = statistics.median(with_check), statistics.median(without)
        print(f"load_model yolov3: with checks {a:.0f} ms, without {b:.0f} ms, overhead {100 * (a - b) / b:+.1f} %")

        huge = Path(tmp) / "huge.jpg"
        buf = io.BytesIO()
        Image.new("L", (12000, 9000), 128).save(buf, "JPEG", quality=5)
        huge.write_bytes(buf.getvalue())
        del buf
        t = time.perf_counter()
        try:
            read_image(huge)
        except ImageReadError:
            pass
        ms = (time.perf_counter() - t) * 1000
        print(f"12000x9000 JPEG ({huge.stat().st_size / 1e6:.1f} MB file): refused in {ms:.1f} ms "
              "(memory bound: tests/test_reliability_data.py, peak RSS growth < 50 MiB in a subprocess)")


if __name__ == "__main__":
    main()
