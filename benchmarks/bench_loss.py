"""Assignment + loss time as a share of one yolov3-tiny training step (issue 4 target: < 5 %).

Batch of 16 images at 416×416, 50 random boxes each, 80 classes. Measured side by side
in one run, interleaved rep by rep: (1) a full training step (forward, loss, backward, SGD step); (2) the loss
alone (assignment + ignore mask + terms) on the same raw outputs; (3) the loss plus its
own backward pass down to the raw outputs. Median of `--reps` rounds after one warm-up.

    .venv/bin/python benchmarks/bench_loss.py --reps 5
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from yolo3.losses import LossConfig, YOLOLoss
from yolo3.models import create_model


def random_targets(batch: int, per_image: int, imgsz: int, gen: torch.Generator) -> torch.Tensor:
    """(batch·per_image, 6) random boxes of 8–200 px inside the image."""
    n = batch * per_image
    wh = torch.rand(n, 2, generator=gen) * 192 + 8
    xy = torch.rand(n, 2, generator=gen) * (imgsz - wh)
    b = torch.arange(batch).repeat_interleave(per_image).float()
    c = torch.randint(0, 80, (n,), generator=gen).float()
    return torch.cat([b[:, None], c[:, None], xy, xy + wh], 1)


def timed_interleaved(fns: list, reps: int) -> list[float]:
    """Median seconds of each function, run in turn within each rep (load hits all alike)."""
    for fn in fns:
        fn()
    times: list[list[float]] = [[] for _ in fns]
    for _ in range(reps):
        for fn, bucket in zip(fns, times):
            t0 = time.perf_counter()
            fn()
            bucket.append(time.perf_counter() - t0)
    return [statistics.median(t) for t in times]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--boxes", type=int, default=50)
    parser.add_argument("--imgsz", type=int, default=416)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    gen = torch.Generator().manual_seed(0)
    images = torch.rand(args.batch, 3, args.imgsz, args.imgsz, generator=gen)
    targets = random_targets(args.batch, args.boxes, args.imgsz, gen)
    print(f"batch {args.batch} × {args.imgsz}², {args.boxes} boxes/image, threads {args.threads}, "
          f"median of {args.reps}")
    for mode in ("paper", "v5"):
        torch.manual_seed(0)
        model = create_model("yolov3-tiny", num_classes=80, imgsz=args.imgsz, xy_mode=mode)
        model.train()
        criterion = YOLOLoss(model, LossConfig(assign_mode=mode))
        opt = torch.optim.SGD(model.parameters(), lr=1e-4, momentum=0.9)

        def step() -> None:
            total, _ = criterion(model(images), targets)
            opt.zero_grad()
            total.backward()
            opt.step()

        raw = [r.detach().requires_grad_() for r in model(images)]

        def loss_only() -> None:
            with torch.no_grad():
                criterion(raw, targets)

        def loss_backward() -> None:
            total, _ = criterion(raw, targets)
            total.backward()

        t_step, t_loss, t_loss_bw = timed_interleaved([step, loss_only, loss_backward], args.reps)
        _, terms = criterion(raw, targets)
        print(f"{mode:5s}: train step {t_step * 1000:8.1f} ms | assign+loss {t_loss * 1000:6.1f} ms "
              f"({100 * t_loss / t_step:4.1f} %) | assign+loss+its backward {t_loss_bw * 1000:6.1f} ms "
              f"({100 * t_loss_bw / t_step:4.1f} %) | positives {int(terms['num_pos'])}, "
              f"collisions {int(terms['collisions'])}, ignored {int(terms['ignored'])}")


if __name__ == "__main__":
    main()
