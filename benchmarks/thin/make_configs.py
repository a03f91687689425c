"""Configs for the thin-object assignment ablation (issue 15): paper vs v5 vs ATSS vs ATSS anchor-free on
`yolo3 synth --thin` (hair / scratch + the six shapes). Each is the demo recipe (`yolo3.demo.demo_config`:
yolov3-tiny ×0.5, Adam, cosine fitted to the budget, CIoU) at 192 px with only the assignment/decode changed,
1 thread, no workers. Usage: python benchmarks/thin/make_configs.py --minutes 4 (then bash benchmarks/thin/run.sh)
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

from yolo3.config import save_yaml
from yolo3.demo import demo_config

OUT = Path(__file__).resolve().parent / "configs"
VARIANTS = {"paper": ("paper", "paper", False), "v5": ("v5", "v5", False), "atss": ("atss", "v5", False),
            "atss-af": ("atss", "ltrb", False), "atss-fb": ("atss", "v5", True), "atss-af-fb": ("atss", "ltrb", True)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=4.0)
    ap.add_argument("--imgsz", type=int, default=192)
    args = ap.parse_args()
    OUT.mkdir(exist_ok=True)
    for name, (assign, xy, fallback) in VARIANTS.items():
        base = demo_config("/tmp/yolo3-thin/data.yaml", Path("runs/thin"), args.imgsz, args.minutes, "v5")
        cfg = dataclasses.replace(
            base, name=f"thin-{name}", threads=1, workers=0, auto_anchor=xy != "ltrb",
            model=dataclasses.replace(base.model, xy_mode=xy),
            loss=dataclasses.replace(base.loss, assign_mode=assign, atss_fallback=fallback), progress=False)
        save_yaml(cfg, OUT / f"thin-{name}.yaml")
        print(OUT / f"thin-{name}.yaml")


if __name__ == "__main__":
    main()
