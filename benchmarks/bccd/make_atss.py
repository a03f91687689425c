"""Writes the BCCD assignment-ablation configs (issue 15): paper vs v5 vs ATSS (anchors) vs ATSS anchor-free,
and ATSS with Mosaic 0.5 (issue 18: the recipe's Mosaic off re-measured after Mosaic's padding fix).

Each is the final recipe (yolo3/configs/bccd.yaml: v5 assignment + v5 decode, paper box loss) with the
assignment changed, trained for a short budget with 1 thread and no workers; val only at the end.
Usage: python benchmarks/bccd/make_atss.py --minutes 7   (then bash benchmarks/bccd/run_atss.sh)
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

from yolo3.config import save_yaml
from yolo3.train.presets import CONFIG_DIR, load_preset

OUT = Path(__file__).resolve().parent / "configs"


def _mosaic(p: float):
    def change(c):
        return dataclasses.replace(c, augment=dataclasses.replace(c.augment, mosaic=p))
    return change


def _mode(assign: str, xy: str, box: str | None = None, anchors: bool = True):
    def change(c):
        model = dataclasses.replace(c.model, xy_mode=xy, anchors=c.model.anchors if anchors else None)
        loss = dataclasses.replace(c.loss, assign_mode=assign, box_loss=box or c.loss.box_loss)
        return dataclasses.replace(c, model=model, loss=loss)
    return change


VARIANTS = {
    "paper": ("paper assignment + paper decode", _mode("paper", "paper")),
    "v5": ("the recipe: v5 assignment + v5 decode", _mode("v5", "v5")),
    "atss": ("ATSS (k=9) on the recipe's anchors, v5 decode", _mode("atss", "v5")),
    "atss-af": ("ATSS (k=9), anchor-free head (ltrb, 8*stride reference squares), CIoU", _mode("atss", "ltrb", "ciou",
                                                                                            anchors=False)),
    # issue 18 part 1: the recipe's "Mosaic off" was chosen before Mosaic's padding fix; re-measured against ATSS
    "atss-mosaic": ("ATSS as in the recipe, with Mosaic on half of the batches", lambda c: _mosaic(0.5)(
        _mode("atss", "v5")(c))),
}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=7.0)
    args = ap.parse_args()
    recipe = load_preset(str(CONFIG_DIR / "bccd.yaml"))
    for name, (what, change) in VARIANTS.items():
        cfg = dataclasses.replace(change(recipe), name=f"bccd-assign-{name}", time_budget_minutes=args.minutes,
                                  threads=1, workers=0, val_interval=0, patience=0, project="runs/bccd-assign",
                                  progress=False)
        path = OUT / f"bccd-assign-{name}.yaml"
        save_yaml(cfg, path)
        path.write_text(f"# BCCD assignment ablation '{name}': {what}; {args.minutes:g}-minute budget "
                        "(benchmarks/bccd/make_atss.py)\n" + path.read_text(encoding="utf-8"), encoding="utf-8")
        print(path)


if __name__ == "__main__":
    main()
