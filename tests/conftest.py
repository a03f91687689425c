"""Shared test settings: small thread count, deterministic seeds, hypothesis profile, shared/ location."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
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

# yolo3's on-disk caches (the OpenVINO conversion of checkpoints, openvino_cache.py) go to
# a folder of this test session, set at import time, before any test or the subprocesses
# they start (which inherit os.environ): tests never write into the user's ~/.cache, and
# never hit entries left by an earlier session.
os.environ["YOLO3_CACHE_DIR"] = tempfile.mkdtemp(prefix="yolo3-test-cache-")
atexit.register(shutil.rmtree, os.environ["YOLO3_CACHE_DIR"], ignore_errors=True)

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
