"""NMS and post-processing of this checkout vs an earlier revision, side by side in one process.

    PYTHONPATH=. .venv/bin/python benchmarks/bench_postprocess.py --rev 8e7e3fb --threads 2

The earlier revision's `yolo3/ops/nms.py` and `yolo3/inference/postprocess.py` are read
with `git show` and imported under other names; both versions are timed interleaved on
the same random boxes (median of `--runs`), and their results are checked equal.
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from yolo3.inference import postprocess as post_new
from yolo3.ops import nms as nms_new


def load_rev(rev: str, path: str, name: str, tmp: Path):
    source = subprocess.run(["git", "show", f"{rev}:{path}"], check=True, capture_output=True, text=True).stdout
    file = tmp / f"{name}.py"
    file.write_text(source)
    spec = importlib.util.spec_from_file_location(name, file)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def interleaved(fns: dict, runs: int) -> dict[str, float]:
    times = {k: [] for k in fns}
    for r in range(runs + 2):
        for k, fn in fns.items():
            t = time.perf_counter()
            fn()
            if r >= 2:
                times[k].append(time.perf_counter() - t)
    return {k: 1e3 * statistics.median(v) for k, v in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rev", default="8e7e3fb")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    tmp = Path(tempfile.mkdtemp())
    nms_old = load_rev(args.rev, "yolo3/ops/nms.py", "nms_old", tmp)
    post_old = load_rev(args.rev, "yolo3/inference/postprocess.py", "post_old", tmp)
    g = torch.Generator().manual_seed(0)
    print(f"threads {args.threads}; old = {args.rev}, new = this checkout; ms, median of {args.runs} interleaved")
    print("| case | old ms | new ms | new ÷ old |\n|---|---|---|---|")
    for n in (10, 100, 1000, 3000):
        xy = torch.rand(n, 2, generator=g) * 400
        boxes = torch.cat([xy, xy + torch.rand(n, 2, generator=g) * 60 + 5], 1)
        scores, labels = torch.rand(n, generator=g), torch.randint(0, 80, (n,), generator=g)
        old_keep = nms_old.batched_nms(boxes, scores, labels, 0.45)
        assert torch.equal(old_keep, nms_new.batched_nms(boxes, scores, labels, 0.45))
        assert torch.equal(nms_old.nms(boxes, scores, 0.45), nms_new.nms(boxes, scores, 0.45))
        t = interleaved({"old": lambda: nms_old.nms(boxes, scores, 0.45),
                         "new": lambda: nms_new.nms(boxes, scores, 0.45)}, args.runs)
        print(f"| NMS, {n} boxes | {t['old']:.2f} | {t['new']:.2f} | {t['new'] / t['old']:.2f} |")
    for arch, n in (("yolov3", 10647), ("yolov3-tiny", 2535)):
        pred = torch.rand(1, n, 85, generator=g)
        pred[..., :2] *= 400
        pred[..., 2:4] = pred[..., :2] + 20
        pred[..., 4] *= 0.2  # no candidate passes conf 0.25
        cfg = post_new.NMSConfig()
        t = interleaved({"old": lambda: post_old.postprocess(pred, post_old.NMSConfig()),
                         "new": lambda: post_new.postprocess(pred, cfg)}, args.runs)
        print(f"| post-processing, {arch} grid ({n}×80), no candidates | {t['old']:.2f} | {t['new']:.2f} | "
              f"{t['new'] / t['old']:.2f} |")


if __name__ == "__main__":
    main()
