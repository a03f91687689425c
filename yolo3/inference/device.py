"""`--device` strings → torch devices, checked against this machine (one shared parser).

Accepted: `cpu`, `cuda` (= the current CUDA device), `cuda:N`, and a bare `N`
meaning `cuda:N` (the darknet/ultralytics habit). A device this machine does not have
is a `ValueError` whose message names the option and what is available, never an
AssertionError from deep inside torch.
"""

from __future__ import annotations

import torch

DEVICE_HELP = "cpu, cuda, cuda:N or N (= cuda:N)"


def cuda_count() -> int:
    """CUDA devices torch can use here (0 with a CPU-only build)."""
    try:
        return torch.cuda.device_count() if torch.cuda.is_available() else 0
    except (AssertionError, RuntimeError):  # CPU-only builds may assert instead of returning False
        return 0


def resolve_device(spec: str | int | torch.device | None) -> torch.device:
    """'cpu' | 'cuda' | 'cuda:N' | 'N' | None (= cpu) → a torch.device that exists here.

    Raises:
        ValueError: unknown spelling, or a CUDA device this machine does not have.
    """
    if spec is None:
        return torch.device("cpu")
    text = str(spec).strip().lower()
    if text.isdigit():
        text = f"cuda:{text}"
    try:
        device = torch.device(text)
    except RuntimeError:
        raise ValueError(f"--device {spec!r}: not a device name; use {DEVICE_HELP}") from None
    if device.type == "cpu":
        return torch.device("cpu")
    if device.type != "cuda":
        raise ValueError(f"--device {spec!r}: yolo3 runs on {DEVICE_HELP}")
    count = cuda_count()
    if count == 0:
        raise ValueError(f"--device {spec!r}: no CUDA device here (torch {torch.__version__} sees none); "
                         "use --device cpu")
    index = device.index if device.index is not None else torch.cuda.current_device()
    if index >= count:
        raise ValueError(f"--device {spec!r}: this machine has {count} CUDA device(s) (cuda:0..cuda:{count - 1})")
    return torch.device("cuda", index)
