"""darknet `.weights` files: read into, and write from, a list of conv layers.

Layout (little-endian): int32 major, minor, revision; `seen` (images trained on) as
uint64 when major·10 + minor >= 2 and major, minor < 1000, else uint32; then for every
`[convolutional]` in cfg order: with BN its beta (the "bias"), gamma, running mean,
running variance, else the conv bias; then the conv weights (out, in, kh, kw), all
float32. darknet ignores a short or long file; we refuse both, saying how many floats
the cfg needs and how many the file holds — except a file that stops exactly after
some layer on purpose (darknet's `partial` command writes `darknet53.conv.74`,
`yolov3-tiny.conv.15`: the first N layers), which `load_partial_weights` accepts.
"""

from __future__ import annotations

import dataclasses
import struct
from collections.abc import Sequence
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import torch
from torch import nn

from yolo3.io.checkpoint import atomic_write


class DarknetWeightsError(ValueError):
    """A `.weights` file that does not fit the network; the message names the file."""


@dataclasses.dataclass
class WeightsHeader:
    """The `.weights` header; darknet itself writes version 0.2.0."""

    major: int = 0
    minor: int = 2
    revision: int = 0
    seen: int = 0

    @property
    def seen_bytes(self) -> int:
        """Size of the `seen` field: 8 (size_t) for versions >= 0.2, else 4."""
        return 8 if self.major * 10 + self.minor >= 2 and self.major < 1000 and self.minor < 1000 else 4

    @property
    def nbytes(self) -> int:
        return 12 + self.seen_bytes

    def to_bytes(self) -> bytes:
        seen = struct.pack("<Q" if self.seen_bytes == 8 else "<I", self.seen)
        return struct.pack("<iii", self.major, self.minor, self.revision) + seen

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _units(layers: Sequence[nn.Module]) -> list[tuple[nn.Conv2d, nn.BatchNorm2d | None]]:
    """(conv, bn) per layer: modules with `.conv` (Conv2d) and `.bn` (BatchNorm2d or None),
    or a plain biased nn.Conv2d (a head)."""
    units = []
    for k, layer in enumerate(layers):
        conv, bn = (layer, None) if isinstance(layer, nn.Conv2d) else (layer.conv, layer.bn)
        if conv.groups != 1 or conv.dilation != (1, 1):
            raise DarknetWeightsError(f"conv layer {k}: grouped or dilated convs have no darknet [convolutional] form")
        if bn is None and conv.bias is None:
            raise DarknetWeightsError(f"conv layer {k}: has neither BatchNorm nor bias; darknet needs one of them")
        if bn is not None and conv.bias is not None:
            raise DarknetWeightsError(f"conv layer {k}: has both a bias and BatchNorm (a fused model?); "
                                      "darknet stores one of them: export the unfused model")
        units.append((conv, bn))
    return units


def _tensors(conv: nn.Conv2d, bn: nn.BatchNorm2d | None) -> list[torch.Tensor]:
    """The tensors of one conv layer in file order."""
    if bn is None:
        return [conv.bias, conv.weight]
    return [bn.bias, bn.weight, bn.running_mean, bn.running_var, conv.weight]


def count_floats(layers: Sequence[nn.Module]) -> int:
    """Number of float32 values the `.weights` file of these conv layers holds after the header."""
    return sum(t.numel() for conv, bn in _units(layers) for t in _tensors(conv, bn))


def read_header(data: bytes, path: str = "<weights>") -> WeightsHeader:
    """Parses the version and `seen` counter at the start of a `.weights` file."""
    if len(data) < 16:
        raise DarknetWeightsError(f"{path}: {len(data)} bytes is too short for a darknet .weights header")
    header = WeightsHeader(*struct.unpack("<iii", data[:12]))
    if len(data) < header.nbytes:  # version >= 0.2: `seen` is 8 bytes
        raise DarknetWeightsError(f"{path}: {len(data)} bytes is too short for the {header.nbytes}-byte header of "
                                  f"version {header.major}.{header.minor}.{header.revision}: the file is truncated "
                                  "(an interrupted download?); download it again")
    fmt = "<Q" if header.seen_bytes == 8 else "<I"
    (header.seen,) = struct.unpack(fmt, data[12 : 12 + header.seen_bytes])
    return header


@torch.no_grad()
def load_weights(path: str | Path, layers: Sequence[nn.Module]) -> WeightsHeader:
    """Fills `layers` (conv layers in cfg order) from a `.weights` file; returns its header.

    Raises DarknetWeightsError unless the file holds exactly the floats the layers need.
    """
    path = Path(path)
    data = _read(path)
    header = read_header(data, str(path))
    units = _units(layers)
    expected = count_floats(layers)
    body = len(data) - header.nbytes
    found, extra = divmod(body, 4)
    if found != expected or extra:
        tail = f" and {extra} stray bytes" if extra else ""
        hint = "truncated (an interrupted download?)" if found < expected else "longer than this cfg needs"
        raise DarknetWeightsError(
            f"{path}: expected {expected} floats after the header for the {len(units)} conv layers of the cfg, "
            f"found {found}{tail}: the file is {hint}; check that cfg and weights belong together"
        )
    _fill(units, np.frombuffer(data, dtype="<f4", count=expected, offset=header.nbytes), header.nbytes, path)
    return header


def _fill(units: list[tuple[nn.Conv2d, nn.BatchNorm2d | None]], floats: np.ndarray, header_bytes: int,
          path: Path) -> None:
    """Copies `floats` (exactly the units' values, file order, starting `header_bytes`
    into file `path`) into the units' tensors, refusing non-finite values (_check_values)."""
    offset = 0
    for k, (conv, bn) in enumerate(units):
        names = _TENSOR_NAMES[0] if bn is None else _TENSOR_NAMES[1]
        for name, tensor in zip(names, _tensors(conv, bn)):
            n = tensor.numel()
            values = floats[offset : offset + n]
            _check_values(values, name, k, header_bytes + 4 * offset, path)
            tensor.copy_(torch.from_numpy(values.copy()).view_as(tensor))
            offset += n


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as err:
        raise DarknetWeightsError(f"{path}: cannot read darknet weights: {err}") from err


def layers_in_file(path: str | Path, layers: Sequence[nn.Module]) -> int:
    """How many of `layers` (conv layers in cfg order) a `.weights` file holds: the N such
    that the file's floats are exactly those of the first N layers (a partial file ends at
    a layer boundary). Raises DarknetWeightsError when it ends inside a layer or holds more
    than all of them."""
    path = Path(path)
    data = _read(path)
    header = read_header(data, str(path))
    found, extra = divmod(len(data) - header.nbytes, 4)
    sizes = [sum(t.numel() for t in _tensors(conv, bn)) for conv, bn in _units(layers)]
    bounds = np.cumsum([0] + sizes)
    if extra:
        raise DarknetWeightsError(f"{path}: {extra} stray bytes after {found} floats; a .weights body is whole "
                                  "float32 values, so the file is damaged: download it again")
    if found in bounds:
        return int(np.searchsorted(bounds, found))
    if found > bounds[-1]:
        raise DarknetWeightsError(
            f"{path}: holds {found} floats after the header, but all {len(sizes)} conv layers of the model "
            f"need {int(bounds[-1])}: not weights of this model; check --model/--cfg (and width/depth)")
    k = int(np.searchsorted(bounds, found, side="right"))  # the layer the file ends inside (1-based)
    raise DarknetWeightsError(
        f"{path}: ends inside conv layer {k} of {len(sizes)} ({found} floats after the header; the first {k - 1} "
        f"layers hold {int(bounds[k - 1])}, the first {k} {int(bounds[k])}): a truncated download, or weights "
        "of another model; check --model/--cfg (and width/depth)")


@torch.no_grad()
def load_partial_weights(path: str | Path, layers: Sequence[nn.Module]) -> tuple[WeightsHeader, int]:
    """Fills the first N of `layers` from a `.weights` file that stops after N layers
    (`layers_in_file`); the others are left as they are. Returns (header, N)."""
    path = Path(path)
    n = layers_in_file(path, layers)
    data = _read(path)
    header = read_header(data, str(path))
    units = _units(layers)[:n]
    _fill(units, np.frombuffer(data, dtype="<f4", count=count_floats(layers[:n]), offset=header.nbytes),
          header.nbytes, path)
    return header, n


# Names of `_tensors` in file order, without and with BatchNorm (for messages).
_TENSOR_NAMES = (("bias", "weights"), ("BN beta", "BN gamma", "BN running mean", "BN running variance", "weights"))


def _check_values(values: np.ndarray, name: str, layer: int, byte_offset: int, path: Path) -> None:
    """Refuses NaN/inf floats and negative BN variances (the model would compute NaN)."""
    finite = np.isfinite(values)
    if not finite.all():
        i = int(np.argmin(finite))
        raise DarknetWeightsError(f"{path}: conv layer {layer} {name} holds NaN or inf "
                                  f"({values[i]} at byte {byte_offset + 4 * i}); the file is corrupt")
    if name == "BN running variance" and (values < 0).any():
        raise DarknetWeightsError(f"{path}: conv layer {layer} {name} is negative ({float(values.min()):.3g}), "
                                  "so the model would compute NaN; the file is corrupt")


def write_weights(f: BinaryIO, layers: Sequence[nn.Module], header: WeightsHeader | None = None) -> None:
    """Writes the `.weights` content of `layers` (conv layers in cfg order) to binary stream `f`.

    The header defaults to darknet's own (version 0.2.0, seen 0); pass the one
    `load_weights` returned to reproduce a file byte for byte.
    """
    units = _units(layers)
    f.write((header or WeightsHeader()).to_bytes())
    for conv, bn in units:
        for tensor in _tensors(conv, bn):
            f.write(tensor.detach().cpu().to(torch.float32).contiguous().numpy().astype("<f4", copy=False).tobytes())


def save_weights(path: str | Path, layers: Sequence[nn.Module], header: WeightsHeader | None = None) -> None:
    """Writes `layers` as a darknet `.weights` file, atomically (see `write_weights`)."""
    _units(layers)  # validate before creating anything

    def write(tmp: str) -> None:
        with open(tmp, "wb") as f:
            write_weights(f, layers, header)

    atomic_write(path, write)
