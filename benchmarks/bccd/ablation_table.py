"""Markdown table of the BCCD ablations: val-split metrics, epochs, images/s.

Reads runs/bccd-ablate/bccd-ablate-<name>/{metrics.csv, val/summary.json} for every
ablation of make_ablations.py, or with `--assign` runs/bccd-assign/bccd-assign-<name>/
for every assignment variant of make_atss.py (issue 15), adding the positives and the
unmatched ground-truth boxes per batch of the last epoch.
Usage: .venv/bin/python benchmarks/bccd/ablation_table.py [--assign]
"""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from make_ablations import ABLATIONS
from make_atss import VARIANTS


def row(run: Path, name: str, what: str, assignment: bool) -> str:
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
            f"{rows[-1]['train/loss'][:6]} |"
            + (f" {float(rows[-1]['train/num_pos']):.0f} | {float(rows[-1]['train/unmatched']):.2f} |" if assignment else ""))


def main() -> None:
    assignment = "--assign" in sys.argv[1:]
    extra = " positives/batch | unmatched GTs/batch |" if assignment else ""
    print("| variant | change from the recipe | val mAP@0.5 | val mAP@0.5:0.95 | AP50 RBC | AP50 WBC | "
          "AP50 Platelets | epochs | train img/s | last train loss |" + extra)
    print("|---|---|---|---|---|---|---|---|---|---|" + "---|" * extra.count("|"))
    root, table = (Path("runs/bccd-assign"), VARIANTS) if assignment else (Path("runs/bccd-ablate"), ABLATIONS)
    for name, (what, _) in table.items():
        run = root / f"{root.name}-{name}"
        print(row(run, name, what, assignment))


if __name__ == "__main__":
    main()
