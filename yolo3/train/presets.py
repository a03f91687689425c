"""Training presets shipped in `yolo3/configs/*.yaml` (one per architecture)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from yolo3.config import load_yaml
from yolo3.train.config import TrainConfig

CONFIG_DIR = Path(__file__).resolve().parents[1] / "configs"


def list_presets() -> list[str]:
    """Names of the shipped presets (file stems)."""
    return sorted(p.stem for p in CONFIG_DIR.glob("*.yaml"))


def load_preset(name_or_path: str) -> TrainConfig:
    """A TrainConfig from a preset name (`yolov3-tiny`) or a YAML path."""
    path = Path(name_or_path)
    if not path.suffix:
        path = CONFIG_DIR / f"{name_or_path}.yaml"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such config; presets: {', '.join(list_presets())}")
    return load_yaml(TrainConfig, path)


def default_config(arch: str) -> TrainConfig:
    """The preset for `arch` when one ships, else the defaults with that arch."""
    if arch in list_presets():
        return load_preset(arch)
    cfg = TrainConfig()
    return dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, arch=arch, anchors=None))
