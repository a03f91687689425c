"""Writes the BCCD ablation configs (benchmarks/bccd/configs/bccd-ablate-*.yaml) from the recipe.

Each ablation is the recipe (yolo3/configs/bccd.yaml) with ONE change, trained for a
shorter budget with 1 thread and no workers, so that two run side by side on the 2
cores under the same load; validation only at the end (`yolo3 val --split val`).
Usage: .venv/bin/python benchmarks/bccd/make_ablations.py --minutes 7
[--only base objiou --prefix bccd-r2]: a subset around the current recipe, under another name.

The committed bccd-ablate-*.yaml files are the ones that ran (2026-11-22): they were made
from the FIRST recipe (Mosaic on, paper assignment, CIoU = bccd-ablate-base.yaml); the
final bccd.yaml takes the winners. Re-running this script now ablates around the final
recipe instead (pass --recipe benchmarks/bccd/configs/bccd-ablate-base.yaml for the original).
"""

from __future__ import annotations

import argparse
from pathlib import Path
import dataclasses

from yolo3.config import TINY_ANCHORS, save_yaml
from yolo3.train.presets import CONFIG_DIR, load_preset

ABLATION_DIR = Path(__file__).resolve().parent / "configs"

# k-means + genetic on BCCD train at 416 (yolo3 anchors --n 9), for the 3-scale model
ANCHORS9_416 = [[[25, 25], [55, 58], [68, 50]], [[65, 63], [61, 72], [74, 61]], [[70, 70], [81, 75], [141, 129]]]

# name → (what changes, function of the recipe config)
ABLATIONS = {
    "base": ("the recipe itself", lambda c: c),
    "v5": ("v5 assignment (+ v5 decode)", lambda c: dataclasses.replace(
        c, loss=dataclasses.replace(c.loss, assign_mode="v5"), model=dataclasses.replace(c.model, xy_mode="v5"))),
    "paperbox": ("paper box loss instead of CIoU", lambda c: dataclasses.replace(
        c, loss=dataclasses.replace(c.loss, box_loss="paper"))),
    "nomosaic": ("Mosaic off", lambda c: dataclasses.replace(c, augment=dataclasses.replace(c.augment, mosaic=0.0))),
    "defanchors": ("darknet yolov3-tiny default anchors", lambda c: dataclasses.replace(
        c, model=dataclasses.replace(c.model, anchors=TINY_ANCHORS))),
    "512": ("input 512 (anchors x 512/416)", lambda c: dataclasses.replace(
        c, imgsz=512, model=dataclasses.replace(c.model, imgsz=512, anchors=[
            [[round(w * 512 / 416), round(h * 512 / 416)] for w, h in s] for s in c.model.anchors]))),
    "tiny-w1": ("yolov3-tiny at full width (4x the FLOPs)", lambda c: dataclasses.replace(
        c, model=dataclasses.replace(c.model, width=1.0))),
    "v3-w025": ("yolov3 (3 scales, stride 8) width 0.25 depth 0.33, 9 fitted anchors", lambda c: dataclasses.replace(
        c, model=dataclasses.replace(c.model, arch="yolov3", width=0.25, depth=0.33, anchors=ANCHORS9_416))),
    "objiou": ("objectness target = the positive's IoU with its box instead of 1 (v5 style)",
               lambda c: dataclasses.replace(c, loss=dataclasses.replace(c.loss, obj_iou_target=True))),
}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=7.0)
    ap.add_argument("--recipe", default=str(CONFIG_DIR / "bccd.yaml"))
    ap.add_argument("--only", nargs="+", choices=sorted(ABLATIONS), help="write these ablations only (default: all)")
    ap.add_argument("--prefix", default="bccd-ablate",
                    help="config/run name prefix: another one keeps the committed 2026-11-22 configs as they ran")
    args = ap.parse_args()
    recipe = load_preset(args.recipe)
    for name, (what, change) in ABLATIONS.items():
        if args.only and name not in args.only:
            continue
        cfg = dataclasses.replace(change(recipe), name=f"{args.prefix}-{name}", time_budget_minutes=args.minutes,
                                  threads=1, workers=0, val_interval=0, patience=0, project=f"runs/{args.prefix}",
                                  progress=False)
        path = ABLATION_DIR / f"{args.prefix}-{name}.yaml"
        save_yaml(cfg, path)
        text = path.read_text(encoding="utf-8")
        path.write_text(f"# BCCD ablation '{name}': {what}; {args.minutes:g}-minute budget "
                        "(benchmarks/bccd/make_ablations.py)\n" + text, encoding="utf-8")
        print(path)


if __name__ == "__main__":
    main()
