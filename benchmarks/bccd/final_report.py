"""The BCCD section of benchmarks/RESULTS.md from a finished run_final.sh, and docs/bccd.png.

Reads RUN/test/summary.json (test metrics), RUN/metrics.csv (epochs, images/s),
LOGS/final-train.log (early stop?), LOGS/final-*.time (`/usr/bin/time -v`: wall time, peak RSS) and
LOGS/final-provenance.txt (commit, start date, load). Prints markdown.
Usage: .venv/bin/python benchmarks/bccd/final_report.py --run runs/bccd --logs benchmarks/bccd/logs
"""

from __future__ import annotations

import argparse
import csv
import json
import re
from pathlib import Path

COMMAND = "bash benchmarks/bccd/run_final.sh"
RECIPE = "yolo3/configs/bccd.yaml"
TRAIN = "yolo3 train --config {config} --data ../shared/datasets/bccd --name {name} --seed {seed} --no-progress"
TEST = "yolo3 val --weights runs/{name}/weights/best.safetensors --data ../shared/datasets/bccd --split test"


def time_v(path: Path) -> tuple[str, float]:
    """(wall clock h:mm:ss, peak RSS in GiB) from a `/usr/bin/time -v` report."""
    text = path.read_text()
    wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (\S+)", text).group(1)
    rss_kb = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", text).group(1))
    return wall, rss_kb / 2**20


def picture(folder: Path, out: Path, tile: tuple[int, int] = (480, 360)) -> None:
    """2×2 grid of the annotated test images, palette PNG (small enough for the README)."""
    from PIL import Image

    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in (".jpg", ".png"))[:4]
    grid = Image.new("RGB", (tile[0] * 2, tile[1] * 2), "white")
    for k, f in enumerate(files):
        grid.paste(Image.open(f).convert("RGB").resize(tile), ((k % 2) * tile[0], (k // 2) * tile[1]))
    out.parent.mkdir(parents=True, exist_ok=True)
    grid.quantize(colors=128, method=Image.Quantize.MEDIANCUT).save(out, optimize=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--run", type=Path, default=Path("runs/bccd"))
    ap.add_argument("--logs", type=Path, default=Path("benchmarks/bccd/logs"))
    ap.add_argument("--picture", type=Path, default=None)
    ap.add_argument("--config", default=RECIPE, help="the config trained (run_final.sh's CONFIG)")
    ap.add_argument("--tag", default="", help="run_final.sh's TAG (a recipe variant's log folder)")
    args = ap.parse_args()
    s = json.loads((args.run / "test" / "summary.json").read_text())
    m = s["metrics"]
    ap50 = {c["name"]: c["AP@0.5"] for c in s["per_class"]}
    rows = list(csv.DictReader((args.run / "metrics.csv").open()))
    train_s = sum(float(r["epoch_s"]) for r in rows)
    seen = sum(float(r["images_per_s"]) * float(r["epoch_s"]) for r in rows)
    val_rows = [r for r in rows if r.get("mAP@0.5:0.95")]
    best = max(val_rows, key=lambda r: float(r["mAP@0.5:0.95"])) if val_rows else rows[-1]
    wall, rss = time_v(args.logs / "final-train.time")
    provenance = (args.logs / "final-provenance.txt").read_text()
    commit, started, load = provenance.splitlines()[:3]
    cpu = re.search(r"Model name:\s*(.+)", provenance)
    log = (args.logs / "final-train.log").read_text()
    stop = "early stop (patience)" if "early stop:" in log else "end of schedule (epochs / time budget)"
    if args.picture:
        picture(args.run / "detect", args.picture)
    fmt = lambda v: "n/a" if v is None or v < 0 else f"{v:.3f}"
    print("| split | mAP@0.5:0.95 | mAP@0.5 | AP50 RBC | AP50 WBC | AP50 Platelets | APs | APm | APl | "
          "train wall | train img/s | peak RSS | epochs (best) |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    print(f"| test (72 img) | {fmt(m['mAP@0.5:0.95'])} | {fmt(m['mAP@0.5'])} | {fmt(ap50['RBC'])} | "
          f"{fmt(ap50['WBC'])} | {fmt(ap50['Platelets'])} | {fmt(m['APs'])} | {fmt(m['APm'])} | {fmt(m['APl'])} | "
          f"{wall} | {seen / train_s:.1f} | {rss:.2f} GiB | {len(rows)} ({int(best['epoch'])}) |")
    print()
    print(f"- Commit: `{commit}` (HEAD when the run started); started {started}; load at start: `{load.strip()}`; "
          f"CPU (`lscpu`): {cpu.group(1).strip() if cpu else 'not recorded'}, 2 cores")
    seed = re.search(r"^seed: (\S+)", (args.run / "config.yaml").read_text(), re.M)
    names = {"name": args.run.name, "seed": seed.group(1) if seed else "?", "config": args.config}
    env = "" if args.config == RECIPE else f"CONFIG={args.config} "
    env += f"TAG={args.tag} " if args.tag else ""
    env += f"SEED={names['seed']} " if names["seed"] not in ("0", "?") else ""
    print(f"- Command: `{env}{COMMAND}`, i.e. "
          f"`{TRAIN.format(**names)}` then `{TEST.format(**names)}` (thresholds for the picture from the val split)")
    print(f"- Stopped by: {stop}; best val mAP@0.5:0.95 {float(best.get('mAP@0.5:0.95') or 0):.3f} "
          f"(val mAP@0.5 {float(best.get('mAP@0.5') or 0):.3f}) at epoch {int(best['epoch'])} (1-based, as metrics.csv)")


if __name__ == "__main__":
    main()
