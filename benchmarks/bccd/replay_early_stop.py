"""Replays a run's validation curve through the old and the new early-stopping rule.

For each curve and rule: the epoch at which the rule would have stopped the run and the
best validation (what best.safetensors would hold) reached by then. Curves:

- `amd`: the metrics.csv given (default: the committed BCCD recipe run on AMD,
  benchmarks/bccd/logs/final-metrics.csv, 258 epochs, best fitness at epoch 213).
- `intel-like`: the same curve made to behave like the Intel re-run of issue 18, whose
  own curve is not in the repository (only: early-stopped at epoch 132, best epoch 87).
  Built as: identical up to epoch 84; the validation at epoch 87 raised by `--spike`
  (a lucky draw); after 87 the AMD trajectory delayed by `--delay` epochs (a plateau at
  the level of epochs 66-87, then rising again as on AMD). Defaults: spike 0.01 (about
  twice the validation-to-validation swings around epoch 80) and, for it, the shortest
  delay (24) with which the old rule reproduces the Intel stop exactly. A second table
  replays every (spike, delay) on a grid that reproduces it.
- `noisy`: `--replicas` copies of the AMD curve with independent Gaussian noise of the
  curve's own validation-to-validation scatter (×1, ×3, ×6) added; the table gives
  quantiles of the stop epoch and the best fitness reached by then.

The rules see the planned length `--planned-epochs` (bccd.yaml: 300, which the 60-minute
budget allowed on AMD); min_share applies to it.

Usage (repo root): .venv/bin/python benchmarks/bccd/replay_early_stop.py
"""

from __future__ import annotations

import argparse
import csv
import math
import random
import statistics
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from yolo3.train.early_stop import EarlyStopConfig, decide

Curve = list[tuple[int, float]]  # (1-based epoch, fitness) of each validation
Rule = Callable[[Sequence[float], int, int], bool]  # (history, epochs_done, planned) -> stop

DEFAULT_METRICS = Path(__file__).parent / "logs" / "final-metrics.csv"


def read_curve(path: Path) -> Curve:
    """Validated rows of a metrics.csv as (1-based epoch, fitness). Files written before
    epochs were 1-based (the committed final-metrics.csv) start at epoch 0: shifted."""
    with path.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    shift = 1 if rows and int(rows[0]["epoch"]) == 0 else 0
    return [(int(r["epoch"]) + shift, float(r["fitness"])) for r in rows if r.get("mAP@0.5:0.95")]


OLD_RULE = EarlyStopConfig(smooth=1, trend_t=0, min_share=0)
"""The rule before issue 18 (stop after `patience` validations without a strictly better
single value): these settings of `decide`, checked against a separate implementation of
the old counter in tests/test_train_early_stop.py."""


def new_rule(patience: int, cfg: EarlyStopConfig) -> Rule:
    def stop(history: Sequence[float], epochs_done: int, planned: int) -> bool:
        return decide(history, patience, cfg, epochs_done, planned).stop
    return stop


def replay(curve: Curve, rule: Rule, planned: int) -> tuple[int | None, int, float]:
    """(stop epoch or None, best epoch, best fitness) up to the stop (or the curve's end)."""
    history: list[float] = []
    stop_epoch = None
    for epoch, value in curve:
        history.append(value)
        if rule(history, epoch, planned):
            stop_epoch = epoch
            break
    seen = curve[:len(history)]
    best_epoch, best = max(seen, key=lambda p: (p[1], -p[0]))
    return stop_epoch, best_epoch, best


def intel_like(curve: Curve, at: int, spike: float, delay: int) -> Curve:
    """`curve` with the validation at epoch `at` raised by `spike` and everything after
    it delayed by `delay` epochs (a multiple of the validation interval)."""
    value = dict(curve)
    out = [(e, v + spike if e == at else v) for e, v in curve if e <= at]
    out += [(e + delay, value[e]) for e, _ in curve if e + delay > at]
    return out


def scatter(curve: Curve) -> float:
    """Validation-to-validation noise: std of fitness minus its centred 5-point mean,
    from the 20th validation on (past the steep start)."""
    values = [v for _, v in curve]
    resid = [values[i] - statistics.fmean(values[i - 2:i + 3]) for i in range(20, len(values) - 2)]
    return statistics.pstdev(resid) * math.sqrt(5 / 4)  # the centred mean shares 1/5 of the point


def fmt_stop(stop: int | None, curve: Curve) -> str:
    return str(stop) if stop is not None else f"none (curve ends at {curve[-1][0]})"


def noisy_table(amd: Curve, rules: dict[str, Rule], planned: int, replicas: int, seed: int) -> None:
    """Stop epochs of the rules on noisy copies of `amd`, at 1× and 3× its own scatter."""
    sigma = scatter(amd)
    clean = dict(amd)
    print(f"\nnoisy: {replicas} copies of amd + independent N(0, k·{sigma:.4f}) per validation ({sigma:.4f} = amd's own "
          "scatter); stop epoch 10th / 50th / 90th percentile ('end': not stopped by 258); best = the noise-free "
          "fitness at the best noisy validation")
    print("| noise | rule | stop epoch p10 / p50 / p90 | runs stopped before epoch 150 | mean best fitness by then |")
    print("|---|---|---|---|---|")
    for k in (1, 3, 6):
        rng = random.Random(seed)
        copies = [[(e, v + rng.gauss(0.0, k * sigma)) for e, v in amd] for _ in range(replicas)]
        for rule_name, rule in rules.items():
            stops, bests = [], []
            for curve in copies:
                stop, best_epoch, _ = replay(curve, rule, planned)
                stops.append(stop if stop is not None else math.inf)
                bests.append(clean[best_epoch])
            q = statistics.quantiles(stops, n=10, method="inclusive")
            show = ["end" if math.isinf(x) else f"{x:.0f}" for x in (q[0], q[4], q[8])]
            early = sum(s < 150 for s in stops)
            print(f"| {k}σ | {rule_name} | {' / '.join(show)} | {early}/{replicas} | {statistics.fmean(bests):.4f} |")


def grid_table(amd: Curve, rules: dict[str, Rule], planned: int) -> None:
    """Every intel-like construction on a grid that reproduces the Intel facts under the
    old rule (stop at 132, best 87), and what the other rules do with it."""
    old = next(iter(rules.values()))
    found = []
    for spike in (0.0, 0.005, 0.01, 0.015, 0.02, 0.03):
        for delay in range(0, 61, 3):
            curve = intel_like(amd, 87, spike, delay)
            if replay(curve, old, planned)[:2] == (132, 87):
                found.append(curve)
    print(f"\nintel-like grid: spike in {{0, 0.005, 0.01, 0.015, 0.02, 0.03}} x delay in {{0, 3, …, 60}}: "
          f"{len(found)} constructions reproduce the Intel stop (132, best 87) under the old rule")
    print("| rule | stopped before epoch 150 | stopped before the curve's peak | mean best fitness by the stop |")
    print("|---|---|---|---|")
    for rule_name, rule in rules.items():
        results = [(replay(c, rule, planned), max(c, key=lambda p: p[1])[0]) for c in found]
        early = sum(r[0] is not None and r[0] < 150 for r, _ in results)
        before_peak = sum(r[0] is not None and r[0] < peak for r, peak in results)
        mean_best = statistics.fmean(r[2] for r, _ in results)
        print(f"| {rule_name} | {early}/{len(found)} | {before_peak}/{len(found)} | {mean_best:.4f} |")


def main(argv: Sequence[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--metrics", type=Path, default=DEFAULT_METRICS)
    p.add_argument("--patience", type=int, default=15, help="validations (bccd.yaml: 15)")
    p.add_argument("--planned-epochs", type=int, default=300, help="the run's planned length (bccd.yaml: 300)")
    p.add_argument("--spike", type=float, default=0.01, help="intel-like: lucky excess at epoch 87")
    p.add_argument("--delay", type=int, default=24, help="intel-like: epochs of plateau after 87")
    p.add_argument("--replicas", type=int, default=200)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)

    amd = read_curve(args.metrics)
    interval = amd[-1][0] - amd[-2][0]
    flat = amd + [(e, amd[-1][1]) for e in range(amd[-1][0] + interval, args.planned_epochs + 1, interval)]
    intel = intel_like(amd, 87, args.spike, args.delay)
    base = EarlyStopConfig()
    rules: dict[str, Rule] = {
        "old: best single value": new_rule(args.patience, OLD_RULE),
        f"new (defaults: smooth {base.smooth}, trend_t {base.trend_t:g}, min_share {base.min_share:g})":
            new_rule(args.patience, base),
        "new, smoothing only": new_rule(args.patience, EarlyStopConfig(smooth=base.smooth, trend_t=0, min_share=0)),
        "new, trend test only": new_rule(args.patience, EarlyStopConfig(smooth=1, trend_t=base.trend_t, min_share=0)),
        "new, min_share only": new_rule(args.patience, EarlyStopConfig(smooth=1, trend_t=0, min_share=base.min_share)),
    }
    print(f"patience {args.patience} validations, planned {args.planned_epochs} epochs; epochs 1-based\n")
    print("| curve | rule | stops at epoch | best epoch by then | best fitness by then |")
    print("|---|---|---|---|---|")
    curves = (("amd", amd), ("amd + flat tail", flat), (f"intel-like (spike {args.spike:g}, delay {args.delay})", intel))
    for name, curve in curves:
        for rule_name, rule in rules.items():
            stop, best_epoch, best = replay(curve, rule, args.planned_epochs)
            print(f"| {name} | {rule_name} | {fmt_stop(stop, curve)} | {best_epoch} | {best:.4f} |")
    grid_table(amd, rules, args.planned_epochs)
    noisy_table(amd, dict(list(rules.items())[:2]), args.planned_epochs, args.replicas, args.seed)


if __name__ == "__main__":
    main()
