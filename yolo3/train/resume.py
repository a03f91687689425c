"""Resuming a run: its saved config, and the few options that may change on resume."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from yolo3.config import ConfigError, from_dict, load_yaml, to_dict
from yolo3.io.checkpoint import check_model_limits, read_metadata
from yolo3.models import list_models
from yolo3.train.config import TrainConfig

__all__ = ["RESUME_CHANGEABLE", "resolve_resume", "resume_config"]

# TrainConfig fields `--resume` may change: they alter neither the state saved in the
# checkpoint nor the meaning of what was trained so far. `epochs` may only grow (the
# schedule is then stretched over the new length from the resumed epoch on).
RESUME_CHANGEABLE = ("epochs", "time_budget_minutes", "workers", "threads", "device", "progress", "tensorboard")


def resume_config(resume: str | Path, changes: dict[str, Any] | None = None) -> tuple[TrainConfig, Path]:
    """The saved config of a run to resume (`RUN` folder or its last.safetensors), with
    `changes` (fields of RESUME_CHANGEABLE only) applied."""
    cfg, run_dir, _ = resolve_resume(resume, changes)
    return cfg, run_dir


def _epoch(meta: dict[str, Any]) -> int:
    """The 0-based epoch a training checkpoint's metadata holds (-1 when it has none)."""
    train = meta.get("train") if isinstance(meta.get("train"), dict) else {}
    return int(train.get("epoch", -1))


def resolve_resume(resume: str | Path, changes: dict[str, Any] | None) -> tuple[TrainConfig, Path, list[str]]:
    """`resume_config` plus one log line per applied change."""
    path = Path(resume)
    last = path / "weights" / "last.safetensors" if path.is_dir() else path
    run_dir = last.parent.parent
    if not last.is_file():
        raise FileNotFoundError(f"{last}: no checkpoint to resume from; pass a run folder with weights/last.safetensors")
    if last.parent.name != "weights":  # resuming writes the run folder around it: RUN/weights/<checkpoint>
        raise ConfigError(f"{last}: not inside a run folder's weights/, so there is no run to continue; pass the run "
                          f"folder (RUN, with RUN/weights/last.safetensors), or start a new run from it: --weights {last}")
    meta = read_metadata(last)
    run_last = last.parent / "last.safetensors"
    if last.name != run_last.name and run_last.is_file():
        mine, latest = _epoch(meta) + 1, _epoch(read_metadata(run_last)) + 1  # 1-based, as the bar
        if latest > mine:  # continuing from an older checkpoint would overwrite last and cut metrics.csv
            raise ConfigError(f"{last}: holds epoch {mine} but {run_last} holds epoch {latest}; resuming from it "
                              f"would discard the {latest - mine} epoch(s) after it. Resume the run ({run_dir}), "
                              f"or start a new run from it: --weights {last}")
    saved = run_dir / "config.yaml"
    cfg = load_yaml(TrainConfig, saved) if saved.is_file() else None
    where = f"{saved}:model" if cfg is not None else f"{last}:metadata.config.model"
    if cfg is None:
        cfg = from_dict(TrainConfig, meta["config"], where=f"{last}:metadata.config")
    if cfg.model.arch not in list_models():
        raise ConfigError(f"{where}.arch={cfg.model.arch!r} is not an architecture of this yolo3 "
                          f"({', '.join(list_models())})")
    check_model_limits(to_dict(cfg.model), cfg.model.arch, where)  # before anything is built from it
    if cfg.data and not Path(cfg.data).exists():  # --data cannot change on resume: say where to fix it
        source = saved if saved.is_file() else f"{last}:metadata.config"
        raise ConfigError(f"{source}: the run's dataset data: {cfg.data} is not there (moved, deleted, or relative to "
                          f"another working folder?); put it back, or set data: to where it is now in {saved}, "
                          "then resume")
    changes = dict(changes or {})
    refused = sorted(k for k in changes if k not in RESUME_CHANGEABLE)
    if refused:
        raise ConfigError(f"resume: {', '.join(refused)} cannot change when resuming {run_dir} (the run continues "
                          f"exactly as configured); changeable: {', '.join(RESUME_CHANGEABLE)}")
    done = _epoch(meta) + 1
    if "epochs" in changes and changes["epochs"] <= done:
        raise ConfigError(f"resume: epochs={changes['epochs']} but {run_dir} has already done {done} epoch(s), so "
                          f"nothing would be trained; resume with more epochs (e.g. --epochs {done + 1})")
    notes = [f"resume: {k}: {getattr(cfg, k)} → {v}" for k, v in changes.items() if getattr(cfg, k) != v]
    cfg = dataclasses.replace(cfg, **changes, resume=str(last), exist_ok=True)
    return cfg, run_dir, notes
