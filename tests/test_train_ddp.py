"""DDP with gloo on CPU: 2 processes train a few steps and hold identical weights."""

from __future__ import annotations

import socket

import torch
import torch.multiprocessing as mp

from _train_utils import ddp_worker, synth_data


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_gloo_processes_end_with_identical_weights(tmp_path) -> None:
    data = synth_data(tmp_path, n_train=9)  # odd: the sampler pads so both ranks step alike
    mp.spawn(ddp_worker, args=(2, _free_port(), str(data), str(tmp_path / "runs"), str(tmp_path)), nprocs=2)
    w0 = torch.load(tmp_path / "rank0.pt", weights_only=True)
    w1 = torch.load(tmp_path / "rank1.pt", weights_only=True)
    assert w0.keys() == w1.keys()
    for k in w0:
        assert torch.equal(w0[k], w1[k]), k
    # only rank 0 wrote a run folder, and the training changed the weights
    assert [p.name for p in (tmp_path / "runs").iterdir()] == ["run"]
    from yolo3.io.checkpoint import load_checkpoint

    saved, meta = load_checkpoint(tmp_path / "runs" / "run" / "weights" / "last.safetensors")
    assert meta["train"]["epoch"] == 1
    for k in w0:
        assert torch.equal(saved[f"raw.{k}"], w0[k]), k


def test_backbone_unfrozen_mid_run_is_synchronised_across_ranks(tmp_path) -> None:
    """freeze_epochs 1 under DDP: the backbone joins training in epoch 1 and both ranks
    still hold identical weights (DDP is re-made, so its gradients are all-reduced too)."""
    data = synth_data(tmp_path, n_train=9)
    mp.spawn(ddp_worker, args=(2, _free_port(), str(data), str(tmp_path / "runs"), str(tmp_path), 1), nprocs=2)
    w0 = torch.load(tmp_path / "rank0.pt", weights_only=True)
    w1 = torch.load(tmp_path / "rank1.pt", weights_only=True)
    for k in w0:
        assert torch.equal(w0[k], w1[k]), k
    from yolo3.io.checkpoint import load_checkpoint
    from yolo3.models import create_model

    saved, _ = load_checkpoint(tmp_path / "runs" / "run" / "weights" / "last.safetensors")
    n_params = len(list(create_model("yolov3-tiny", num_classes=6, width=0.25).parameters()))
    assert sum(k.endswith(".momentum_buffer") for k in saved) == n_params  # the backbone was stepped too
