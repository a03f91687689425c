"""Mean ± std over seeds of the BCCD recipe's test metrics (issue 18 part 5).

Reads one test summary per seed (`yolo3 val --split test`'s summary.json; run_final.sh's runs are copied to
benchmarks/bccd/logs/seedN/test-summary.json) and prints a markdown table: one row per seed, then the mean and
the sample standard deviation (n − 1), and the issue's targets.
Usage: .venv/bin/python benchmarks/bccd/seeds.py benchmarks/bccd/logs/seed*/test-summary.json
   or: .venv/bin/python benchmarks/bccd/seeds.py benchmarks/bccd/logs/epochs500/seed*/final-test.log
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
from pathlib import Path

COLUMNS = ("mAP@0.5", "mAP@0.5:0.95", "Platelets", "RBC", "WBC")
TARGETS = {"mAP@0.5": 0.88, "mAP@0.5:0.95": 0.58, "Platelets": 0.80}
"""Issue 18 part 5: means at least these (per-class columns are AP@0.5); std of mAP@0.5 at most 0.01."""
MAX_STD = 0.01


def row(path: Path) -> dict[str, float]:
    """The table's columns from one summary.json, or from the printout of that `yolo3 val`
    (run_final.sh's final-test.log, 4 decimals) when the run folder is gone; per-class
    columns: AP@0.5."""
    if path.suffix != ".json":
        return row_from_log(path)
    s = json.loads(path.read_text(encoding="utf-8"))
    values = {k: float(s["metrics"][k]) for k in COLUMNS[:2]}
    values.update({c["name"]: float(c["AP@0.5"]) for c in s["per_class"]})
    return values


def row_from_log(path: Path) -> dict[str, float]:
    """The columns from `yolo3 val`'s printed metrics: 'mAP@0.5 …  0.9011' lines and the per-class
    table ('class boxes AP@0.5:0.95 AP@0.5 …', one row per class)."""
    text = path.read_text(encoding="utf-8", errors="replace")
    values = {k: float(re.search(rf"^{re.escape(k)}\s+([0-9.]+)$", text, re.M).group(1)) for k in COLUMNS[:2]}
    table = text.split("AP@0.5 VOC10", 1)[1].split("\n\n", 1)[0]
    for line in table.strip().splitlines():
        name, _boxes, _ap, ap50, *_ = line.split()
        values[name] = float(ap50)
    return values


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("summaries", nargs="+", type=Path)
    args = p.parse_args()
    rows = {re.sub(r"\D", "", path.parent.name) or path.parent.name: row(path) for path in args.summaries}
    print("| seed | " + " | ".join(COLUMNS) + " |")
    print("|---" * (len(COLUMNS) + 1) + "|")
    for seed, values in rows.items():
        print(f"| {seed} | " + " | ".join(f"{values[c]:.3f}" for c in COLUMNS) + " |")
    means = {c: statistics.mean(r[c] for r in rows.values()) for c in COLUMNS}
    stds = {c: statistics.stdev(r[c] for r in rows.values()) if len(rows) > 1 else float("nan") for c in COLUMNS}
    print(f"| mean ± std ({len(rows)} seeds) | " + " | ".join(f"**{means[c]:.3f} ± {stds[c]:.3f}**" for c in COLUMNS)
          + " |")
    verdicts = [f"{c} mean {means[c]:.3f} {'>=' if means[c] >= t else '<'} {t} ({'met' if means[c] >= t else 'not met'})"
                for c, t in TARGETS.items()]
    verdicts.append(f"std mAP@0.5 {stds['mAP@0.5']:.3f} {'<=' if stds['mAP@0.5'] <= MAX_STD else '>'} {MAX_STD} "
                    f"({'met' if stds['mAP@0.5'] <= MAX_STD else 'not met'})")
    print("\nTargets: " + "; ".join(verdicts) + ".")


if __name__ == "__main__":
    main()
