"""Overfit one synthetic batch: loss falls ≥ 10× and every training box is detected (IoU > 0.5)."""

from __future__ import annotations

import pytest

from _core_utils import best_ious, detect, overfit


@pytest.mark.parametrize("mode", ["paper", "v5"])
def test_overfit_one_batch(mode: str) -> None:
    first, last, model, images, targets = overfit(xy_mode=mode, assign_mode=mode, steps=150)
    assert last < first / 10, (first, last)
    ious = best_ious(detect(model, images), targets)
    assert (ious > 0.5).all(), ious
