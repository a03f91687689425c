"""Checkpoints: safetensors tensors + a JSON metadata header (SPEC §8.5).

Loading never unpickles: a pickled file (torch.save, .pt/.pth) is refused unless the
caller passes `trust_pickle=True`, and even then it is read with `weights_only=True`.
Writes are atomic (temporary file in the same folder, fsync, rename), so a crash
during a save leaves the previous file intact.
"""

from __future__ import annotations

import json
import os
import struct
import tempfile
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from yolo3.config import ConfigError, ModelConfig, from_dict, to_dict
from yolo3.models import YOLOv3Base, build_model, list_models

METADATA_KEY = "yolo3"
FORMAT_VERSION = 1
MAX_HEADER_BYTES = 100 * 1024 * 1024


class CheckpointError(ValueError):
    """A model file that cannot be used; the message names the file and the fix."""


def atomic_write(path: str | Path, write: Any) -> None:
    """Calls `write(tmp_path)` then renames tmp over `path` after an fsync."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def save_checkpoint(path: str | Path, tensors: dict[str, torch.Tensor], metadata: dict[str, Any]) -> None:
    """Writes tensors and JSON-serialisable metadata to a safetensors file, atomically."""
    header = {METADATA_KEY: json.dumps({"format_version": FORMAT_VERSION, **metadata})}
    clean = {k: v.detach().cpu().contiguous().clone() for k, v in tensors.items()}
    atomic_write(path, lambda tmp: save_file(clean, tmp, metadata=header))


def _looks_like_safetensors(path: Path) -> bool:
    with open(path, "rb") as f:
        head = f.read(9)
    if len(head) < 9:
        return False
    (size,) = struct.unpack("<Q", head[:8])
    return 0 < size < MAX_HEADER_BYTES and head[8:9] == b"{"


def read_metadata(path: str | Path) -> dict[str, Any]:
    """Only the yolo3 JSON metadata of a safetensors file (cheap: reads the header)."""
    path = Path(path)
    try:
        with open(path, "rb") as f:
            (size,) = struct.unpack("<Q", f.read(8))
            if size >= MAX_HEADER_BYTES:
                raise CheckpointError(f"{path}: safetensors header of {size} bytes is not plausible")
            header = json.loads(f.read(size))
        extra = header.get("__metadata__") if isinstance(header, dict) else None
        raw = extra.get(METADATA_KEY) if isinstance(extra, dict) else None
        if raw is None:
            raise CheckpointError(f"{path}: no yolo3 metadata; it is not a yolo3 checkpoint "
                                  "(convert it with yolo3 tools)")
        meta = json.loads(raw) if isinstance(raw, str) else None
    except (OSError, struct.error, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as err:
        raise CheckpointError(f"{path}: corrupt or truncated safetensors header ({err})") from err
    if not isinstance(meta, dict):
        raise CheckpointError(f"{path}: yolo3 metadata must be a JSON object")
    return meta


def load_checkpoint(path: str | Path, trust_pickle: bool = False) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Reads (tensors, metadata). Refuses pickled files unless `trust_pickle`."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint file")
    if _looks_like_safetensors(path):
        try:
            tensors = load_file(str(path))
            meta = read_metadata(path)
        except (SafetensorError, json.JSONDecodeError, struct.error, OSError) as err:
            raise CheckpointError(f"{path}: corrupt or truncated safetensors file ({err})") from err
        return tensors, meta
    if not trust_pickle:
        raise CheckpointError(
            f"{path}: not a safetensors file. Pickled checkpoints (.pt/.pth) can run arbitrary code "
            "when loaded, so yolo3 refuses them. If you trust its author, pass --trust-pickle "
            "(trust_pickle=True); it is then read with torch.load(weights_only=True)."
        )
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises several types for refused/corrupt pickles
        raise CheckpointError(f"{path}: refused by torch.load(weights_only=True): {err}") from err
    meta = {}
    if isinstance(obj, dict) and "state_dict" in obj:
        meta = obj.get("metadata", {}) if isinstance(obj.get("metadata"), dict) else {}
        obj = obj["state_dict"]
    if not isinstance(obj, dict) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise CheckpointError(f"{path}: pickled file holds no plain state dict of tensors")
    return obj, meta


def read_onnx_metadata(path: str | Path) -> dict[str, Any]:
    """The yolo3 metadata an exported ONNX file carries ({} when absent); no weights are read."""
    import onnx

    proto = onnx.load(str(path), load_external_data=False)
    for entry in proto.metadata_props:
        if entry.key == METADATA_KEY:
            return json.loads(entry.value)
    return {}


def model_config_from_metadata(meta: dict[str, Any], path: str | Path = "checkpoint") -> ModelConfig:
    """Validates the `model` entry of metadata (types, sizes, names) into a ModelConfig."""
    data = meta.get("model")
    if not isinstance(data, dict):
        raise CheckpointError(f"{path}: metadata has no 'model' section describing the architecture")
    try:
        cfg = from_dict(ModelConfig, data, where=f"{path}:metadata.model")
    except ConfigError as err:
        raise CheckpointError(str(err)) from err
    if cfg.arch not in list_models():
        raise CheckpointError(f"{path}: metadata names architecture {cfg.arch!r}, which this yolo3 does not have "
                              f"(known: {', '.join(list_models())})")
    if cfg.class_names is not None and not all(isinstance(n, str) and 0 < len(n) <= 256 for n in cfg.class_names):
        raise CheckpointError(f"{path}: class names must be non-empty strings of at most 256 characters")
    return cfg


def check_weights(cfg: ModelConfig, tensors: dict[str, torch.Tensor], path: str | Path = "checkpoint") -> None:
    """Checks, before any real allocation, that `tensors` are exactly the weights of the
    model `cfg` describes (names and shapes, compared with a model built on the 'meta'
    device, which has no storage) and that floating weights are finite. So metadata
    claiming e.g. 10^9 classes is refused instead of building a terabyte-sized head."""
    with torch.device("meta"):
        skeleton = build_model(cfg)
    expected = {k: tuple(v.shape) for k, v in skeleton.state_dict().items()}
    missing = sorted(set(expected) - set(tensors))
    unexpected = sorted(set(tensors) - set(expected))
    wrong = [f"{k} {tuple(tensors[k].shape)} (expected {shape})" for k, shape in expected.items()
             if k in tensors and tuple(tensors[k].shape) != shape]
    if missing or unexpected or wrong:
        detail = "; ".join(part for part in (
            f"missing {missing[:3]}{' …' if len(missing) > 3 else ''}" if missing else "",
            f"unexpected {unexpected[:3]}{' …' if len(unexpected) > 3 else ''}" if unexpected else "",
            f"wrong shape {wrong[:3]}{' …' if len(wrong) > 3 else ''}" if wrong else "") if part)
        raise CheckpointError(f"{path}: weights do not match the {cfg.arch} architecture in its metadata "
                              f"(num_classes={cfg.num_classes}, width={cfg.width}, depth={cfg.depth}): {detail}")
    bad = [k for k, v in tensors.items() if v.is_floating_point() and not bool(torch.isfinite(v).all())]
    if bad:
        raise CheckpointError(f"{path}: {len(bad)} weight tensor(s) hold NaN or inf (e.g. {bad[0]}); the file "
                              "comes from a diverged or corrupted run: use an earlier checkpoint")


def save_model(path: str | Path, model: YOLOv3Base, **metadata: Any) -> None:
    """Saves a model's weights and config (plus any extra metadata) atomically."""
    save_checkpoint(path, model.state_dict(), {"model": to_dict(model.cfg), **metadata})


def load_model(path: str | Path, trust_pickle: bool = False) -> tuple[YOLOv3Base, dict[str, Any]]:
    """Builds the model a checkpoint describes and loads its weights (eval mode)."""
    tensors, meta = load_checkpoint(path, trust_pickle)
    cfg = model_config_from_metadata(meta, path)
    prefix = "model."
    if any(k.startswith(prefix) for k in tensors):  # training checkpoints namespace their tensors
        tensors = {k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)}
    check_weights(cfg, tensors, path)
    model = build_model(cfg)
    try:
        model.load_state_dict(tensors, strict=True)
    except RuntimeError as err:
        raise CheckpointError(f"{path}: weights do not match the {cfg.arch} architecture in its metadata: {err}") from err
    return model.eval(), meta
