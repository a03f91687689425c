"""Training-state files: exact round trip, EMA served to load_model, atomic writes
(a process killed mid-save leaves the previous checkpoint loadable)."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch

from yolo3.io.checkpoint import CheckpointError, load_checkpoint, load_model
from yolo3.models import create_model
from yolo3.train.config import OptimConfig
from yolo3.train.ema import ModelEMA
from yolo3.train.optim import build_optimizer
from yolo3.train.state import load_train_state, save_train_state


def _step(model, opt, ema) -> None:
    out = model(torch.rand(2, 3, 64, 64))
    sum(o.square().mean() for o in out).backward()
    opt.step()
    opt.zero_grad()
    ema.update(model)


@pytest.mark.parametrize("name", ["sgd", "adamw", "rmsprop"])
def test_state_round_trip_restores_everything(tmp_path, name: str) -> None:
    torch.manual_seed(0)
    model = create_model("yolov3-tiny", num_classes=2, width=0.25)
    opt = build_optimizer(model, OptimConfig(name=name, lr0=0.01))
    ema = ModelEMA(model, decay=0.99, tau=3)
    _step(model, opt, ema)
    path = tmp_path / "last.safetensors"
    save_train_state(path, model, opt, ema, None, {"epoch": 4, "best_fitness": 0.5})
    expected = (torch.rand(3), np.random.rand(), random.random())  # draws right after the save

    model2 = create_model("yolov3-tiny", num_classes=2, width=0.25)
    opt2 = build_optimizer(model2, OptimConfig(name=name, lr0=0.01))
    ema2 = ModelEMA(model2, decay=0.99, tau=3)
    meta = load_train_state(path, model2, opt2, ema2, None)
    got = (torch.rand(3), np.random.rand(), random.random())
    assert torch.equal(got[0], expected[0]) and got[1:] == expected[1:]
    assert meta["epoch"] == 4 and meta["best_fitness"] == 0.5 and ema2.updates == 1
    for a, b in zip(model.state_dict().values(), model2.state_dict().values()):
        assert torch.equal(a, b)
    s1, s2 = opt.state_dict(), opt2.state_dict()
    assert s1["param_groups"] == s2["param_groups"]
    for index, state in s1["state"].items():
        for key, value in state.items():
            assert torch.equal(value, s2["state"][index][key]), (index, key)


def test_resumed_optimizer_state_gives_identical_next_step(tmp_path) -> None:
    torch.manual_seed(0)
    model = create_model("yolov3-tiny", num_classes=2, width=0.25)
    opt = build_optimizer(model, OptimConfig(name="adamw", lr0=0.01))
    ema = ModelEMA(model, decay=0.99, tau=3)
    x = torch.rand(2, 3, 64, 64)
    for _ in range(2):
        _step_with(model, opt, ema, x)
    path = tmp_path / "s.safetensors"
    save_train_state(path, model, opt, ema, None, {"epoch": 1})
    model2 = create_model("yolov3-tiny", num_classes=2, width=0.25)
    opt2 = build_optimizer(model2, OptimConfig(name="adamw", lr0=0.01))
    ema2 = ModelEMA(model2, decay=0.99, tau=3)
    load_train_state(path, model2, opt2, ema2, None)
    _step_with(model, opt, ema, x)
    _step_with(model2, opt2, ema2, x)
    for (k, a), b in zip(model.state_dict().items(), model2.state_dict().values()):
        assert torch.equal(a, b), k
    for a, b in zip(ema.module.state_dict().values(), ema2.module.state_dict().values()):
        assert torch.equal(a, b)


def _step_with(model, opt, ema, x) -> None:
    model.train()
    out = model(x)
    sum(o.square().mean() for o in out).backward()
    opt.step()
    opt.zero_grad()
    ema.update(model)


def test_load_model_serves_ema_weights(tmp_path) -> None:
    model = create_model("yolov3-tiny", num_classes=2, width=0.25)
    opt = build_optimizer(model, OptimConfig())
    ema = ModelEMA(model, decay=0.5, tau=1)
    _step_with(model, opt, ema, torch.rand(2, 3, 64, 64))
    path = tmp_path / "last.safetensors"
    save_train_state(path, model, opt, ema, None, {"epoch": 0})
    served, _ = load_model(path)
    for k, v in served.state_dict().items():
        assert torch.equal(v, ema.module.state_dict()[k]), k
    assert not all(torch.equal(v, model.state_dict()[k]) for k, v in served.state_dict().items())


def test_inference_file_cannot_be_resumed(tmp_path) -> None:
    from yolo3.io.checkpoint import save_model

    model = create_model("yolov3-tiny", num_classes=2, width=0.25)
    save_model(tmp_path / "m.safetensors", model)
    with pytest.raises(CheckpointError, match="no training state"):
        load_train_state(tmp_path / "m.safetensors", model, None, None, None)


WRITER = """
import sys, torch
from yolo3.io.checkpoint import save_checkpoint
path = sys.argv[1]
big = torch.zeros(8_000_000)  # 32 MB: a save takes long enough to be interrupted
i = 0
while True:
    i += 1
    save_checkpoint(path, {"model.w": big + i, "model.tag": torch.tensor([i])}, {"model": {}, "version": i})
    print(i, flush=True)
"""


def test_kill_during_save_leaves_previous_checkpoint_loadable(tmp_path) -> None:
    path = tmp_path / "last.safetensors"
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(path)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "1"  # one complete save exists
        time.sleep(0.15)  # now (most likely) in the middle of a later save
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    tensors, meta = load_checkpoint(path)
    version = int(tensors["model.tag"].item())
    assert meta["version"] == version >= 1
    assert torch.equal(tensors["model.w"][:5], torch.full((5,), float(version)))
    leftovers = [p.name for p in tmp_path.iterdir() if p.name != "last.safetensors"]
    # only abandoned temp files: ours end in .tmp, safetensors' own start with .tmp
    assert all(name.endswith(".tmp") or name.startswith(".tmp") for name in leftovers), leftovers
