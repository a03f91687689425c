"""`yolo3 overfit`: can the model drive one batch's loss down? (yolo3.train.overfit_batch)"""

from __future__ import annotations

import argparse

from yolo3.cli.train import add_config_arguments, config_from_args
from yolo3.cli.options import positive_float, positive_int


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("overfit", help="sanity check: train on one fixed batch until the loss collapses")
    add_config_arguments(p)
    p.add_argument("--steps", type=positive_int, default=100, help="optimizer steps on the batch")
    p.add_argument("--target", type=positive_float, default=0.2, help="pass when final loss <= target × initial")
    p.set_defaults(run=_run)


def _run(args: argparse.Namespace) -> int:
    from yolo3.train.diagnostics import overfit_batch

    result = overfit_batch(config_from_args(args), args.steps, args.target)
    every = max(1, len(result.losses) // 10)
    for i in range(0, len(result.losses), every):
        print(f"step {i:4d}  loss {result.losses[i]:.4f}")
    verdict = "PASS" if result.passed else "FAIL"
    print(f"{verdict}: loss {result.initial:.4f} → {result.final:.4f} "
          f"({result.final / result.initial:.1%} of the start; target ≤ {result.target_ratio:.0%})")
    if not result.passed:
        print("A model that cannot fit one batch has a bug or a bad setting: check labels (yolo3 show-batch), "
              "the LR (yolo3 lr-find), and that augmentation is off.")
    return 0 if result.passed else 1
