"""The table of benchmarks/auto/run.sh: one row per demo run (LOGS/<pair>-<variant>-metrics.json)
with the settings it trained with (LOGS/<…>-choices.txt, the `auto:` lines of its train.log)."""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

SETTINGS = ("assignment", "mosaic", "imgsz", "warmup")


def choices(path: Path) -> dict[str, str]:
    """setting → value from `auto: SETTING = VALUE (why)` lines."""
    found = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        m = re.match(r"auto: (\w+) = (.+?) \((.*)\)$", line)
        if m:
            kept = " (given)" if m.group(3).startswith("kept") else ""
            found[m.group(1)] = m.group(2) + kept
    return found


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("logs", type=Path)
    args = p.parse_args()
    print("| run | " + " | ".join(SETTINGS) + " | held-back mAP@0.5 | mAP@0.5:0.95 | epochs |")
    print("|---" * (len(SETTINGS) + 4) + "|")
    for path in sorted(args.logs.glob("*-metrics.json")):
        name = path.name.removesuffix("-metrics.json")
        m = json.loads(path.read_text(encoding="utf-8"))
        c = choices(args.logs / f"{name}-choices.txt")
        cells = [c.get(s, "?") for s in SETTINGS]
        print(f"| {name} | " + " | ".join(cells) + f" | {m['metrics']['mAP@0.5']:.3f} | "
              f"{m['metrics']['mAP@0.5:0.95']:.3f} | {m['epochs']} |")


if __name__ == "__main__":
    main()
