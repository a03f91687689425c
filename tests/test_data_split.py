"""A held-back split for datasets without val/test: stratified, seeded, saved and reused."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from _train_utils import small_config, synth_data
from yolo3.data.findings import DataError
from yolo3.data.sample import Sample
from yolo3.data.split import hold_back, save_split, stratified_indices


def _samples() -> list[Sample]:
    """10 images of class 0 only, 5 with classes 0 and 1 (1 is rarer), 5 without boxes."""
    out = [Sample(Path(f"a{i}.jpg"), [[0, 0, 5, 5]], [0]) for i in range(10)]
    out += [Sample(Path(f"b{i}.jpg"), [[0, 0, 5, 5], [1, 1, 4, 4]], [0, 1]) for i in range(5)]
    out += [Sample(Path(f"e{i}.jpg"), np.zeros((0, 4)), []) for i in range(5)]
    return out


def test_every_class_group_gives_its_share() -> None:
    samples = _samples()
    held = stratified_indices(samples, 0.2, seed=0)
    names = [samples[i].image_path.name[0] for i in held]
    # groups by rarest class: class 1 (5 images) → 1, class 0 only (10) → 2, no boxes (5) → 1
    assert sorted(names) == ["a", "a", "b", "e"]
    np.testing.assert_array_equal(held, stratified_indices(samples, 0.2, seed=0))  # seeded
    assert any(not np.array_equal(held, stratified_indices(samples, 0.2, seed=s)) for s in range(1, 6))


def test_rounding_is_spread_to_hit_the_total() -> None:
    samples = [Sample(Path(f"{c}{i}.jpg"), [[0, 0, 5, 5]], [c]) for c in range(3) for i in range(3)]
    held = stratified_indices(samples, 0.5, seed=1)
    classes = sorted(int(samples[i].class_ids[0]) for i in held)
    assert len(held) == round(0.5 * 9) == 4 and sorted(set(classes)) == [0, 1, 2]  # 1 + 1 + 1, one extra


@pytest.mark.parametrize("ratio,n", [(0.0, 5), (1.0, 5), (0.2, 1)])
def test_impossible_splits_are_clear_errors(ratio: float, n: int) -> None:
    with pytest.raises(DataError, match="split|hold back"):
        stratified_indices(_samples()[:n], ratio, seed=0)


def test_saved_split_is_reused_exactly(tmp_path: Path) -> None:
    samples = _samples()
    train, held, record = hold_back(samples, 0.2, 0, "val")
    path = save_split(tmp_path / "split.json", record)
    assert json.loads(path.read_text())["val"] == [str(s.image_path) for s in held]
    newcomer = Sample(Path("new.jpg"), [[0, 0, 5, 5]], [1])
    again_train, again_held, _ = hold_back([newcomer, *samples[::-1]], 0.5, seed=9, record_path=path)
    assert {s.image_path for s in again_held} == {s.image_path for s in held}  # ratio and seed of the file win
    assert newcomer in again_train and len(again_train) == len(train) + 1


def test_train_holds_back_val_and_writes_split_json(tmp_path: Path) -> None:
    from yolo3.train import train
    from yolo3.train.setup import prepare_data

    data = synth_data(tmp_path / "d", n_train=16)
    cfg = small_config(data, tmp_path / "runs", split_ratio=0.25, val_interval=1, epochs=1)
    prepared = prepare_data(cfg)
    assert len(prepared.val) == 4 and len(prepared.train) == 12
    assert any("held back" in line for line in prepared.check_summary)
    result = train(cfg, data=prepared)
    record = json.loads((result.run_dir / "split.json").read_text())
    assert sorted(record["val"]) == sorted(str(s.image_path) for s in prepared.val)
    assert "mAP@0.5" in result.metrics[-1]  # it validated on the held-back images
    # a resumed run reads the file back, whatever the ratio says now
    reused = prepare_data(small_config(data, tmp_path, split_ratio=0.5, seed=7), result.run_dir / "split.json")
    assert sorted(str(s.image_path) for s in reused.val) == sorted(record["val"])


def test_demo_holds_back_from_train_and_reuses_it(tmp_path: Path) -> None:
    from yolo3.demo import choose_held_back

    samples = _samples()
    train, val, held, name = choose_held_back({"train": samples}, tmp_path, 0.2, seed=0)
    assert len(held) == 4 and len(train) == 16 and val == [] and "split.json" in name
    _, _, again, _ = choose_held_back({"train": samples}, tmp_path, 0.3, seed=5)
    assert [s.image_path for s in again] == [s.image_path for s in held]
    test = [Sample(Path("t.jpg"), [[0, 0, 1, 1]], [0])]
    assert choose_held_back({"train": samples, "test": test}, tmp_path, 0.2, 0)[2:] == (test, "test")
    with pytest.raises(ValueError, match="--split-ratio"):
        choose_held_back({"train": samples}, tmp_path / "other", 0.0, 0)


@pytest.mark.parametrize("command", ["train", "demo"])
def test_help_says_how_splits_are_found(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    from yolo3.cli import main

    with pytest.raises(SystemExit):
        main([command, "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "--split-ratio" in text and "ImageSets/Main" in text and "split.json" in text


def test_identical_images_never_straddle_the_split(tmp_path: Path) -> None:
    from _data_utils import plain_image, write_rgb

    samples = []
    for i in range(10):  # two pictures, five copies each, and two more unique ones
        path = write_rgb(tmp_path / f"{i}.png", plain_image(8, 8, seed=i % 2))
        samples.append(Sample(path, [[0, 0, 5, 5]], [0]))
    samples += [Sample(write_rgb(tmp_path / f"x{i}.png", plain_image(8, 8, seed=20 + i)), [[0, 0, 5, 5]], [0])
                for i in range(2)]
    for seed in range(5):
        train, held, _ = hold_back(samples, 0.25, seed, "val")
        assert held and {s.image_path.read_bytes() for s in held}.isdisjoint(
            {s.image_path.read_bytes() for s in train})
    unique = [Sample(write_rgb(tmp_path / f"u{i}.png", plain_image(8, 8, seed=10 + i)), [[0, 0, 5, 5]], [0])
              for i in range(5)]
    _, held, _ = hold_back(unique, 0.4, 0, "val")
    assert len(held) == 2  # unique files are split as drawn
