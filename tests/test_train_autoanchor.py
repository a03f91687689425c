"""Auto-anchor at the start of training: refit when the configured anchors fit badly."""

from __future__ import annotations

import dataclasses

import numpy as np

from _train_utils import small_config, synth_data
from yolo3.assign.anchors import anchor_fitness, letterboxed_wh
from yolo3.data.formats import load_dataset
from yolo3.io.checkpoint import load_model
from yolo3.train import train


def test_bad_anchors_are_refitted_and_logged(tmp_path) -> None:
    data = synth_data(tmp_path, n_train=16)
    # Anchors far larger than any box of 96-px images letterboxed to 64 px: BPR ≈ 0.
    huge = [[[400.0, 400.0], [500.0, 450.0], [600.0, 600.0]], [[700.0, 700.0], [800.0, 800.0], [900.0, 900.0]]]
    cfg = small_config(data, tmp_path, epochs=1)
    cfg = dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, anchors=huge))
    result = train(cfg)
    log = (result.run_dir / "train.log").read_text()
    assert "anchors refitted: before" in log
    model, _ = load_model(result.last)
    wh = letterboxed_wh(load_dataset(data).splits["train"], 64)
    wh = wh[(wh >= 2).all(1)]
    before = anchor_fitness(np.array(huge).reshape(-1, 2), wh, 4.0)
    after = anchor_fitness(model.anchors.reshape(-1, 2).numpy(), wh, 4.0)
    assert before.bpr < 0.1 and after.bpr > 0.9


def test_auto_anchor_off_keeps_configured_anchors(tmp_path) -> None:
    data = synth_data(tmp_path, n_train=8)
    anchors = [[[5.0, 5.0], [9.0, 9.0], [14.0, 14.0]], [[20.0, 20.0], [30.0, 30.0], [50.0, 50.0]]]
    cfg = small_config(data, tmp_path, epochs=1, auto_anchor=False)
    cfg = dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, anchors=anchors))
    result = train(cfg)
    assert "auto-anchor: off" in (result.run_dir / "train.log").read_text()
    assert load_model(result.last)[0].anchors.tolist() == anchors
