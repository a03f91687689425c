"""Markdown table of the BCCD ablations: val-split metrics, epochs, images/s.

Reads runs/bccd-ablate/bccd-ablate-<name>/{metrics.csv, val/summary.json} for every
ablation of make_ablations.py. Usage: .venv/bin/python benchmarks/bccd/ablation_table.py
"""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from make_ablations import ABLATIONS

ROOT = Path("runs/bccd-ablate")


def row(name: str, what: str) -> str:
    run = ROOT / f"bccd-ablate-{name}"
    summary, metrics = run / "val" / "summary.json", run / "metrics.csv"
    if not summary.is_file() or not metrics.is_file():
        return f"| {name} | {what} | (missing) | | | | | | | |"
    s = json.loads(summary.read_text())
    rows = list(csv.DictReader(metrics.open()))
    m = s["metrics"]
    ap50 = {c["name"]: c["AP@0.5"] for c in s["per_class"]}
    train_s = sum(float(r["epoch_s"]) for r in rows)
    images = sum(float(r["images_per_s"]) * float(r["epoch_s"]) for r in rows)
    return (f"| {name} | {what} | {m['mAP@0.5']:.3f} | {m['mAP@0.5:0.95']:.3f} | {ap50.get('RBC', -1):.3f} | "
            f"{ap50.get('WBC', -1):.3f} | {ap50.get('Platelets', -1):.3f} | {len(rows)} | {images / train_s:.1f} | "
            f"{rows[-1]['train/loss'][:6]} |")


def main() -> None:
    print("| ablation | change from the recipe | val mAP@0.5 | val mAP@0.5:0.95 | AP50 RBC | AP50 WBC | "
          "AP50 Platelets | epochs | train img/s | last train loss |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for name, (what, _) in ABLATIONS.items():
        print(row(name, what))


if __name__ == "__main__":
    main()
