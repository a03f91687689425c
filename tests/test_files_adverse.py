"""Writing files under adverse conditions: long names, failing disks, links, odd paths.

Project rule: bad input gets a clear error naming the file and the fix, and nothing is
lost: no half-written file, no previous good file replaced by a broken one.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from yolo3.io.checkpoint import atomic_write

NAME_MAX = 255  # bytes of one path component on Linux file systems (ext4, tmpfs, xfs)


def test_atomic_write_takes_every_name_a_plain_write_takes(tmp_path: Path) -> None:
    path = tmp_path / ("a" * (NAME_MAX - len(".json")) + ".json")
    path.write_text("old")  # the name itself is allowed
    atomic_write(path, lambda tmp: Path(tmp).write_text("new"))
    assert path.read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]  # no temporary file left
    unicode = tmp_path / ("é" * 125 + ".json")  # 250 + 5 bytes in UTF-8
    atomic_write(unicode, lambda tmp: Path(tmp).write_text("x"))
    assert unicode.read_text() == "x"


def test_atomic_write_that_cannot_start_names_the_file_not_its_temporary(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("keep")
    target = tmp_path / "notes.txt" / "out.json"  # a folder of the path is a file
    with pytest.raises(OSError) as info:
        atomic_write(target, lambda tmp: Path(tmp).write_text("x"))
    assert str(target) in str(info.value) and ".tmp" not in str(info.value)
    assert (tmp_path / "notes.txt").read_text() == "keep"
    missing = tmp_path / ("b" * (NAME_MAX + 1) + ".json")  # too long for any write
    with pytest.raises(OSError) as info:
        atomic_write(missing, lambda tmp: Path(tmp).write_text("x"))
    assert str(missing) in str(info.value) and ".tmp'" not in str(info.value)
    assert os.listdir(tmp_path) == ["notes.txt"]


LIMIT_FILE_SIZE = ("import resource, signal\n"
                   "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a too-large write fails with EFBIG, like a full disk\n"
                   "resource.setrlimit(resource.RLIMIT_FSIZE, (20_000, 20_000))\n")


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from yolo3.io.checkpoint import save_model
    from yolo3.models import create_model

    path = tmp_path_factory.mktemp("ckpt") / "m.safetensors"
    save_model(path, create_model("yolov3-tiny", num_classes=2, class_names=["a", "b"], width=0.25, imgsz=64))
    return path


def test_save_thresholds_on_a_full_disk_leaves_no_half_checkpoint(tmp_path: Path, tiny_checkpoint: Path) -> None:
    run = tmp_path / "val"
    script = (LIMIT_FILE_SIZE + "import sys\nfrom yolo3.eval.store import save_thresholds\n"
              "try:\n    save_thresholds(sys.argv[1], [0.3, 0.4], ['a', 'b'], sys.argv[2])\n"
              "except OSError as err:\n    print('OSError', err); sys.exit(3)\n")
    proc = subprocess.run([sys.executable, "-c", script, str(tiny_checkpoint), str(run)],
                          capture_output=True, text=True, timeout=120, env={**os.environ, "PYTHONPATH": os.getcwd()})
    assert proc.returncode == 3, proc.stderr
    assert str(run / "m.safetensors") in proc.stdout and "too large" in proc.stdout.lower(), proc.stdout
    assert not run.exists() or list(run.iterdir()) == []  # no half-written copy of the checkpoint


def test_atomic_write_syncs_checkpoints_and_not_detects_many_small_outputs(tmp_path: Path, monkeypatch) -> None:
    """Every annotated image and label file of `detect` went through two fsyncs (~1.5 ms a
    file here, far more on slow disks); sync=False keeps the write atomic without them."""
    import numpy as np

    from yolo3.data.image_io import write_image

    synced: list[int] = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: synced.append(fd) or real_fsync(fd))
    atomic_write(tmp_path / "a.bin", lambda tmp: Path(tmp).write_bytes(b"x"))
    assert len(synced) == 2  # the file, then its folder
    synced.clear()
    atomic_write(tmp_path / "b.txt", lambda tmp: Path(tmp).write_text("y"), sync=False)
    write_image(np.zeros((4, 4, 3), np.uint8), tmp_path / "c.png")
    assert synced == [] and (tmp_path / "b.txt").read_text() == "y" and (tmp_path / "c.png").stat().st_size > 0
    def half_then_disk_full(tmp: str) -> None:
        Path(tmp).write_text("half")
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError, match="d.txt: cannot write the file"):  # still all or nothing
        atomic_write(tmp_path / "d.txt", half_then_disk_full, sync=False)
    assert not (tmp_path / "d.txt").exists() and not list(tmp_path.glob(".*.tmp"))


def test_atomic_write_through_a_link_rewrites_the_file_it_names(tmp_path: Path) -> None:
    (tmp_path / "run").mkdir()
    real = tmp_path / "run" / "best.json"
    real.write_text("old")
    link = tmp_path / "latest.json"
    link.symlink_to(Path("run") / "best.json")  # relative, as `ln -s run/best.json latest.json` makes it
    atomic_write(link, lambda tmp: Path(tmp).write_text("new"))  # as open(link, "w") would
    assert link.is_symlink() and real.read_text() == "new"
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == ["best.json"]
    dangling = tmp_path / "next.json"
    dangling.symlink_to(tmp_path / "run" / "next.json")
    atomic_write(dangling, lambda tmp: Path(tmp).write_text("x"))
    assert dangling.is_symlink() and (tmp_path / "run" / "next.json").read_text() == "x"


def test_val_save_thresholds_in_place_through_a_link_updates_the_checkpoint(tmp_path: Path,
                                                                             tiny_checkpoint: Path) -> None:
    from yolo3.eval.store import save_thresholds
    from yolo3.io.checkpoint import read_metadata

    real = tmp_path / "best.safetensors"
    real.write_bytes(tiny_checkpoint.read_bytes())
    link = tmp_path / "latest.safetensors"
    link.symlink_to(real)
    assert save_thresholds(link, [0.3, 0.4], ["a", "b"], tmp_path / "val", in_place=True) == link
    assert link.is_symlink() and read_metadata(real)["class_thresholds"] == [0.3, 0.4]


def _limited_cli(limit: int, *args: str) -> subprocess.CompletedProcess:
    """`yolo3 ARGS` in a child whose writes past `limit` bytes fail with EFBIG (a full disk)."""
    script = LIMIT_FILE_SIZE.replace("20_000", str(limit)) + "import sys\nfrom yolo3.cli import main\n" \
        "sys.exit(main(sys.argv[1:]))\n"
    return subprocess.run([sys.executable, "-c", script, *args], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONPATH": os.getcwd()})


def _error_line(proc: subprocess.CompletedProcess) -> str:
    """The last stderr line of a CLI run that must have failed with exit 2 (its one-line error)."""
    assert proc.returncode == 2, proc.stderr
    return proc.stderr.strip().splitlines()[-1]


@pytest.fixture(scope="module")
def one_epoch_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from _train_utils import synth_data
    from yolo3.cli import main

    root = tmp_path_factory.mktemp("run")
    data = synth_data(root, n_train=4, imgsz=64)
    assert main(["train", "--data", str(data), "--model", "yolov3-tiny", "--width", "0.25", "--imgsz", "64",
                 "--epochs", "1", "--batch-size", "4", "--nbs", "4", "--workers", "0", "--amp", "off",
                 "--project", str(root), "--name", "run", "--no-tensorboard", "--no-progress",
                 "--val-interval", "0", "--threads", "1"]) == 0
    return root / "run"


def test_resume_on_a_full_disk_keeps_the_run_config_and_stays_resumable(one_epoch_run: Path,
                                                                        tmp_path: Path) -> None:
    import shutil

    run = tmp_path / "run"
    shutil.copytree(one_epoch_run, run)
    config = (run / "config.yaml").read_bytes()
    assert len(config) > 1500
    proc = _limited_cli(1500, "train", "--resume", str(run), "--epochs", "2", "--no-progress")
    assert proc.returncode == 2, proc.stderr
    assert str(run / "config.yaml") in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
    assert (run / "config.yaml").read_bytes() == config  # not cut to the first 1500 bytes
    assert not [p.name for p in run.iterdir() if p.name.endswith(".tmp")]
    from yolo3.cli import main

    assert main(["train", "--resume", str(run), "--epochs", "2", "--no-progress"]) == 0  # with room again


@pytest.mark.parametrize("text", ["schedule:\n  warmup_bias_lr:\n", "schedule:\n  warmup_bias_lr: fast\n",
                                  "optim:\n  lr0: null\n"])
def test_a_number_left_empty_in_a_config_file_names_the_file_and_key(tmp_path: Path, text: str) -> None:
    from yolo3.config import ConfigError, load_yaml
    from yolo3.train.config import TrainConfig

    path = tmp_path / "cut.yaml"  # a hand edit, or a file cut short by a full disk
    path.write_text(text)
    with pytest.raises(ConfigError, match="expected a number") as err:
        load_yaml(TrainConfig, path)
    assert f"{path}." in str(err.value) and text.split(":")[1].strip() in str(err.value)


def test_exponent_numbers_without_a_dot_are_numbers_in_a_config_file(tmp_path: Path) -> None:
    from yolo3.config import load_yaml
    from yolo3.train.config import TrainConfig

    path = tmp_path / "c.yaml"  # PyYAML (YAML 1.1) reads 1e-3 as the string '1e-3'; YAML 1.2 as 0.001
    path.write_text("optim:\n  lr0: 1e-3\n  weight_decay: 5E-4\nschedule:\n  warmup_bias_lr: +2e-2\n")
    cfg = load_yaml(TrainConfig, path)
    assert (cfg.optim.lr0, cfg.optim.weight_decay, cfg.schedule.warmup_bias_lr) == (0.001, 0.0005, 0.02)
    assert isinstance(cfg.optim.lr0, float)


def test_a_checkpoint_that_cannot_be_written_says_what_is_saved_and_how_to_resume(one_epoch_run: Path,
                                                                                  tmp_path: Path) -> None:
    import shutil

    from yolo3.cli import main
    from yolo3.train.logging import read_metrics

    run = tmp_path / "run"
    shutil.copytree(one_epoch_run, run)
    last = run / "weights" / "last.safetensors"
    before = last.read_bytes()
    assert last.stat().st_size > 3_000_000
    proc = _limited_cli(3_000_000, "train", "--resume", str(run), "--epochs", "2", "--no-progress")
    line = _error_line(proc)
    assert line.startswith(f"yolo3 train: error: {last}: cannot write the file (") and "Traceback" not in proc.stderr
    assert f"{last} holds epoch 1" in line and f"yolo3 train --resume {run}" in line, line
    assert last.read_bytes() == before
    assert main(["train", "--resume", str(run), "--epochs", "2", "--no-progress"]) == 0  # as the line says
    assert [r["epoch"] for r in read_metrics(run / "metrics.csv")] == ["1", "2"]
    data = tmp_path / "fresh"
    proc = _limited_cli(3_000_000, "train", "--data", str(one_epoch_run.parent / "data" / "data.yaml"), "--model",
                        "yolov3-tiny", "--width", "0.25", "--imgsz", "64", "--epochs", "1", "--batch-size", "4",
                        "--workers", "0", "--amp", "off", "--project", str(data), "--name", "run",
                        "--no-tensorboard", "--no-progress", "--val-interval", "0", "--threads", "1")
    assert proc.returncode == 2 and "no epoch was saved" in proc.stderr and "no --resume" in proc.stderr, proc.stderr


def test_detect_on_a_full_disk_names_the_file_and_leaves_no_half_image(tiny_checkpoint: Path, tmp_path: Path) -> None:
    import cv2
    import numpy as np

    src = tmp_path / "in"
    src.mkdir()
    noise = np.random.default_rng(0).integers(0, 256, (256, 256, 3), dtype=np.uint8)  # a large jpg
    cv2.imwrite(str(src / "a.png"), noise)
    out = tmp_path / "det"
    proc = _limited_cli(20_000, "detect", "--weights", str(tiny_checkpoint), str(src), "--out", str(out),
                        "--backend", "torch", "--conf", "0.9")
    line = _error_line(proc)
    assert line.startswith(f"yolo3 detect: error: {out / 'a.png'}: cannot write the file (") and "large" in line, line
    assert not (out / "a.png").exists() and not [p for p in out.iterdir() if p.name.endswith(".tmp")]


def test_saving_detections_on_a_full_disk_keeps_the_previous_file(tiny_checkpoint: Path, tmp_path: Path) -> None:
    script = (LIMIT_FILE_SIZE + "import sys, numpy as np\nfrom yolo3.inference.results import Detections\n"
              "d = Detections(np.tile([[1., 2., 30., 40.]], (2000, 1)), np.full(2000, .5), np.zeros(2000, int),"
              " ['a'], (64, 64))\n"
              "for path in sys.argv[1:]:\n"
              "    try:\n        d.save(path)\n    except OSError as err:\n        print('OSError', err)\n")
    paths = [tmp_path / "d.json", tmp_path / "d.txt"]
    for path in paths:
        path.write_text("previous")
    proc = subprocess.run([sys.executable, "-c", script, *map(str, paths)], capture_output=True, text=True,
                          timeout=120, env={**os.environ, "PYTHONPATH": os.getcwd()})
    lines = proc.stdout.splitlines()
    assert len(lines) == 2, proc.stdout + proc.stderr
    for path, line in zip(paths, lines):
        assert line.startswith(f"OSError {path}: cannot write the file (") and path.read_text() == "previous", line


@pytest.mark.parametrize("plots", [True, False])
def test_val_on_a_full_disk_names_the_file_and_leaves_no_half_output(one_epoch_run: Path, tmp_path: Path,
                                                                     plots: bool) -> None:
    out = tmp_path / "val"
    proc = _limited_cli(3000, "val", "--weights", str(one_epoch_run / "weights" / "last.safetensors"), "--data",
                        str(one_epoch_run.parent / "data" / "data.yaml"), "--split", "train", "--out", str(out),
                        "--backend", "torch", *([] if plots else ["--no-plots"]))
    line = _error_line(proc)
    assert line.startswith(f"yolo3 val: error: {out}/") and ": cannot write the file (File too large)" in line, line
    written = [p for p in out.rglob("*") if p.is_file()] if out.exists() else []
    assert all(p.stat().st_size < 3000 and not p.name.endswith(".tmp") for p in written), written
    assert not (out / "summary.json").exists()


def test_metrics_csv_on_a_full_disk_keeps_whole_rows_and_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "metrics.csv"
    script = (LIMIT_FILE_SIZE.replace("20_000", "1000") + "import sys\nfrom yolo3.train.logging import MetricsCSV\n"
              "m = MetricsCSV(sys.argv[1])\n"
              "for e in range(1, 100):\n"
              "    try:\n        m.write({'epoch': e, 'loss': 0.123456789, 'name': 'x' * 20})\n"
              "    except OSError as err:\n        print(e, err); break\n")
    proc = subprocess.run([sys.executable, "-c", script, str(path)], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "PYTHONPATH": os.getcwd()})
    failed, _, message = proc.stdout.strip().partition(" ")
    assert message.startswith(f"{path}: cannot write the file (File too large)"), proc.stdout + proc.stderr
    text = path.read_text()
    assert text.endswith("\n") and text.count("\n") == int(failed)  # the header and every earlier row, whole
    from yolo3.train.logging import read_metrics

    assert [r["epoch"] for r in read_metrics(path)] == [str(e) for e in range(1, int(failed))]


@pytest.mark.parametrize("fmt", ["torchscript", "openvino"])
def test_export_on_a_full_disk_is_one_line_and_keeps_the_previous_export(tiny_checkpoint: Path, tmp_path: Path,
                                                                         fmt: str) -> None:
    from yolo3.cli import main

    if fmt == "openvino":
        pytest.importorskip("openvino")
    out = tmp_path / ("m.torchscript" if fmt == "torchscript" else "m_openvino")
    assert main(["export", "--weights", str(tiny_checkpoint), "--format", fmt, "--out", str(out)]) == 0
    before = {p.name: p.read_bytes() for p in ([out] if out.is_file() else out.iterdir())}
    proc = _limited_cli(20_000, "export", "--weights", str(tiny_checkpoint), "--format", fmt, "--out", str(out),
                        "--imgsz", "96")  # another graph: a replaced file would differ
    assert proc.returncode == 2, proc.stderr[-2000:]
    line = proc.stderr.strip().splitlines()[-1]
    assert line.startswith(f"yolo3 export: error: {out}") and "cannot write" in line, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    assert {p.name: p.read_bytes() for p in ([out] if out.is_file() else out.iterdir())} == before
    assert not [p.name for p in out.parent.iterdir() if p.name.startswith(".")]


def test_training_and_anchor_plots_on_a_full_disk_name_the_file(one_epoch_run: Path, tmp_path: Path) -> None:
    script = (LIMIT_FILE_SIZE.replace("20_000", "3000") + "import sys, numpy as np\n"
              "from yolo3.train.logging import plot_metrics\nfrom yolo3.assign.anchor_plot import plot_anchors\n"
              "for call in (lambda: plot_metrics(sys.argv[1], sys.argv[2]),\n"
              "             lambda: plot_anchors(np.ones((5, 2)), np.ones((3, 2)), sys.argv[3])):\n"
              "    try:\n        call()\n    except OSError as err:\n        print(err)\n")
    results, anchors = tmp_path / "results.png", tmp_path / "anchors.png"
    proc = subprocess.run([sys.executable, "-c", script, str(one_epoch_run / "metrics.csv"), str(results),
                           str(anchors)], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": os.getcwd()})
    lines = proc.stdout.splitlines()
    assert [line.split(": cannot write the file (")[0] for line in lines] == [str(results), str(anchors)], \
        proc.stdout + proc.stderr
    assert os.listdir(tmp_path) == []


def test_convert_output_folder_follows_the_umask(tmp_path: Path) -> None:
    from _train_utils import synth_data
    from yolo3.cli import main

    data = synth_data(tmp_path, n_train=2, imgsz=64)
    old = os.umask(0o022)
    try:
        assert main(["convert", str(data), str(tmp_path / "voc"), "--to", "voc", "--images", "none"]) == 0
    finally:
        os.umask(old)
    assert (tmp_path / "voc").stat().st_mode & 0o777 == 0o755  # as mkdir makes it, not mkdtemp's 0o700
    assert (tmp_path / "voc" / "Annotations").stat().st_mode & 0o777 == 0o755


def test_convert_on_a_full_disk_names_the_output_not_its_staging_folder(tmp_path: Path) -> None:
    from _train_utils import synth_data

    data = synth_data(tmp_path, n_train=2, imgsz=64)
    out = tmp_path / "coco"
    proc = _limited_cli(2000, "convert", str(data), str(out), "--to", "coco")
    line = _error_line(proc)
    assert line.startswith(f"yolo3 convert: error: {out}: cannot write") and "partial" not in line, line
    assert not out.exists() and not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_an_annotated_video_cut_by_a_full_disk_is_an_error_not_a_success(tiny_checkpoint: Path,
                                                                          tmp_path: Path) -> None:
    import cv2
    import numpy as np

    video = tmp_path / "v.mp4"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"mp4v"), 10, (128, 128))
    rng = np.random.default_rng(0)
    for _ in range(20):
        writer.write(rng.integers(0, 256, (128, 128, 3), dtype=np.uint8))
    writer.release()
    assert video.stat().st_size > 60_000
    out = tmp_path / "det"
    proc = _limited_cli(50_000, "detect", "--weights", str(tiny_checkpoint), str(video), "--out", str(out),
                        "--backend", "torch", "--no-txt", "--no-json")
    line = _error_line(proc)
    assert line.startswith(f"yolo3 detect: error: {out / 'v.mp4'}: ") and "cannot write" in line, line
    assert not (out / "v.mp4").exists()  # no cut, unplayable video left as if it were the result


def test_synth_on_a_full_disk_fails_naming_the_image_instead_of_writing_labels_without_images(
        tmp_path: Path) -> None:
    out = tmp_path / "syn"
    proc = _limited_cli(5000, "synth", "--out", str(out), "--n-train", "3", "--n-val", "0", "--imgsz", "128")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    line = proc.stderr.strip().splitlines()[-1]
    assert line.startswith(f"yolo3 synth: error: {out / 'images' / 'train'}/train_00000") and "cannot write" in line
    assert not (out / "data.yaml").exists()
    images = {p.stem for p in (out / "images").rglob("*.png")}
    assert {p.stem for p in (out / "labels").rglob("*.txt")} <= images  # no label file without its image


@pytest.mark.parametrize("where", ["/proc/yolo3-out", "long folder", "long name"])
def test_an_output_folder_that_cannot_be_made_says_so_and_how_to_fix_it(tmp_path: Path, where: str) -> None:
    from yolo3.io.runs import next_run_dir

    project = tmp_path / ("d" * (NAME_MAX + 1)) if where == "long folder" else \
        tmp_path if where == "long name" else Path(where)
    name = "n" * (NAME_MAX + 1) if where == "long name" else "detect"
    with pytest.raises(OSError) as err:
        next_run_dir(project, name)
    message = str(err.value)
    assert message.startswith(f"cannot make the output folder {project / name}: ") and \
        message.endswith("choose another output folder"), message


def test_val_save_json_on_a_full_disk_names_the_file_and_leaves_no_half_json(tmp_path: Path) -> None:
    script = (LIMIT_FILE_SIZE.replace("20_000", "3000") + "import sys, numpy as np\n"
              "from pathlib import Path\nfrom yolo3.data.sample import Sample\nfrom yolo3.eval.coco import write_coco_json\n"
              "from yolo3.inference.results import Detections\n"
              "n = 200\nboxes = np.tile([[1., 2., 30., 40.]], (n, 1))\n"
              "s = Sample(image_path=Path(sys.argv[1]) / 'a.jpg', boxes=boxes, class_ids=np.zeros(n, np.int64), "
              "image_size=(64, 64))\n"
              "d = Detections(boxes, np.full(n, .5), np.zeros(n, int), ['a'], (64, 64))\n"
              "try:\n    write_coco_json([s], [d], ['a'], sys.argv[1])\nexcept OSError as err:\n    print(err)\n")
    proc = subprocess.run([sys.executable, "-c", script, str(tmp_path)], capture_output=True, text=True,
                          timeout=120, env={**os.environ, "PYTHONPATH": os.getcwd()})
    assert proc.stdout.startswith(f"{tmp_path / 'ground_truth.json'}: cannot write the file ("), \
        proc.stdout + proc.stderr[-1500:]
    assert os.listdir(tmp_path) == []
