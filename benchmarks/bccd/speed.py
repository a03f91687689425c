"""Training-step speed of candidate BCCD models (images/s), side by side in one run.

A step = forward (autocast as given) + YOLOLoss + backward + SGD step on a batch of
random images with BCCD-like targets (14 boxes per image, RBC/WBC/Platelet sizes). The
candidates are timed round-robin (one step each per round, median over rounds) so the
load of a shared machine hits all alike. Usage:
    .venv/bin/python benchmarks/bccd/speed.py --imgsz 416 --rounds 4 --threads 2
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from yolo3.losses.yolo_loss import LossConfig, YOLOLoss
from yolo3.models import create_model

CANDIDATES = {
    "tiny-w1.0": ("yolov3-tiny", 1.0, 1.0),
    "tiny-w0.5": ("yolov3-tiny", 0.5, 1.0),
    "v3-w0.25-d0.33": ("yolov3", 0.25, 0.33),
}


def bccd_like_targets(batch: int, imgsz: int, gen: torch.Generator) -> torch.Tensor:
    """(M, 6) rows [b, cls, x1, y1, x2, y2]: per image 12 RBC (~0.16·imgsz), 1 WBC
    (~0.3·imgsz), 1 Platelet (~0.06·imgsz), at random places."""
    rows = []
    for b in range(batch):
        for cls, n, side in ((0, 12, 0.16), (1, 1, 0.3), (2, 1, 0.06)):
            wh = side * imgsz * (0.8 + 0.4 * torch.rand(n, 2, generator=gen))
            c = (0.1 + 0.8 * torch.rand(n, 2, generator=gen)) * imgsz
            rows.append(torch.cat([torch.full((n, 1), b), torch.full((n, 1), cls), c - wh / 2, c + wh / 2], 1))
    return torch.cat(rows).float()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--imgsz", type=int, nargs="+", default=[416])
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--amp", default="bf16", choices=["bf16", "off"])
    ap.add_argument("--models", nargs="+", default=list(CANDIDATES))
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    gen = torch.Generator().manual_seed(0)
    runs = {}
    for size in args.imgsz:
        for name in args.models:
            arch, width, depth = CANDIDATES[name]
            xy = "v5"
            model = create_model(arch, num_classes=3, width=width, depth=depth, imgsz=size, xy_mode=xy).train()
            model.to(memory_format=torch.channels_last)
            loss_fn = YOLOLoss(model, LossConfig(assign_mode="v5", box_loss="ciou"))
            opt = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
            images = torch.rand(args.batch, 3, size, size, generator=gen).contiguous(memory_format=torch.channels_last)
            runs[(name, size)] = (model, loss_fn, opt, images, bccd_like_targets(args.batch, size, gen), [])

    def step(model, loss_fn, opt, images, targets) -> None:
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=args.amp == "bf16"):
            out = model(images)
        loss, _ = loss_fn([o.float() for o in out], targets)
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    for model, loss_fn, opt, images, targets, _ in runs.values():
        step(model, loss_fn, opt, images, targets)  # warm-up
    for _ in range(args.rounds):
        for model, loss_fn, opt, images, targets, times in runs.values():
            t0 = time.perf_counter()
            step(model, loss_fn, opt, images, targets)
            times.append(time.perf_counter() - t0)
    print(f"batch {args.batch}, threads {args.threads}, amp {args.amp}, median of {args.rounds} rounds")
    print("| model | imgsz | params | step ms | images/s |")
    print("|---|---|---|---|---|")
    for (name, size), (model, *_, times) in runs.items():
        ms = statistics.median(times) * 1e3
        params = sum(p.numel() for p in model.parameters())
        print(f"| {name} | {size} | {params:,} | {ms:.0f} | {args.batch / ms * 1e3:.1f} |")


if __name__ == "__main__":
    main()
