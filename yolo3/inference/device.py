"""`--device` strings → torch devices, checked before a model is moved there."""

from __future__ import annotations

import torch


def resolve_device(spec: str | int | torch.device | None) -> torch.device:
    """'cpu', 'cuda', 'cuda:1', '0' (= cuda:0), an int or a torch.device → torch.device.

    Raises ValueError (one line naming the device and the fix) when the device does not
    exist on this machine, so a typo fails at load time instead of at the first batch.
    """
    if spec is None or spec == "":
        return torch.device("cpu")
    if isinstance(spec, int) or (isinstance(spec, str) and spec.strip().isdigit()):
        spec = f"cuda:{int(spec)}"
    try:
        device = torch.device(spec)
    except (RuntimeError, TypeError) as err:
        raise ValueError(f"--device {spec!r}: not a device name; use cpu, cuda, cuda:N or N") from err
    if device.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        index = device.index or 0
        if index >= count:
            raise ValueError(f"--device {spec!r}: this machine has {count} CUDA device(s); use --device cpu")
    elif device.type != "cpu":
        raise ValueError(f"--device {spec!r}: only cpu and cuda devices are supported; use cpu, cuda:N or N")
    return device
