"""Preparing a model for fast CPU inference (SPEC §8.4).

Measured on the benchmark machine (see benchmarks/RESULTS.md): almost all time is in
the convolutions, so the levers are (1) BatchNorm folded into the conv (one op less per
layer), (2) channels-last memory (oneDNN's native layout: no reorders between layers),
(3) bf16 weights and activations where the CPU has bf16 dot products (AVX512-BF16 or
AMX), keeping the 1×1 heads in fp32 so box coordinates keep their precision, and
(4) as many intra-op threads as the cores this process may use. On CUDA the same
preparation applies, with fp16 as a third body precision (tensor cores; CPUs have no
fast fp16 convolutions, so `choose_backend` refuses it there).
"""

from __future__ import annotations

import os

import torch

from yolo3.models import YOLOv3Base

PRECISIONS = ("fp32", "bf16", "fp16")
BODY_DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}


def available_cores() -> int:
    """CPU cores this process may run on (affinity-aware)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def configure_threads(threads: int | None = None) -> int:
    """Sets torch's intra-op threads (default: the usable cores); returns the count."""
    n = threads if threads and threads > 0 else available_cores()
    if torch.get_num_threads() != n:
        torch.set_num_threads(n)
    return n


def bf16_supported() -> bool:
    """Whether this CPU has native bf16 dot products (else bf16 is emulated and slow)."""
    try:
        return bool(torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):  # pragma: no cover - older builds
        return False


@torch.no_grad()
def prepare_model(model: YOLOv3Base, precision: str = "fp32", channels_last: bool = True) -> YOLOv3Base:
    """Eval mode, BN folded, channels-last, and a bf16/fp16 body (heads stay fp32); in place.

    The model must be run through `forward_raw` afterwards when the precision is not
    fp32: it casts the features to fp32 before the heads.
    """
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}; use one of {PRECISIONS}")
    model.eval().fuse()
    if channels_last:
        model.to(memory_format=torch.channels_last)
    if precision != "fp32":
        model.to(BODY_DTYPES[precision])
        model.heads.float()
        model.anchors = model.anchors.float()
    return model


def body_dtype(model: YOLOv3Base) -> torch.dtype:
    """Dtype of the model's body (everything but the heads)."""
    for name, p in model.named_parameters():
        if not name.startswith("heads."):
            return p.dtype
    return torch.float32


def forward_raw(model: YOLOv3Base, images: torch.Tensor, dtype: torch.dtype | None = None) -> list[torch.Tensor]:
    """images (B, 3, H, W) float in [0, 1] → raw outputs (B, A, H/s, W/s, 5+C) in fp32.

    Runs the body in `dtype` (default: the body's parameter dtype) and the heads in fp32.
    """
    feats = model.features(images.to(dtype or body_dtype(model)))
    return [head(f.float()) for head, f in zip(model.heads, feats)]
