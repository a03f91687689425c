"""Shared test settings: small thread count, deterministic seeds, hypothesis profile, shared/ location."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import settings

# Property tests explore new random inputs on every local run (that is how they find
# bugs); in CI they replay a fixed derandomized set so a green CI stays reproducible.
settings.register_profile("ci", derandomize=True)
if os.environ.get("CI"):
    settings.load_profile("ci")

torch.set_num_threads(1)  # two xdist workers on a 2-core machine

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
BCCD = SHARED / "datasets" / "bccd"


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)
    np.random.seed(0)


@pytest.fixture
def bccd_root() -> Path:
    if not (BCCD / "Annotations").is_dir():
        pytest.skip(f"BCCD dataset not found at {BCCD}")
    return BCCD


os.environ.setdefault("MPLBACKEND", "Agg")
