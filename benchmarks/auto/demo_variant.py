"""`yolo3 demo` with some fields of its training recipe changed, for ablations of the demo's
defaults (issue 18 part 5): the data-chosen settings still apply; only the given fields differ.

Usage (repo root): python benchmarks/auto/demo_variant.py --data D --out OUT --minutes 5 \
    --set loss.box_loss=paper --set optim.lr0=0.006
Each --set is a dotted TrainConfig field and a YAML value, checked like a config file's.
"""

from __future__ import annotations

import argparse
from typing import Any

import yaml

from yolo3 import demo
from yolo3.config import from_dict, to_dict
from yolo3.train.config import TrainConfig


def with_fields(cfg: TrainConfig, changes: list[tuple[str, Any]]) -> TrainConfig:
    """`cfg` with each dotted field (e.g. "loss.box_loss") set to its value, rebuilt by
    yolo3.config.from_dict, which checks the names and converts the types."""
    data = to_dict(cfg)
    for dotted, value in changes:
        *path, last = dotted.split(".")
        node = data
        for key in path:
            node = node.get(key) if isinstance(node, dict) else None
        if not isinstance(node, dict) or last not in node:
            raise SystemExit(f"--set {dotted}: TrainConfig has no such field")
        node[last] = value
    return from_dict(TrainConfig, data, where="--set")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=None)
    parser.add_argument("--out", required=True)
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE")
    parser.add_argument("--seed", type=int, default=0, help="seed of the split and the training (as yolo3 demo's)")
    parser.add_argument("--no-auto", default="", metavar="SETTINGS",
                        help="comma-separated settings taken from the recipe, not chosen from the data (yolo3 demo's)")
    args = parser.parse_args()
    changes = [(k, yaml.safe_load(v)) for k, v in (s.split("=", 1) for s in args.set)]
    recipe = demo.demo_config

    def changed_recipe(*a: Any, **kw: Any) -> TrainConfig:
        return with_fields(recipe(*a, **kw), changes)

    demo.demo_config = changed_recipe
    static = tuple(n for n in args.no_auto.split(",") if n)
    result = demo.run_demo(args.data, args.out, minutes=args.minutes, progress=False, seed=args.seed, static=static)
    print(result.report())


if __name__ == "__main__":
    main()
