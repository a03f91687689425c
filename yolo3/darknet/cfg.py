"""darknet `.cfg` files: parse into typed layer records, and write them back.

Supported sections and options are those of the stock yolov3.cfg, yolov3-tiny.cfg and
yolov3-spp.cfg. Anything else is an error naming the file and line, never skipped:
a silently ignored option would give a network that differs from darknet's.

Like darknet, all whitespace inside a line is removed, `#` and `;` start comments,
defaults are darknet's own (e.g. `[convolutional]` without `activation` is logistic,
which is then refused as unsupported).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Union

from yolo3.io.text import split_lines


class DarknetCfgError(ValueError):
    """A `.cfg` that yolo3 cannot represent exactly; the message names file and line."""


@dataclasses.dataclass
class Net:
    """`[net]`: input size; other (training) options are kept verbatim, not interpreted."""

    width: int = 416
    height: int = 416
    channels: int = 3
    extra: dict[str, str] = dataclasses.field(default_factory=dict)
    line: int = 0


@dataclasses.dataclass
class Conv:
    """`[convolutional]`: padding = size // 2 when `pad=1`, else 0; BN replaces the bias."""

    filters: int = 1
    size: int = 1
    stride: int = 1
    pad: int = 0
    batch_normalize: int = 0
    activation: str = "logistic"
    line: int = 0

    @property
    def padding(self) -> int:
        return self.size // 2 if self.pad else 0


@dataclasses.dataclass
class Shortcut:
    """`[shortcut]`: output = previous layer + layer `from` (relative if negative)."""

    from_: int = -1
    activation: str = "linear"
    line: int = 0


@dataclasses.dataclass
class Route:
    """`[route]`: channel concatenation of `layers` (negative = relative to this one)."""

    layers: tuple[int, ...] = ()
    line: int = 0


@dataclasses.dataclass
class Upsample:
    """`[upsample]`: nearest-neighbour ×stride."""

    stride: int = 2
    line: int = 0


@dataclasses.dataclass
class MaxPool:
    """`[maxpool]`: window `size`, `stride`; darknet pads size−1 (padding//2 before)."""

    size: int = 1
    stride: int = 1
    padding: int = 0
    line: int = 0


@dataclasses.dataclass
class Yolo:
    """`[yolo]`: the anchors `mask` selects from `anchors` ((w, h) input pixels) are this head's."""

    mask: tuple[int, ...] = ()
    anchors: tuple[tuple[float, float], ...] = ()
    classes: int = 20
    num: int = 1
    jitter: float = 0.2
    ignore_thresh: float = 0.5
    truth_thresh: float = 1.0
    random: int = 0
    line: int = 0

    @property
    def head_anchors(self) -> list[list[float]]:
        """This head's anchors, (w, h) input pixels, in mask order."""
        return [list(self.anchors[i]) for i in self.mask]


Layer = Union[Conv, Shortcut, Route, Upsample, MaxPool, Yolo]


@dataclasses.dataclass
class DarknetCfg:
    """A parsed `.cfg`: the `[net]` section and the layers in file order (darknet indices)."""

    net: Net
    layers: list[Layer]
    path: str = "<cfg>"


_SECTION_ALIASES = {"net": "net", "network": "net", "convolutional": "convolutional", "conv": "convolutional",
                    "shortcut": "shortcut", "route": "route", "upsample": "upsample", "maxpool": "maxpool",
                    "max": "maxpool", "yolo": "yolo"}
# Option name in the file -> field name, per section.
_OPTIONS: dict[str, dict[str, str]] = {
    "convolutional": {k: k for k in ("filters", "size", "stride", "pad", "batch_normalize", "activation")},
    "shortcut": {"from": "from_", "activation": "activation"},
    "route": {"layers": "layers"},
    "upsample": {"stride": "stride"},
    "maxpool": {"size": "size", "stride": "stride", "padding": "padding"},
    "yolo": {k: k for k in ("mask", "anchors", "classes", "num", "jitter", "ignore_thresh", "truth_thresh", "random")},
}
_ACTIVATIONS = ("leaky", "linear")
_CLASSES = {"convolutional": Conv, "shortcut": Shortcut, "route": Route, "upsample": Upsample,
            "maxpool": MaxPool, "yolo": Yolo}


@dataclasses.dataclass
class _RawSection:
    kind: str
    line: int
    options: dict[str, tuple[str, int]]  # name -> (value, line)


def _split_sections(text: str, path: str) -> list[_RawSection]:
    sections: list[_RawSection] = []
    for number, raw in enumerate(split_lines(text), start=1):
        line = "".join(raw.split())
        if not line or line[0] in "#;":
            continue
        if line.startswith("["):
            if not line.endswith("]"):
                raise DarknetCfgError(f"{path}:{number}: malformed section header {raw.strip()!r}")
            name = line[1:-1].lower()
            if name not in _SECTION_ALIASES:
                raise DarknetCfgError(
                    f"{path}:{number}: section [{name}] is not supported; supported: "
                    "[net] [convolutional] [shortcut] [route] [upsample] [maxpool] [yolo]"
                )
            sections.append(_RawSection(_SECTION_ALIASES[name], number, {}))
            continue
        if not sections:
            raise DarknetCfgError(f"{path}:{number}: option {raw.strip()!r} before the first [section]")
        key, sep, value = line.partition("=")
        if not sep or not key:
            raise DarknetCfgError(f"{path}:{number}: expected 'option=value', got {raw.strip()!r}")
        section = sections[-1]
        if key in section.options:
            raise DarknetCfgError(
                f"{path}:{number}: option {key!r} repeats line {section.options[key][1]} in [{section.kind}]; keep one"
            )
        section.options[key] = (value, number)
    return sections


def _value(kind: str, field: str, value: str, where: str) -> object:
    """Converts one option value to its field's type."""
    try:
        if field in ("mask", "layers", "from_"):
            items = tuple(int(v) for v in value.split(",") if v)
            if not items:
                raise ValueError("empty list")
            return items[0] if field == "from_" else items
        if field == "anchors":
            nums = [float(v) for v in value.split(",") if v]
            if len(nums) % 2:
                raise ValueError(f"{len(nums)} numbers, not (w, h) pairs")
            return tuple((nums[i], nums[i + 1]) for i in range(0, len(nums), 2))
        if field == "activation":
            if value not in _ACTIVATIONS:
                raise ValueError(f"activation {value!r} is not supported (supported: {', '.join(_ACTIVATIONS)})")
            return value
        if field in ("jitter", "ignore_thresh", "truth_thresh"):
            return float(value)
        return int(value)
    except ValueError as err:
        raise DarknetCfgError(f"{where}: bad value {value!r} for [{kind}] {field.rstrip('_')}: {err}") from None


def _build_layer(section: _RawSection, path: str) -> Layer:
    known = _OPTIONS[section.kind]
    fields: dict[str, object] = {}
    for key, (value, number) in section.options.items():
        where = f"{path}:{number}"
        if key not in known:
            raise DarknetCfgError(
                f"{where}: option {key!r} of [{section.kind}] is not supported "
                f"(supported: {', '.join(sorted(known))}); remove it or convert the model by hand"
            )
        fields[known[key]] = _value(section.kind, known[key], value, where)
    cls = _CLASSES[section.kind]
    if cls is Conv and "activation" not in fields:
        raise DarknetCfgError(f"{path}:{section.line}: [convolutional] without activation means logistic, "
                              "which is not supported; give activation=leaky or linear")
    if cls is MaxPool:  # darknet: size defaults to stride, padding to size - 1
        fields.setdefault("size", fields.get("stride", 1))
        fields.setdefault("padding", int(fields["size"]) - 1)
    layer = cls(**fields, line=section.line)
    _check_positive(layer, path)
    if isinstance(layer, Yolo):
        _check_yolo(layer, path)
    return layer


# Options that must be >= 1 (0 or less would divide by zero or build an empty layer).
_POSITIVE = {Conv: ("filters", "size", "stride"), MaxPool: ("size", "stride"), Upsample: ("stride",), Yolo: ("classes",)}


def _check_positive(layer: Layer, path: str) -> None:
    for field in _POSITIVE.get(type(layer), ()):
        value = getattr(layer, field)
        if value < 1:
            kind = next(k for k, c in _CLASSES.items() if c is type(layer))
            raise DarknetCfgError(f"{path}:{layer.line}: [{kind}] {field}={value}; it must be at least 1")


def _check_yolo(layer: Yolo, path: str) -> None:
    where = f"{path}:{layer.line}"
    if not layer.anchors:
        raise DarknetCfgError(f"{where}: [yolo] needs anchors=w,h, w,h, ...")
    if len(layer.anchors) != layer.num:
        raise DarknetCfgError(f"{where}: [yolo] num={layer.num} but {len(layer.anchors)} anchors are given")
    if not layer.mask:
        layer.mask = tuple(range(layer.num))
    bad = [m for m in layer.mask if not 0 <= m < layer.num]
    if bad:
        raise DarknetCfgError(f"{where}: [yolo] mask entries {bad} are outside 0..{layer.num - 1}")


def _build_net(section: _RawSection, path: str) -> Net:
    net = Net(line=section.line)
    for key, (value, number) in section.options.items():
        if key in ("width", "height", "channels"):
            setattr(net, key, int(_value("net", key, value, f"{path}:{number}")))
        else:
            net.extra[key] = value
    if net.width < 1 or net.height < 1:
        raise DarknetCfgError(f"{path}:{section.line}: [net] width={net.width} height={net.height}; both must be "
                              "positive (a multiple of 32, e.g. 416)")
    if net.channels != 3:
        raise DarknetCfgError(f"{path}:{section.line}: [net] channels={net.channels}; yolo3 models take RGB (3)")
    return net


def parse_cfg(text: str, path: str = "<cfg>") -> DarknetCfg:
    """Parses cfg text into a `DarknetCfg`; `path` only labels error messages."""
    sections = _split_sections(text, path)
    if not sections or sections[0].kind != "net":
        raise DarknetCfgError(f"{path}: a darknet cfg must start with a [net] section")
    extra_net = [s.line for s in sections[1:] if s.kind == "net"]
    if extra_net:
        raise DarknetCfgError(f"{path}:{extra_net[0]}: a second [net] section; only the first may be [net]")
    return DarknetCfg(_build_net(sections[0], path), [_build_layer(s, path) for s in sections[1:]], path)


def load_cfg(path: str | Path) -> DarknetCfg:
    """Reads and parses a `.cfg` file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as err:
        raise DarknetCfgError(f"{path}: cannot read darknet cfg: {err}") from err
    return parse_cfg(text, str(path))


def _fmt(value: object) -> str:
    """Option value as text: floats short (`%g`) when that reads back exactly, else
    the shortest exact form, so format → parse never changes an anchor or threshold."""
    if isinstance(value, float):
        short = f"{value:g}"
        return short if float(short) == value else repr(value)
    return str(value)


def format_layer(layer: Layer) -> str:
    """One layer as cfg text (header plus options, darknet's spelling)."""
    if isinstance(layer, Conv):
        opts = [("batch_normalize", layer.batch_normalize)] if layer.batch_normalize else []
        opts += [("filters", layer.filters), ("size", layer.size), ("stride", layer.stride),
                 ("pad", layer.pad), ("activation", layer.activation)]
        return _section("convolutional", opts)
    if isinstance(layer, Shortcut):
        return _section("shortcut", [("from", layer.from_), ("activation", layer.activation)])
    if isinstance(layer, Route):
        return _section("route", [("layers", ", ".join(str(i) for i in layer.layers))])
    if isinstance(layer, Upsample):
        return _section("upsample", [("stride", layer.stride)])
    if isinstance(layer, MaxPool):
        opts = [("size", layer.size), ("stride", layer.stride)]
        if layer.padding != layer.size - 1:
            opts.append(("padding", layer.padding))
        return _section("maxpool", opts)
    anchors = ",  ".join(f"{_fmt(w)},{_fmt(h)}" for w, h in layer.anchors)
    return _section("yolo", [
        ("mask", ",".join(str(m) for m in layer.mask)), ("anchors", anchors), ("classes", layer.classes),
        ("num", layer.num), ("jitter", layer.jitter), ("ignore_thresh", layer.ignore_thresh),
        ("truth_thresh", layer.truth_thresh), ("random", layer.random),
    ])


def _section(name: str, options: list[tuple[str, object]]) -> str:
    return "\n".join([f"[{name}]"] + [f"{k}={_fmt(v)}" for k, v in options])


def format_cfg(cfg: DarknetCfg) -> str:
    """The whole cfg as text that darknet (and `parse_cfg`) reads back to the same layers."""
    net = _section("net", [("width", cfg.net.width), ("height", cfg.net.height),
                           ("channels", cfg.net.channels), *cfg.net.extra.items()])
    return "\n\n".join([net] + [format_layer(layer) for layer in cfg.layers]) + "\n"


def save_cfg(cfg: DarknetCfg, path: str | Path) -> None:
    """Writes `format_cfg(cfg)` to `path`."""
    Path(path).write_text(format_cfg(cfg), encoding="utf-8")
