"""check-data on one image with 10⁶ boxes (issue 14.8): time and peak memory.

Each scenario runs in a fresh interpreter (peak RSS is per process), on one 4000×4000
image whose YOLO label file holds the boxes:
  copies  — 10 boxes repeated 100 000 times each (a label writer stuck in a loop)
  tiles   — a 1000×1000 grid of 4×4 px boxes, every 10th one doubled 1 px to the right
  crowd   — 10⁶ boxes of 10–80 px at random, every pixel under ~100 boxes
A second, ordinary 64×64 image keeps the dataset non-empty when the crowd is refused.
Reported: load_dataset (parsing 10⁶ lines), then check_dataset (all checks; the
duplicate search inside), and the process's peak RSS. The O(N²) IoU matrix the check
used before would need N²·8 B = 7.3 TiB for one float64 array.

Usage: .venv/bin/python benchmarks/bench_duplicates.py [--boxes 1000000]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import cv2
import numpy as np

SIDE = 4000

RUN = textwrap.dedent("""
    import resource, sys, time
    from yolo3.data.formats import load_dataset
    from yolo3.data.validate import check_dataset
    t = time.perf_counter()
    index = load_dataset(sys.argv[1])
    t_load = time.perf_counter() - t
    t = time.perf_counter()
    report = check_dataset(index)
    t_check = time.perf_counter() - t
    kept = sum(len(s) for s in report.splits["train"] if s.image_path.name == "a.png")
    counts = {k: v for k, v in report.counts.items() if k != "no_labels"}
    print(f"load {t_load:.1f} s | check {t_check:.1f} s | peak RSS "
          f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20:.2f} GiB | boxes kept {kept} | {counts}")
""")


def scenario(name: str, n: int, rng: np.random.Generator) -> np.ndarray:
    """(n, 4) xyxy pixel boxes on a SIDE×SIDE image."""
    if name == "copies":
        base = rng.uniform(100, 3000, (10, 2))
        xy = np.repeat(base, n // 10, axis=0)
        return np.c_[xy, xy + 50]
    if name == "tiles":
        k = int(np.sqrt(n))
        gx, gy = np.meshgrid(np.arange(k) * 4.0, np.arange(k) * 4.0)
        xy = np.c_[gx.ravel(), gy.ravel()]
        xy[::10, 0] += 1  # tiles shifted 1 px: IoU with the neighbour 0, kept
        return np.c_[xy, xy + 4][:n]
    xy = rng.uniform(0, SIDE - 80, (n, 2))
    return np.c_[xy, xy + rng.uniform(10, 80, (n, 2))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--boxes", type=int, default=1_000_000)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    repo = Path(__file__).resolve().parents[1]
    with tempfile.TemporaryDirectory() as tmp:
        for name in ("copies", "tiles", "crowd"):
            root = Path(tmp) / name
            (root / "images" / "train").mkdir(parents=True)
            (root / "labels" / "train").mkdir(parents=True)
            # a flat PNG of SIDE×SIDE pixels (small file; the header gives the size)
            cv2.imwrite(str(root / "images" / "train" / "a.png"), np.zeros((SIDE, SIDE, 3), np.uint8))
            # and a small ordinary image, so that a refused crowd leaves a dataset to report on
            cv2.imwrite(str(root / "images" / "train" / "b.png"), np.full((64, 64, 3), 90, np.uint8))
            (root / "labels" / "train" / "b.txt").write_text("0 0.5 0.5 0.5 0.5\n")
            b = scenario(name, args.boxes, rng) / SIDE
            cxcywh = np.c_[(b[:, 0] + b[:, 2]) / 2, (b[:, 1] + b[:, 3]) / 2, b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]]
            np.savetxt(root / "labels" / "train" / "a.txt", np.c_[np.zeros(len(b)), cxcywh],
                       fmt=["%d"] + ["%.9f"] * 4)
            (root / "data.yaml").write_text("path: .\ntrain: images/train\nnames: [x]\n")
            out = subprocess.run([sys.executable, "-c", RUN, str(root / "data.yaml")], capture_output=True,
                                 text=True, cwd=repo, env={"PYTHONPATH": str(repo), "PATH": "/usr/bin:/bin"})
            print(f"{name:7s} {len(b):,} boxes: {out.stdout.strip() or out.stderr[-500:]}")


if __name__ == "__main__":
    main()
