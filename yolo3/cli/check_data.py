"""`yolo3 check-data`: validate a dataset and print the report (file names and positions)."""

from __future__ import annotations

import argparse

from yolo3.data.convert import check_data
from yolo3.data.validate import ALLOWED, CheckPolicy, DataCheckError
from yolo3.cli.options import positive_int


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("check-data", help="validate a dataset before training")
    p.add_argument("data", help="data.yaml, COCO .json / folder, or VOC root")
    p.add_argument("--policy", action="append", default=[], metavar="KIND=RULE",
                   help=f"override a policy (rule fix|skip|warn|stop); kinds: {', '.join(ALLOWED)}")
    p.add_argument("--max-per-kind", type=positive_int, default=None, help="list at most N findings per kind (default: all)")
    p.add_argument("--no-decode", action="store_true", help="check headers only (faster)")
    p.add_argument("--allow-outside-root", action="store_true",
                   help="let a data.yaml read folders outside its own folder tree (its `path` or split entries)")
    p.set_defaults(run=_run)


def parse_policy(items: list[str], decode: bool = True) -> CheckPolicy:
    """['degenerate_box=stop', …] → CheckPolicy."""
    overrides = {}
    for item in items:
        kind, _, rule = item.partition("=")
        if kind not in ALLOWED or not rule:
            raise ValueError(f"--policy {item!r}: expected KIND=RULE with KIND one of {', '.join(ALLOWED)}")
        overrides[kind] = rule
    return CheckPolicy(**overrides, decode_images=decode)


def _run(args: argparse.Namespace) -> int:
    policy = parse_policy(args.policy, not args.no_decode)
    try:
        report = check_data(args.data, policy, allow_outside_root=args.allow_outside_root)
    except DataCheckError as err:
        print(err.report.format(args.max_per_kind))  # the whole report, then main() prints the error line
        raise
    print(report.format(args.max_per_kind))
    return 0
