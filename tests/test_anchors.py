"""Anchor fitting: IoU/ratio measures by hand, k-means on known clusters, genetic step, CLI."""

from __future__ import annotations


import numpy as np
import pytest

from yolo3.assign import anchor_fitness, check_anchors, fit_anchors, genetic_refine, kmeans_anchors, letterboxed_wh
from yolo3.assign.anchors import iou_wh, ratio_metric, split_per_scale
from yolo3.data.sample import Sample

CENTRES = np.array([[10.0, 12.0], [30.0, 60.0], [100.0, 80.0]])


def clustered_wh(n_per: int = 100, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.concatenate([c * np.exp(rng.normal(0, 0.05, (n_per, 2))) for c in CENTRES])


def test_iou_and_ratio_by_hand() -> None:
    wh = np.array([[10.0, 10.0], [39.0, 10.0], [41.0, 10.0]])
    anchors = np.array([[10.0, 10.0]])
    np.testing.assert_allclose(iou_wh(wh, anchors)[:, 0], [1.0, 100 / 390, 100 / 410])
    np.testing.assert_allclose(ratio_metric(wh, anchors)[:, 0], [1.0, 3.9, 4.1])
    fit = anchor_fitness(anchors, wh, ratio_thresh=4.0)
    assert fit.bpr == pytest.approx(2 / 3)
    assert fit.mean_best_iou == pytest.approx((1 + 100 / 390 + 100 / 410) / 3)


def test_kmeans_recovers_clusters_and_is_seeded() -> None:
    wh = clustered_wh()
    anchors, fitness = kmeans_anchors(wh, 3, restarts=3, seed=0)
    np.testing.assert_allclose(anchors, CENTRES, rtol=0.03)  # sorted by area = CENTRES order
    assert fitness > 0.9
    again, _ = kmeans_anchors(wh, 3, restarts=3, seed=0)
    np.testing.assert_array_equal(anchors, again)
    with pytest.raises(ValueError, match="at least"):
        kmeans_anchors(wh[:2], 3)


def test_genetic_refinement_never_worsens_and_improves_a_bad_start() -> None:
    wh = clustered_wh()
    start = CENTRES * 1.3
    before = anchor_fitness(start, wh).mean_best_iou
    refined, after = genetic_refine(start, wh, generations=300, seed=0)
    assert after > before + 0.05
    assert after == pytest.approx(anchor_fitness(refined, wh).mean_best_iou)
    _, none = genetic_refine(start, wh, generations=0)
    assert none == pytest.approx(before)


def test_fit_anchors_splits_per_scale_and_counts_excluded() -> None:
    wh = np.concatenate([clustered_wh(), [[0.0, 5.0], [7.0, 0.0]]])
    fit = fit_anchors(wh, n=6, imgsz=416, num_scales=2, generations=50)
    assert fit.excluded == 2 and fit.final.num_boxes == 300
    assert len(fit.per_scale) == 2 and all(len(g) == 3 for g in fit.per_scale)
    areas = [w * h for g in fit.per_scale for w, h in g]
    assert areas == sorted(areas)
    assert fit.final.mean_best_iou >= fit.kmeans.mean_best_iou
    assert "mean best IoU" in fit.report() and "excluded 2" in fit.report()
    with pytest.raises(ValueError, match="split evenly"):
        split_per_scale(np.ones((5, 2)), 2)


def test_letterboxed_wh_uses_the_letterbox_scale(tmp_path) -> None:
    s = Sample(tmp_path / "a.jpg", boxes=[[0, 0, 64, 48], [10, 10, 20, 30]], class_ids=[0, 1], image_size=(480, 640))
    r = 416 / 640
    np.testing.assert_allclose(letterboxed_wh([s], 416), [[64 * r, 48 * r], [10 * r, 20 * r]])


def test_check_anchors_keeps_good_and_refits_bad() -> None:
    wh = clustered_wh()
    good = check_anchors([CENTRES.tolist()], wh, imgsz=416, generations=0)
    assert not good.refitted and good.after is None and good.before.bpr == 1.0
    bad = check_anchors([[[400.0, 400.0], [500.0, 300.0], [300.0, 500.0]]], wh, imgsz=416, generations=50)
    assert bad.refitted and bad.before.bpr < 0.5 and bad.after.bpr == 1.0
    assert np.array(bad.anchors).shape == (1, 3, 2)
    assert "before" in bad.report()


def test_check_anchors_says_why_poor_anchors_are_kept() -> None:
    """Anchors under the BPR bar that are kept (fewer boxes than anchors, or a refit no
    better) were reported as 'anchors fit the data' in train.log."""
    poor = [[[400.0, 400.0], [500.0, 300.0], [300.0, 500.0]]]
    few = check_anchors(poor, np.array([[10.0, 12.0], [20.0, 18.0]]), imgsz=416, generations=0)
    assert not few.refitted and few.before.bpr == 0.0 and few.anchors == poor
    assert "fit the data" not in few.report() and "too few boxes to refit 3 anchors" in few.report(), few.report()
    same = np.full((12, 2), 50.0)
    good = check_anchors([[[50.0, 50.0]] * 3], same, imgsz=416, min_bpr=1.01, generations=0)  # nothing beats exact
    assert not good.refitted and good.after is not None
    assert "fit the data" not in good.report() and "a refit was no better" in good.report(), good.report()
    assert check_anchors([CENTRES.tolist()], clustered_wh(), imgsz=416, generations=0).report().startswith(
        "anchors fit the data")


def test_cli_on_bccd(bccd_root, tmp_path, capsys) -> None:
    from yolo3.cli import main

    plot = tmp_path / "anchors.png"
    rc = main(["anchors", str(bccd_root), "--n", "6", "--imgsz", "416", "--generations", "100", "--plot", str(plot)])
    out = capsys.readouterr().out
    assert rc == 0 and plot.stat().st_size > 1000
    assert out.count("\n  ") == 2  # two scales of three anchors
    assert "BPR" in out and "mean best IoU" in out


def test_cli_with_fewer_boxes_than_anchors_names_the_data_and_the_fix(tmp_path, capsys) -> None:
    """k-means of n anchors needs n boxes; the error used to be 'k-means needs at least
    n=6 boxes, got 2', naming neither the dataset nor what to do."""
    from yolo3.cli import main

    (tmp_path / "images").mkdir()
    (tmp_path / "labels").mkdir()
    from PIL import Image

    Image.new("RGB", (64, 64)).save(tmp_path / "images" / "a.png")
    (tmp_path / "labels" / "a.txt").write_text("0 0.5 0.5 0.5 0.25\n0 0.3 0.3 0.2 0.2\n0 0.1 0.1 0.01 0.01\n")
    (tmp_path / "data.yaml").write_text("path: .\ntrain: images\nnames: [thing]\n")
    data = tmp_path / "data.yaml"
    assert main(["anchors", str(data), "--n", "6", "--imgsz", "64", "--plot", str(tmp_path / "a.png")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"yolo3 anchors: error: {data}: 2 boxes of at least 2 px"), err
    assert "--n 6" in err and "--split" in err and len(err.splitlines()) == 1
    assert main(["anchors", str(data), "--n", "2", "--per-scale", "1", "--imgsz", "64", "--generations", "0",
                 "--plot", str(tmp_path / "a.png")]) == 0


@pytest.mark.parametrize("command", ["anchors", "lr-find"])
def test_a_plot_path_that_cannot_be_written_is_refused_before_the_work(command, tmp_path, capsys) -> None:
    """`anchors --plot notes.yaml` fitted, then ended in matplotlib's "Format 'yaml' is not
    supported" (and `--plot notes.yaml/a.png` in "[Errno 17] File exists"), the fit lost;
    lr-find ran its whole test first."""
    from yolo3.cli import main

    notes = tmp_path / "notes.yaml"
    notes.write_text("keep me\n")
    option = "--plot" if command == "anchors" else "--out"
    for plot, problem in ((notes, "a plot is written as .png, .jpg, .jpeg, .pdf or .svg, not '.yaml'"),
                          (notes / "a.png", f"{notes} is a file, not a folder; choose another path")):
        # the dataset is never read: a missing one would be the next error
        with pytest.raises(SystemExit) as exit_:
            main([command, *(["--data"] if command == "lr-find" else []), str(tmp_path / "none.yaml"), option, str(plot)])
        assert exit_.value.code == 2
        err = capsys.readouterr().err.strip().splitlines()[-1]  # after argparse's usage lines
        assert err == f"yolo3 {command}: error: argument {option}: {plot}: {problem}", err
    assert notes.read_text() == "keep me\n"
