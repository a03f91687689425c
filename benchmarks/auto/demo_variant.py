"""`yolo3 demo` with some fields of its training recipe changed, for ablations of the demo's
defaults (issue 18 part 5): the data-chosen settings still apply; only the given fields differ.

Usage (repo root): python benchmarks/auto/demo_variant.py --data D --out OUT --minutes 5 \
    --set loss.box_loss=paper --set optim.lr0=0.006
Each --set is a dotted TrainConfig field and a YAML value (the field's type is kept).
"""

from __future__ import annotations

import argparse
import dataclasses
from typing import Any

import yaml

import yolo3.demo as demo
from yolo3.train.config import TrainConfig


def with_field(obj: Any, dotted: str, value: Any) -> Any:
    """`obj` (a dataclass) with the field at `dotted` (e.g. "loss.box_loss") set to `value`."""
    head, _, rest = dotted.partition(".")
    if head not in {f.name for f in dataclasses.fields(obj)}:
        raise SystemExit(f"--set {dotted}: {type(obj).__name__} has no field {head!r}")
    new = with_field(getattr(obj, head), rest, value) if rest else value
    return dataclasses.replace(obj, **{head: new})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=None)
    parser.add_argument("--out", required=True)
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE")
    args = parser.parse_args()
    changes = [(k, yaml.safe_load(v)) for k, v in (s.split("=", 1) for s in args.set)]
    recipe = demo.demo_config

    def changed_recipe(*a: Any, **kw: Any) -> TrainConfig:
        cfg = recipe(*a, **kw)
        for key, value in changes:
            cfg = with_field(cfg, key, value)
        return cfg

    demo.demo_config = changed_recipe
    result = demo.run_demo(args.data, args.out, minutes=args.minutes, progress=False)
    print(result.report())


if __name__ == "__main__":
    main()
