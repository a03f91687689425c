"""Every number of a training config is range-checked where the YAML is read: a value
that would fail after an epoch of training (val_batch_size 0), divide by zero (ema_tau 0)
or silently train nothing (max_steps_per_epoch -1) is a one-line error naming the file
and the key."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from yolo3.config import ConfigError, load_yaml
from yolo3.train.config import TrainConfig

BAD = [
    ({"val_batch_size": 0}, "val_batch_size"),
    ({"max_steps_per_epoch": -1}, "max_steps_per_epoch"),
    ({"threads": -2}, "threads"),
    ({"averaging": {"ema_tau": 0.0}}, "ema_tau"),
    ({"averaging": {"ema_decay": 1.5}}, "ema_decay"),
    ({"averaging": {"ema_decay": 0.0}}, "ema_decay"),
    ({"averaging": {"swa": True, "swa_epochs": 0}}, "swa_epochs"),
    ({"optim": {"momentum": 1.5}}, "momentum"),
    ({"optim": {"name": "adam", "beta2": 1.0}}, "beta2"),
    ({"schedule": {"final_lr_ratio": -0.1}}, "final_lr_ratio"),
    ({"schedule": {"kind": "onecycle", "final_lr_ratio": 1.0}}, "final_lr_ratio"),
    ({"schedule": {"gamma": 0.0}}, "gamma"),
    ({"schedule": {"milestones": [1.5]}}, "milestones"),
    ({"schedule": {"warmup_min_iters": -5}}, "warmup_min_iters"),
]


@pytest.mark.parametrize(("values", "key"), BAD, ids=[key + "-" + str(i) for i, (_, key) in enumerate(BAD)])
def test_out_of_range_values_name_the_file_and_the_key(values: dict, key: str, tmp_path: Path) -> None:
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(values))
    with pytest.raises(ConfigError) as err:
        load_yaml(TrainConfig, path)
    message = str(err.value)
    assert message.startswith(str(path)) and key in message, message


def test_the_boundary_values_stay_valid(tmp_path: Path) -> None:
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump({
        "val_batch_size": 1, "max_steps_per_epoch": 0, "threads": 0,
        "averaging": {"ema_decay": 0.5, "ema_tau": 1.0, "swa": True, "swa_epochs": 1},
        "optim": {"momentum": 0.0, "beta2": 0.0},
        "schedule": {"final_lr_ratio": 1.0, "gamma": 2.0, "milestones": [0.0, 1.0], "warmup_min_iters": 0},
    }))
    cfg = load_yaml(TrainConfig, path)
    assert cfg.max_steps_per_epoch == 0 and cfg.schedule.final_lr_ratio == 1.0 and cfg.averaging.swa_epochs == 1
