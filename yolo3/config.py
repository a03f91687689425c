"""Typed configuration: dataclasses that load from and save to YAML.

Every setting of yolo3 lives in a dataclass; a YAML file is just its fields. Unknown
keys are an error (a typo must not be silently ignored), and nested dataclasses load
recursively.
"""

from __future__ import annotations

import dataclasses
import re
import types
import typing
from pathlib import Path
from typing import Any, TypeVar

import yaml

T = TypeVar("T")

# Anchors are (w, h) in input pixels, grouped per output scale, scales ordered by
# increasing stride. These are the paper's COCO anchors (darknet yolov3.cfg).
COCO_ANCHORS: list[list[list[float]]] = [
    [[10, 13], [16, 30], [33, 23]],  # stride 8
    [[30, 61], [62, 45], [59, 119]],  # stride 16
    [[116, 90], [156, 198], [373, 326]],  # stride 32
]
# yolov3-tiny's COCO anchors (darknet yolov3-tiny.cfg), masks 0,1,2 and 3,4,5.
TINY_ANCHORS: list[list[list[float]]] = [
    [[10, 14], [23, 27], [37, 58]],  # stride 16
    [[81, 82], [135, 169], [344, 319]],  # stride 32
]


class ConfigError(ValueError):
    """A configuration file or dict that does not match its dataclass."""


STRIDE = 32  # the largest output stride of every YOLOv3-family model: input sizes are multiples of it


def imgsz_problem(value: int) -> str | None:
    """None for a valid input size, else the sentence that says why and names the
    nearest valid sizes (the one rule of train, val, detect, export and show-batch)."""
    if value > 0 and value % STRIDE == 0:
        return None
    below = max(STRIDE, value // STRIDE * STRIDE)
    above = max(STRIDE, -(-value // STRIDE) * STRIDE)
    nearest = f"{below}" if below == above else f"{below} or {above}"
    return f"{value} is not a positive multiple of {STRIDE} (the network's stride); nearest valid: {nearest}"


@dataclasses.dataclass
class ModelConfig:
    """What is needed to build a model and interpret its outputs.

    Attributes:
        arch: registered architecture name (`yolov3`, `yolov3-tiny`, `yolov3-spp`).
        num_classes: number of classes C; each head predicts A·(5+C) channels.
        class_names: optional names, length C.
        width: channel multiplier (1.0 = paper); channels round to multiples of 8.
        depth: residual-block multiplier (1.0 = paper); at least one block a stage.
        anchors: per scale (stride ascending) a list of (w, h) in input pixels;
            None = the architecture's COCO defaults.
        imgsz: input size (pixels, divisible by 32) the anchors were fitted for.
        xy_mode: `paper` (bx = σ(tx) + cx), `v5` (bx = 2σ(tx) − 0.5 + cx), or `ltrb`: the
            anchor-free head (FCOS/ATSS style): one prior point per cell (its centre) and the
            box as distances e^{t}·stride to its four sides; `anchors` then holds one square
            per scale, used only by ATSS assignment as the point's reference box (default
            8·stride, as in the ATSS paper).
        prior_obj: initial objectness probability of the head bias.
        prior_cls: initial class probability of the head bias.
        bn_eps: BatchNorm epsilon.
    """

    arch: str = "yolov3"
    num_classes: int = 80
    class_names: list[str] | None = None
    width: float = 1.0
    depth: float = 1.0
    anchors: list[list[list[float]]] | None = None
    imgsz: int = 416
    xy_mode: str = "paper"
    prior_obj: float = 0.01
    prior_cls: float = 0.01
    bn_eps: float = 1e-5

    def __post_init__(self) -> None:
        if self.num_classes < 1:
            raise ConfigError(f"num_classes must be >= 1, got {self.num_classes}")
        if self.class_names is not None and len(self.class_names) != self.num_classes:
            raise ConfigError(
                f"class_names has {len(self.class_names)} names but num_classes is "
                f"{self.num_classes}; give one name per class"
            )
        if imgsz_problem(self.imgsz):
            raise ConfigError(f"imgsz: {imgsz_problem(self.imgsz)}")
        if self.xy_mode not in ("paper", "v5", "ltrb"):
            raise ConfigError(f"xy_mode must be 'paper', 'v5' or 'ltrb' (anchor-free), got {self.xy_mode!r}")
        if self.xy_mode == "ltrb" and self.anchors is not None and any(len(scale) != 1 for scale in self.anchors):
            raise ConfigError("xy_mode 'ltrb' (anchor-free) has one prior point per cell: give one (w, h) per scale "
                              "in anchors (ATSS's reference box), or leave anchors empty for 8·stride squares")
        if not (self.width > 0 and self.depth > 0):
            raise ConfigError("width and depth multipliers must be positive")
        if self.anchors is not None:
            for scale in self.anchors:
                for anchor in scale:
                    if len(anchor) != 2 or not all(float(v) > 0 for v in anchor):
                        raise ConfigError(f"each anchor must be (w, h) > 0, got {anchor}")
            counts = [len(scale) for scale in self.anchors]
            if not counts or min(counts) < 1 or len(set(counts)) > 1:
                raise ConfigError(f"anchors: every scale needs the same number of (w, h) anchors, at least one, got "
                                  f"{counts} per scale (e.g. [[[10, 14], [23, 27], [37, 58]], [[81, 82], [135, 169], "
                                  "[344, 319]]]); or leave anchors empty for the defaults")
            self.anchors = [[[float(w), float(h)] for w, h in scale] for scale in self.anchors]

    @property
    def names(self) -> list[str]:
        """Class names, defaulting to the class ids as strings."""
        return list(self.class_names) if self.class_names else [str(i) for i in range(self.num_classes)]


YAML11_EXPONENT = re.compile(r"[-+]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)[eE][-+]?[0-9]+")
"""A number in exponent form that PyYAML (YAML 1.1: `1.0e-3` only) reads as a string: `1e-3`, `5E-4`."""


def _convert(tp: Any, value: Any, where: str) -> Any:
    """Converts a YAML value to the annotated type `tp` (dataclasses recursively)."""
    if isinstance(tp, str):
        raise ConfigError(f"unresolved annotation {tp!r} at {where}")
    origin = typing.get_origin(tp)
    if dataclasses.is_dataclass(tp):
        if isinstance(value, tp):
            return value
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a mapping for {tp.__name__}, got {type(value).__name__}")
        return from_dict(tp, value, where)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _convert(arg, value, where)
            except ConfigError as err:
                errors.append(str(err))
        raise ConfigError(f"{where}: {value!r} matches none of {args}: {errors}")
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where}: expected a list, got {value!r}")
        (item_tp, *_) = typing.get_args(tp) or (Any,)
        items = [_convert(item_tp, v, f"{where}[{i}]") for i, v in enumerate(value)]
        return items if origin is list else tuple(items)
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a mapping, got {value!r}")
        return dict(value)
    if tp is Any:
        return value
    if tp is float:  # an empty `key:` is None: refused here, not a TypeError deep in training
        if isinstance(value, str) and YAML11_EXPONENT.fullmatch(value.strip()):
            return float(value)  # `1e-3`: a number in YAML 1.2 and to users, a string to PyYAML
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            raise ConfigError(f"{where}: expected a number, got {value!r}")
        return float(value)
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: expected true/false, got {value!r}")
        return value
    if tp in (int, str) and not isinstance(value, tp) or (tp is int and isinstance(value, bool)):
        raise ConfigError(f"{where}: expected {tp.__name__}, got {value!r}")
    return value


def from_dict(cls: type[T], data: dict[str, Any], where: str = "config") -> T:
    """Builds dataclass `cls` from a dict, checking names and types of every field."""
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {unknown} for {cls.__name__}; known: {sorted(names)}")
    kwargs = {k: _convert(hints[k], v, f"{where}.{k}") for k, v in data.items()}
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as err:
        message = str(err)
        raise ConfigError(message if message.startswith(where) else f"{where}: {message}") from err


def to_dict(obj: Any) -> dict[str, Any]:
    """A dataclass as plain dicts/lists, ready for YAML or JSON."""
    return dataclasses.asdict(obj)


def load_yaml(cls: type[T], path: str | Path) -> T:
    """Reads a YAML file into dataclass `cls`; errors name the file."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8-sig")) or {}
    except (OSError, yaml.YAMLError) as err:
        raise ConfigError(f"{path}: cannot read YAML config: {err}") from err
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: a config file must be a mapping of field names to values")
    return from_dict(cls, data, where=str(path))


def save_yaml(obj: Any, path: str | Path) -> None:
    """Writes a dataclass to YAML (field order kept)."""
    Path(path).write_text(yaml.safe_dump(to_dict(obj), sort_keys=False), encoding="utf-8")
