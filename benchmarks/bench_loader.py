"""Loader throughput on BCCD at 416 with Mosaic on (images/s), run by hand.

    .venv/bin/python benchmarks/bench_loader.py [--epochs 3] [--imgsz 416] [--batch 16]

Measures, side by side in one run: 2 workers (the target configuration), 2 workers with
the RAM cache, and 0 workers (main process). The first epoch of each configuration is
a warm-up (worker start, cache fill) and is not timed.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from yolo3.data.augment.config import AugmentConfig
from yolo3.data.formats import load_dataset
from yolo3.data.loader import create_dataloader
from yolo3.data.validate import check_dataset

BCCD = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "bccd"


def images_per_second(samples, imgsz: int, batch: int, workers: int, cache: bool, epochs: int) -> float:
    loader = create_dataloader(samples, imgsz, batch, AugmentConfig(mosaic=1.0), shuffle=True, workers=workers,
                               cache=cache, seed=0)
    for _ in loader:  # warm-up epoch
        pass
    n, start = 0, time.perf_counter()
    for _ in range(epochs):
        for b in loader:
            n += len(b)
    return n / (time.perf_counter() - start)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--imgsz", type=int, default=416)
    p.add_argument("--batch", type=int, default=16)
    args = p.parse_args()
    samples = check_dataset(load_dataset(BCCD)).splits["train"]
    print(f"BCCD train: {len(samples)} images, imgsz {args.imgsz}, batch {args.batch}, mosaic on, "
          f"{args.epochs} timed epochs")
    for workers, cache in ((2, False), (2, True), (0, False)):
        ips = images_per_second(samples, args.imgsz, args.batch, workers, cache, args.epochs)
        print(f"workers={workers} cache={cache}: {ips:.1f} images/s")


if __name__ == "__main__":
    main()
