"""`yolo3 diagnose`: activation / dying-unit statistics and a gradient check on one batch."""

from __future__ import annotations

import argparse

from yolo3.cli.train import add_config_arguments, config_from_args
from yolo3.cli.options import positive_int


RTOL = 1e-3  # the verdict's relative tolerance, above the O(ε²) truncation of the difference


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("diagnose", help="activation/dying-unit statistics and a numerical gradient check")
    add_config_arguments(p)
    p.add_argument("--samples", type=positive_int, default=8, help="weights to check by finite differences")
    p.set_defaults(run=_run)


def _run(args: argparse.Namespace) -> int:
    from yolo3.train.diagnostics import diagnose

    report = diagnose(config_from_args(args), args.samples)
    print(f"{'layer':<34} {'ch':>5} {'mean':>8} {'std':>8} {'neg':>6} {'dying':>6}")
    for r in report.activations:
        print(f"{r.name:<34} {r.channels:>5} {r.mean:>8.3f} {r.std:>8.3f} {r.negative_share:>6.1%} {r.dying_channels:>6.1%}")
    print(f"\ngradient check (float64, central differences) on {len(report.paths)} images:")
    if report.note:
        print(f"  note: {report.note}")
    for c in report.gradients:
        verdict = "ok" if c.agrees(RTOL) else "MISMATCH"
        print(f"  {c.name}{list(c.index)}: autograd {c.analytic:+.6e}  numeric {c.numeric:+.6e}  "
              f"rel.err {c.relative_error:.1e}  round-off {c.atol:.1e}  {verdict}")
    failed = [c for c in report.gradients if not c.agrees(RTOL)]
    worst = max((c.relative_error for c in report.gradients), default=0.0)
    print(f"{'FAIL' if failed else 'PASS'}: {len(failed)} of {len(report.gradients)} weights outside "
          f"round-off + {RTOL:g}·|numeric| (worst relative error {worst:.1e})")
    return 1 if failed else 0
