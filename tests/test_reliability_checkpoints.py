"""Model files that compute NaN, metadata that would hang or exhaust memory, write
failures and misleading messages (issue 14, points 7, 11, 12, 13 and file permissions).

Every hostile file must be refused with one line that names the file and what is
wrong (the tensor, or the metadata field and its allowed range), before any model
is built; the CLI prints it as `yolo3 COMMAND: error: ...` with exit 2.
"""

from __future__ import annotations

import os
import struct
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from yolo3.cli import main as cli_main
from yolo3.io.checkpoint import CheckpointError, load_checkpoint, load_model, read_onnx_metadata, save_checkpoint
from yolo3.models import create_model

BASE = {"arch": "yolov3-tiny", "num_classes": 2, "class_names": ["cell", "dot"], "width": 0.25, "imgsz": 64}


@pytest.fixture(scope="module")
def tiny():
    return create_model("yolov3-tiny", num_classes=2, class_names=["cell", "dot"], width=0.25, imgsz=64)


@pytest.fixture
def image(tmp_path: Path) -> Path:
    path = tmp_path / "a.png"
    cv2.imwrite(str(path), np.full((64, 64, 3), 90, np.uint8))
    return path


def _save(path: Path, state: dict, model_meta: dict) -> Path:
    save_checkpoint(path, state, {"model": model_meta})
    return path


def _one_error_line(err: str, command: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"yolo3 {command}: error: "), err
    assert "Traceback" not in err
    return lines[0]


# -- 11: every metadata field bounded before anything is built -------------------------
@pytest.mark.parametrize("change, field", [
    ({"arch": "yolov3", "depth": 1e5}, "depth"),
    ({"width": float("inf")}, "width"),
    ({"width": 1e6}, "width"),
    ({"num_classes": 10**30, "class_names": None}, "num_classes"),
    ({"imgsz": 32 * 31250}, "imgsz"),
    ({"anchors": [[[float("inf"), 10.0]] * 3] * 2}, "anchors"),
    ({"anchors": [[[10.0, 10.0]] * 3] * 5}, "anchors"),
    ({"bn_eps": -1.0}, "bn_eps"),
    ({"bn_eps": float("nan")}, "bn_eps"),
    ({"prior_obj": 1.0}, "prior_obj"),
    ({"width": "1"}, "width"),
])
def test_metadata_out_of_range_is_refused_quickly_naming_the_field(tmp_path: Path, tiny, image: Path, capsys,
                                                                    change: dict, field: str) -> None:
    path = _save(tmp_path / "hostile.safetensors", tiny.state_dict(), {**BASE, **change})
    start = time.perf_counter()
    with pytest.raises(CheckpointError) as err:
        load_model(path)
    assert time.perf_counter() - start < 5
    message = str(err.value)
    assert str(path) in message and f"metadata.model.{field}" in message and "allowed" in message, message
    assert cli_main(["detect", str(image), "--weights", str(path), "--out", str(tmp_path / "out")]) == 2
    assert f"metadata.model.{field}" in _one_error_line(capsys.readouterr().err, "detect")


def test_metadata_at_the_bounds_still_loads(tmp_path: Path) -> None:
    model = create_model("yolov3-tiny", num_classes=3, width=0.25, imgsz=4096, bn_eps=1e-3)
    path = tmp_path / "edge.safetensors"
    save_checkpoint(path, model.state_dict(), {"model": {"arch": "yolov3-tiny", "num_classes": 3, "width": 0.25,
                                                          "imgsz": 4096, "bn_eps": 1e-3}})
    loaded, _ = load_model(path)
    assert loaded.cfg.imgsz == 4096 and loaded.cfg.bn_eps == 1e-3


# -- 7: weights that compute NaN ------------------------------------------------------
def test_negative_batchnorm_variance_is_refused_naming_the_tensor(tmp_path: Path, tiny, image: Path, capsys) -> None:
    state = {k: v.clone() for k, v in tiny.state_dict().items()}
    name = sorted(k for k in state if k.endswith("running_var"))[1]
    state[name][0] = -5.0  # sqrt(var + eps) of a negative number: NaN for every pixel downstream
    path = _save(tmp_path / "negvar.safetensors", state, BASE)
    with pytest.raises(CheckpointError, match=rf"{path}: .*{name}.*negative"):
        load_model(path)
    assert cli_main(["detect", str(image), "--weights", str(path), "--out", str(tmp_path / "out")]) == 2
    assert name in _one_error_line(capsys.readouterr().err, "detect")


def test_zero_variance_with_zero_bn_eps_is_refused(tmp_path: Path, tiny) -> None:
    """bn_eps 0 is allowed (darknet's CPU formula is folded into running_var), but then a
    variance of exactly 0 divides by zero: refused, while the same file with eps > 0 loads."""
    state = {k: v.clone() for k, v in tiny.state_dict().items()}
    name = sorted(k for k in state if k.endswith("running_var"))[2]
    state[name][1] = 0.0
    path = _save(tmp_path / "zerovar.safetensors", state, {**BASE, "bn_eps": 0.0})
    with pytest.raises(CheckpointError, match=rf"{path}: .*{name}.*eps 0"):
        load_model(path)
    ok = _save(tmp_path / "zerovar_eps.safetensors", state, BASE)
    assert load_model(ok)[0].cfg.bn_eps == BASE.get("bn_eps", 1e-5)


def test_non_finite_weights_are_refused_where_training_starts_from_them(tmp_path: Path, tiny) -> None:
    from yolo3.darknet.finetune import load_for_finetuning
    from yolo3.train.setup import build_train_model

    state = {k: v.clone() for k, v in tiny.state_dict().items()}
    state["heads.1.conv.weight"][0, 0, 0, 0] = float("inf")
    path = _save(tmp_path / "inf.safetensors", state, BASE)
    with pytest.raises(CheckpointError, match=r"inf\.safetensors.*heads\.1\.conv\.weight"):
        build_train_model(tiny.cfg, str(path))
    with pytest.raises(CheckpointError, match=r"inf\.safetensors.*heads\.1\.conv\.weight"):
        load_for_finetuning(path, 3)


def test_darknet_weights_with_nan_do_not_convert(tmp_path: Path, capsys) -> None:
    from yolo3.darknet.convert import darknet_cfg_for
    from yolo3.darknet.cfg import format_cfg
    from yolo3.darknet.weights import save_weights

    model = create_model("yolov3-tiny", num_classes=2, width=0.25, imgsz=64).eval()
    cfg_path, weights = tmp_path / "t.cfg", tmp_path / "t.weights"
    cfg_path.write_text(format_cfg(darknet_cfg_for(model)))
    save_weights(weights, model.conv_layers())
    data = bytearray(weights.read_bytes())
    data[-8:-4] = struct.pack("<f", float("nan"))  # inside the last conv's weights
    weights.write_bytes(bytes(data))
    out = tmp_path / "t.safetensors"
    code = cli_main(["convert-darknet", str(cfg_path), str(weights), "--out", str(out)])
    err = capsys.readouterr().err
    assert code != 0 and not out.exists()
    assert str(weights) in err and "NaN" in err and "conv layer" in err, err


# -- 12: write failures and foreign files -------------------------------------------------
# Set inside the child, not with preexec_fn: a Python preexec_fn after fork() in this
# multi-threaded test process (torch, OpenVINO thread pools) is unsafe and crashed the run.
LIMIT_FILE_SIZE = ("import resource, signal\n"
                   "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a too-large write fails with EFBIG, like a full disk\n"
                   "resource.setrlimit(resource.RLIMIT_FSIZE, (20_000, 20_000))\n")


def test_a_full_disk_while_saving_is_one_line_and_leaves_nothing(tmp_path: Path, tiny) -> None:
    src = _save(tmp_path / "src.safetensors", tiny.state_dict(), BASE)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    script = (LIMIT_FILE_SIZE + "import sys\nfrom yolo3.io.checkpoint import load_model, save_model\n"
              "m, _ = load_model(sys.argv[1])\n"
              "try:\n    save_model(sys.argv[2], m)\nexcept OSError as err:\n"
              "    print('OSError', err); sys.exit(3)\n")
    proc = subprocess.run([sys.executable, "-c", script, str(src), str(out_dir / "big.safetensors")],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 3, proc.stderr
    assert "big.safetensors" in proc.stdout and "too large" in proc.stdout.lower(), proc.stdout
    assert list(out_dir.iterdir()) == []  # the temp file is removed


def test_files_that_are_not_onnx_are_clear_errors(tmp_path: Path, image: Path, capsys) -> None:
    import onnx

    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"\xff\xfe definitely not a protobuf" * 10)
    as_list = tmp_path / "list.onnx"
    bad_json = tmp_path / "badjson.onnx"
    for path, value in ((as_list, "[1, 2, 3]"), (bad_json, "{not json")):
        proto = onnx.helper.make_model(onnx.helper.make_graph([], "g", [], []))
        entry = proto.metadata_props.add()
        entry.key, entry.value = "yolo3", value
        onnx.save(proto, path)
    for path, fragment in ((junk, "not an ONNX file"), (as_list, "JSON object"), (bad_json, "JSON")):
        with pytest.raises(CheckpointError, match=fragment) as err:
            read_onnx_metadata(path)
        assert str(path) in str(err.value)
        assert cli_main(["detect", str(image), "--weights", str(path), "--out", str(tmp_path / "out")]) == 2
        assert str(path) in _one_error_line(capsys.readouterr().err, "detect")


def test_onnx_runtime_refusing_the_model_is_one_line(tmp_path: Path, tiny, image: Path, capsys) -> None:
    import onnx

    from yolo3.export import export_onnx

    path = export_onnx(tiny, tmp_path / "m.onnx", imgsz=64)
    proto = onnx.load(str(path))
    onnx.save(proto, str(path), save_as_external_data=True, all_tensors_to_one_file=True, location="w.bin",
              size_threshold=0)
    (tmp_path / "w.bin").unlink()  # the external weights are missing: onnxruntime refuses the model
    assert cli_main(["detect", str(image), "--weights", str(path), "--out", str(tmp_path / "out")]) == 2
    assert str(path) in _one_error_line(capsys.readouterr().err, "detect")


# -- 13: messages that name the right thing -------------------------------------------------
def test_a_corrupt_safetensors_header_is_not_called_a_pickle(tmp_path: Path, tiny) -> None:
    good = _save(tmp_path / "good.safetensors", tiny.state_dict(), BASE).read_bytes()
    cases = {
        "huge_header.safetensors": struct.pack("<Q", 10**12) + good[8:],
        "no_brace.safetensors": good[:8] + b"X" + good[9:],
        "random.safetensors": bytes(range(256)) * 4,
    }
    for name, data in cases.items():
        path = tmp_path / name
        path.write_bytes(data)
        with pytest.raises(CheckpointError) as err:
            load_checkpoint(path)
        message = str(err.value)
        assert str(path) in message and "safetensors" in message, message
        assert "ickle" not in message, message


def test_pickle_hint_names_only_commands_that_have_the_flag(tmp_path: Path, capsys) -> None:
    path = tmp_path / "model.pt"
    torch.save({"w": torch.zeros(2)}, path)
    assert cli_main(["val", "--weights", str(path), "--data", str(tmp_path / "none.yaml")]) == 2
    line = _one_error_line(capsys.readouterr().err, "val")
    assert "refuses" in line and "yolo3 detect" in line and "yolo3 export" in line
    assert "pass --trust-pickle (" not in line  # no bare "pass --trust-pickle" that val does not have


# -- files get the user's permissions ------------------------------------------------------
def test_written_files_follow_the_umask(tmp_path: Path, tiny) -> None:
    from yolo3.io.checkpoint import atomic_write

    old = os.umask(0o022)
    try:
        _save(tmp_path / "m.safetensors", tiny.state_dict(), BASE)
        atomic_write(tmp_path / "p.json", lambda tmp: Path(tmp).write_text("[]"))
        os.umask(0o077)
        atomic_write(tmp_path / "private.json", lambda tmp: Path(tmp).write_text("[]"))
    finally:
        os.umask(old)
    assert (tmp_path / "m.safetensors").stat().st_mode & 0o777 == 0o644
    assert (tmp_path / "p.json").stat().st_mode & 0o777 == 0o644
    assert (tmp_path / "private.json").stat().st_mode & 0o777 == 0o600
    (tmp_path / "m.safetensors").chmod(0o640)  # a rewrite (val --save-thresholds) keeps the file's mode
    _save(tmp_path / "m.safetensors", tiny.state_dict(), BASE)
    assert (tmp_path / "m.safetensors").stat().st_mode & 0o777 == 0o640
