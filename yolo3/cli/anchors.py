"""`yolo3 anchors DATA`: fit anchors to a dataset's letterboxed box shapes (SPEC §2)."""

from __future__ import annotations

import argparse
from pathlib import Path

from yolo3.assign.fit_dataset import fit_dataset_anchors
from yolo3.cli.options import imgsz, nonneg_int, plot_file, positive_float, positive_int


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("anchors", help="k-means (1 - IoU) anchors for a dataset, with BPR and a plot")
    p.add_argument("data", help="YOLO data.yaml, COCO .json or Pascal VOC root")
    p.add_argument("--n", type=positive_int, default=9, help="number of anchors")
    p.add_argument("--imgsz", type=imgsz, default=416, help="network input size the boxes are letterboxed to")
    p.add_argument("--per-scale", type=positive_int, default=3, help="anchors per output scale")
    p.add_argument("--split", nargs="+", default=["train"], help="splits whose boxes are used")
    p.add_argument("--restarts", type=positive_int, default=5, help="seeded k-means restarts")
    p.add_argument("--generations", type=nonneg_int, default=1000, help="genetic refinement steps (0 = off)")
    p.add_argument("--thr", type=positive_float, default=4.0, help="ratio threshold of the best-possible recall")
    p.add_argument("--seed", type=int, default=0, help="seed of k-means and the genetic steps")
    p.add_argument("--plot", type=plot_file, default=Path("runs/anchors/anchors.png"), help="where to save the plot")
    p.set_defaults(run=_run)


def _run(args: argparse.Namespace) -> int:
    fit = fit_dataset_anchors(args.data, args.n, args.imgsz, args.per_scale, tuple(args.split), args.restarts,
                              args.generations, args.thr, args.seed, args.plot)
    print(fit.report())
    print(f"plot saved to {args.plot}")
    for line in usage_lines(fit.per_scale, args.imgsz, args.data):
        print(line)
    return 0


def usage_lines(per_scale: list[list[list[float]]], imgsz: int, data: str) -> list[str]:
    """How to train with the fitted anchors: a config snippet, then the exact command
    (last line). Anchors are pixels at `imgsz`, so the command trains at that size."""
    from yolo3.models.registry import model_spec

    pairs = " ".join(f"{w:g},{h:g}" for scale in per_scale for w, h in scale)
    model = " --model yolov3-tiny" if len(per_scale) == 2 else ""
    snippet = "[" + ", ".join("[" + ", ".join(f"[{w:g}, {h:g}]" for w, h in scale) + "]" for scale in per_scale) + "]"
    config = f"in a config YAML: model: {{anchors: {snippet}, imgsz: {imgsz}}} and imgsz: {imgsz}"
    shapes = {(len(d), len(d[0])) for d in (model_spec(a).default_anchors for a in ("yolov3", "yolov3-tiny"))}
    if (len(per_scale), len(per_scale[0])) not in shapes:  # train --anchors takes the architectures' own counts
        return [config, "use them: in a --config YAML as above; `yolo3 train --anchors` takes 3 per scale "
                "(--n 6 --per-scale 3 for yolov3-tiny, --n 9 --per-scale 3 for yolov3)"]
    return [config, f"use them: yolo3 train --data {data}{model} --imgsz {imgsz} --anchors '{pairs}'"]
