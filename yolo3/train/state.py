"""The training state as one safetensors file with JSON metadata (SPEC §8.5).

Tensor layout (all names prefixed, so `yolo3.io.checkpoint.load_model` finds `model.*`):
    model.*   the weights to use for inference: the EMA weights when EMA is on,
              else the raw ones. `load_model(last.safetensors)` therefore serves EMA.
    raw.*     the raw training weights (only when EMA is on; otherwise = model.*).
    swa.*     the SWA average, when SWA is on.
    optim.<param index>.<key>   the optimizer's per-parameter tensors (momentum, …).
    rng.torch, rng.numpy        RNG states of torch and numpy.
Everything else (epoch, iteration, optimizer hyper-parameters, Python RNG, EMA update
count, best fitness, the run's TrainConfig) goes in the JSON metadata under `train`.
Writes are atomic (temp file + rename), so a crash leaves the previous file loadable.

`best.safetensors` is a copy of `last.safetensors` made right after it when the epoch
improved; every file records its epoch (`train.epoch`) and `last` the best epoch, so a
kill between the two writes is detected and repaired on resume (`repair_best`).
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from yolo3.config import to_dict
from yolo3.io.checkpoint import CheckpointError, atomic_write, load_checkpoint, read_metadata, save_checkpoint
from yolo3.train.ema import SWA, ModelEMA, unwrap


def rng_state() -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """RNG states of torch, numpy and python as (tensors, JSON-able dict)."""
    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    py_version, py_state, py_gauss = random.getstate()
    tensors = {"rng.torch": torch.get_rng_state(), "rng.numpy": torch.from_numpy(keys.astype(np.int64))}
    meta = {"numpy": [kind, int(pos), int(has_gauss), float(gauss)], "python": [py_version, list(py_state), py_gauss]}
    return tensors, meta


def set_rng_state(tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> None:
    """Restores what `rng_state` captured."""
    torch.set_rng_state(tensors["rng.torch"])
    kind, pos, has_gauss, gauss = meta["numpy"]
    np.random.set_state((kind, tensors["rng.numpy"].numpy().astype(np.uint32), pos, has_gauss, gauss))
    py_version, py_state, py_gauss = meta["python"]
    random.setstate((py_version, tuple(py_state), py_gauss))


def optimizer_to_flat(optimizer: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Optimizer state_dict → (tensors `optim.<i>.<key>`, JSON: groups and scalar state)."""
    sd = optimizer.state_dict()
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, dict[str, Any]] = {}
    for index, state in sd["state"].items():
        for key, value in state.items():
            if isinstance(value, torch.Tensor):
                tensors[f"optim.{index}.{key}"] = value
            else:
                scalars.setdefault(str(index), {})[key] = value
    groups = [{k: (list(v) if isinstance(v, tuple) else v) for k, v in g.items()} for g in sd["param_groups"]]
    return tensors, {"param_groups": groups, "scalars": scalars}


def optimizer_from_flat(
    optimizer: torch.optim.Optimizer, tensors: dict[str, torch.Tensor], meta: dict[str, Any]
) -> None:
    """Loads what `optimizer_to_flat` wrote back into `optimizer`."""
    state: dict[int, dict[str, Any]] = {}
    for name, value in tensors.items():
        if name.startswith("optim."):
            _, index, key = name.split(".", 2)
            state.setdefault(int(index), {})[key] = value
    for index, values in meta["scalars"].items():
        state.setdefault(int(index), {}).update(values)
    groups = [{k: (tuple(v) if k == "betas" else v) for k, v in g.items()} for g in meta["param_groups"]]
    optimizer.load_state_dict({"state": state, "param_groups": groups})


def save_train_state(
    path: str | Path,
    model: nn.Module,
    optimizer: torch.optim.Optimizer | None,
    ema: ModelEMA | None,
    swa: SWA | None,
    progress: dict[str, Any],
    extra_metadata: dict[str, Any] | None = None,
) -> None:
    """Writes the whole training state atomically to `path` (see module docstring).

    progress: JSON-able loop position (epoch, iteration, best fitness, …).
    extra_metadata: more top-level metadata (config, summary, thresholds).
    """
    raw = unwrap(model)
    tensors: dict[str, torch.Tensor] = {}
    serve = ema.module if ema is not None else raw
    tensors.update({f"model.{k}": v for k, v in serve.state_dict().items()})
    if ema is not None:
        tensors.update({f"raw.{k}": v for k, v in raw.state_dict().items()})
    if swa is not None:
        tensors.update({f"swa.{k}": v for k, v in swa.module.state_dict().items()})
    train_meta: dict[str, Any] = dict(progress)
    if optimizer is not None:
        opt_tensors, opt_meta = optimizer_to_flat(optimizer)
        tensors.update(opt_tensors)
        train_meta["optimizer"] = opt_meta
    rng_tensors, rng_meta = rng_state()
    tensors.update(rng_tensors)
    train_meta["rng"] = rng_meta
    train_meta["ema_updates"] = ema.updates if ema is not None else None
    train_meta["swa_count"] = swa.count if swa is not None else None
    meta = {"model": to_dict(raw.cfg), "train": train_meta, **(extra_metadata or {})}
    save_checkpoint(path, tensors, meta)


def _part(tensors: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    return {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}


def load_train_state(
    path: str | Path,
    model: nn.Module,
    optimizer: torch.optim.Optimizer | None,
    ema: ModelEMA | None,
    swa: SWA | None,
    restore_rng: bool = True,
) -> dict[str, Any]:
    """Restores a `save_train_state` file into the given objects; returns `train` metadata."""
    tensors, meta = load_checkpoint(path)
    train_meta = meta.get("train")
    if not isinstance(train_meta, dict) or "rng" not in train_meta:
        raise CheckpointError(f"{path}: no training state in it (an inference-only model file cannot be resumed)")
    raw_key = "raw." if any(k.startswith("raw.") for k in tensors) else "model."
    try:
        unwrap(model).load_state_dict(_part(tensors, raw_key))
        if ema is not None:
            ema.module.load_state_dict(_part(tensors, "model."))
            ema.updates = int(train_meta.get("ema_updates") or 0)
        if swa is not None and any(k.startswith("swa.") for k in tensors):
            swa.module.load_state_dict(_part(tensors, "swa."))
            swa.count = int(train_meta.get("swa_count") or 0)
        if optimizer is not None and "optimizer" in train_meta:
            optimizer_from_flat(optimizer, tensors, train_meta["optimizer"])
    except (RuntimeError, ValueError, KeyError) as err:
        raise CheckpointError(
            f"{path}: its state does not fit this run (different model or optimizer settings?): {err}"
        ) from err
    if restore_rng:
        set_rng_state(tensors, train_meta["rng"])
    return train_meta


def copy_checkpoint(src: str | Path, dst: str | Path) -> None:
    """Copies a checkpoint file byte for byte, atomically."""
    data = Path(src).read_bytes()
    atomic_write(dst, lambda tmp: Path(tmp).write_bytes(data))


def _saved_epoch(path: Path) -> int | None:
    try:
        train = read_metadata(path).get("train")
    except (CheckpointError, OSError):
        return None
    epoch = train.get("epoch") if isinstance(train, dict) else None
    return epoch if isinstance(epoch, int) else None


def repair_best(weights_dir: str | Path) -> str | None:
    """Makes `best.safetensors` agree with `last.safetensors` after a kill between them.

    `last` records its epoch and the best epoch. When they are equal (last *is* the
    best) but `best` holds another epoch or is missing/corrupt, the copy the killed run
    did not make is made now. Returns a line for the training log, or None when nothing
    was wrong. A `best` that differs from a best epoch other than last's cannot be
    rebuilt: that is reported, not repaired.
    """
    weights_dir = Path(weights_dir)
    last, best = weights_dir / "last.safetensors", weights_dir / "best.safetensors"
    train = read_metadata(last).get("train") if last.is_file() else None
    if not isinstance(train, dict):
        return None
    epoch, best_epoch = train.get("epoch"), train.get("best_epoch")
    if not isinstance(best_epoch, int) or best_epoch < 0:
        return None
    held = _saved_epoch(best) if best.is_file() else None
    if held == best_epoch:
        return None
    found = "is missing or unreadable" if held is None else f"holds epoch {held + 1}"
    if best_epoch == epoch:
        copy_checkpoint(last, best)
        return (f"best.safetensors {found} but the best epoch is {best_epoch + 1} (a kill between the last and best "
                "writes): copied last.safetensors to best.safetensors")
    return (f"warning: best.safetensors {found} but last.safetensors says the best epoch is {best_epoch + 1}; "
            "it cannot be rebuilt (only last is kept)")
