"""Checkpoints: safetensors tensors + a JSON metadata header (SPEC §8.5).

Loading never unpickles: a pickled file (torch.save, .pt/.pth) is refused unless the
caller passes `trust_pickle=True`, and even then it is read with `weights_only=True`.
Writes are atomic (temporary file in the same folder, fsync, rename), so a crash
during a save leaves the previous file intact; files get the umask's permissions.

Hostile or corrupt files are refused with one message naming the file and what is
wrong, before anything is built: every `model` metadata field is bounded
(MODEL_LIMITS), and tensors holding NaN/inf or negative BatchNorm variances — which
would make the model compute NaN — are refused at every load (`check_values`).
"""

from __future__ import annotations

import json
import math
import os
import secrets
import struct
import zipfile
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from yolo3.config import ConfigError, ModelConfig, from_dict, to_dict
from yolo3.models import YOLOv3Base, build_model, list_models

METADATA_KEY = "yolo3"
FORMAT_VERSION = 1
MAX_HEADER_BYTES = 100 * 1024 * 1024


class CheckpointError(ValueError):
    """A model file that cannot be used; the message names the file and the fix."""


def atomic_write(path: str | Path, write: Any, sync: bool = True) -> None:
    """Calls `write(tmp_path)` then renames tmp over `path` after an fsync.

    sync=False skips the fsyncs (of the file and its folder) for the many small outputs of
    detect (annotated images, label files): still never a half file, but not made durable
    against a power cut, which would cost ~1.5 ms a file here. Checkpoints keep the default.

    A new file gets mode 0o666 filtered by the process umask (as `open()` would create
    it), not mkstemp's 0o600, so outputs get the user's normal permissions; a rewritten
    file keeps its mode. A failed write (disk full, EFBIG, a serializer error) leaves `path`
    untouched, removes the temporary file and raises OSError naming `path`. A `path` that is a
    symbolic link is written through, as `open(path, "w")` would: the file it names is replaced
    and the link kept."""
    path = Path(path)
    dest = Path(os.path.realpath(path)) if path.is_symlink() else path
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = _create_temp(dest)
    except OSError as err:  # a file where a folder should be, a name too long, no permission
        raise OSError(f"{path}: cannot write the file ({err.strerror or err}); nothing was changed") from err
    # a rewritten file keeps its mode; a new one gets 0o666 & ~umask (the temp file's), which we
    # set again after `write`, since some writers (safetensors) recreate the file as 0o600
    try:
        mode = os.fstat(fd).st_mode & 0o777
        os.close(fd)
        if os.path.isfile(dest):  # False (not an error) for a name too long: os.replace reports that
            mode = dest.stat().st_mode & 0o777
        write(tmp)
        os.chmod(tmp, mode)
        if sync:
            with open(tmp, "rb") as f:
                os.fsync(f.fileno())
        os.replace(tmp, dest)
    except BaseException as err:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(err, (OSError, SafetensorError)):
            reason = err.strerror if isinstance(err, OSError) and err.strerror else str(err)
            raise OSError(f"{path}: cannot write the file ({reason}); nothing was changed") from err
        raise
    if not sync:
        return
    dir_fd = os.open(dest.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def save_figure(fig: Any, path: str | Path, **savefig_kwargs: Any) -> None:
    """`fig.savefig(path)` through `atomic_write` (the format from the suffix, png when none),
    so a full disk leaves no half plot and an error naming it."""
    fmt = Path(path).suffix[1:].lower() or "png"
    atomic_write(path, lambda tmp: fig.savefig(tmp, format=fmt, **savefig_kwargs))


TEMP_SUFFIX = ".tmp"
NAME_MAX = 255
"""Bytes of one path component on Linux file systems: the temporary name must fit too."""


def _create_temp(path: Path) -> tuple[int, str]:
    """A new, empty `.NAME.<random>.tmp` next to `path` (mode 0o666 & ~umask); NAME is cut
    so the temporary name is no longer than NAME_MAX bytes whenever `path`'s name is."""
    room = NAME_MAX - len(f"..{secrets.token_hex(4)}{TEMP_SUFFIX}")
    name = os.fsencode(path.name)[:room].decode("utf-8", "ignore")
    for _ in range(100):
        tmp = path.parent / f".{name}.{secrets.token_hex(4)}{TEMP_SUFFIX}"
        try:
            return os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666), str(tmp)
        except FileExistsError:
            continue
    raise OSError(f"{path.parent}: cannot create a temporary file for {path.name}")


def remove_stale_temps(folder: str | Path) -> list[Path]:
    """Deletes the temporary files `atomic_write` leaves when its process is killed
    mid-write (`.NAME.<hex>.tmp` in `folder`); returns what it removed. Only call it
    when no other process is writing to `folder` (a training run holds its lock)."""
    removed = []
    for tmp in Path(folder).glob(f".*{TEMP_SUFFIX}"):
        if tmp.is_file():
            tmp.unlink(missing_ok=True)
            removed.append(tmp)
    return removed


def save_checkpoint(path: str | Path, tensors: dict[str, torch.Tensor], metadata: dict[str, Any]) -> None:
    """Writes tensors and JSON-serialisable metadata to a safetensors file, atomically."""
    header = {METADATA_KEY: json.dumps({"format_version": FORMAT_VERSION, **metadata})}
    clean = {k: v.detach().cpu().contiguous().clone() for k, v in tensors.items()}
    atomic_write(path, lambda tmp: save_file(clean, tmp, metadata=header))


def _looks_like_safetensors(path: Path) -> bool:
    with open(path, "rb") as f:
        head = f.read(9)
    if len(head) < 9:
        return False
    (size,) = struct.unpack("<Q", head[:8])
    return 0 < size < MAX_HEADER_BYTES and head[8:9] == b"{"


def _looks_like_pickle(path: Path) -> bool:
    """torch.save output: a zip archive (PK\\3\\4) or a pickle of protocol >= 2 (0x80 first)."""
    with open(path, "rb") as f:
        head = f.read(4)
    return head == b"PK\x03\x04" or (len(head) >= 2 and head[0] == 0x80 and 2 <= head[1] <= 5)


def is_torchscript(path: Path) -> bool:
    """A torch.jit.save archive (a zip with the traced graph's `code/` and `constants.pkl`)."""
    try:
        with zipfile.ZipFile(path) as archive:
            return any(name.endswith("/constants.pkl") or "/code/" in name for name in archive.namelist())
    except (zipfile.BadZipFile, OSError):
        return False


def read_metadata(path: str | Path) -> dict[str, Any]:
    """Only the yolo3 JSON metadata of a safetensors file (cheap: reads the header)."""
    path = Path(path)
    try:
        with open(path, "rb") as f:
            (size,) = struct.unpack("<Q", f.read(8))
            if size >= MAX_HEADER_BYTES:
                raise CheckpointError(f"{path}: safetensors header of {size} bytes is not plausible")
            header = json.loads(f.read(size))
        extra = header.get("__metadata__") if isinstance(header, dict) else None
        raw = extra.get(METADATA_KEY) if isinstance(extra, dict) else None
        if raw is None:
            raise CheckpointError(f"{path}: no yolo3 metadata; it is not a yolo3 checkpoint "
                                  "(convert it with yolo3 tools)")
        meta = json.loads(raw) if isinstance(raw, str) else None
    except (OSError, struct.error, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as err:
        raise CheckpointError(f"{path}: corrupt or truncated safetensors header ({err})") from err
    if not isinstance(meta, dict):
        raise CheckpointError(f"{path}: yolo3 metadata must be a JSON object")
    return meta


def load_checkpoint(path: str | Path, trust_pickle: bool = False) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Reads (tensors, metadata). Refuses pickled files unless `trust_pickle`."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint file")
    if _looks_like_safetensors(path):
        try:
            tensors = load_file(str(path))
            meta = read_metadata(path)
        except (SafetensorError, json.JSONDecodeError, struct.error, OSError) as err:
            raise CheckpointError(f"{path}: corrupt or truncated safetensors file ({err})") from err
        check_values(tensors, path)
        return tensors, meta
    if not _looks_like_pickle(path):
        with open(path, "rb") as f:
            head = f.read(9)
        size = struct.unpack("<Q", head[:8])[0] if len(head) >= 8 else None
        detail = (f"only {len(head)} bytes" if size is None else
                  f"its first 8 bytes give a header of {size} bytes" if not 0 < size < MAX_HEADER_BYTES else
                  "its header does not start with '{'")
        raise CheckpointError(f"{path}: corrupt or not a checkpoint: not a valid safetensors file ({detail}) "
                              "and not a PyTorch file either; re-download or re-export it")
    if is_torchscript(path):
        raise CheckpointError(
            f"{path}: a TorchScript export (`yolo3 export --format torchscript`), which yolo3 does not run: load it "
            "with torch.jit.load; for detect, val and serve give the .safetensors checkpoint it was exported from, "
            "or an .onnx or OpenVINO export of it"
        )
    if not trust_pickle:
        raise CheckpointError(
            f"{path}: not a safetensors file but a pickle (torch.save). Pickled checkpoints (.pt/.pth) can run "
            "arbitrary code when loaded, so yolo3 refuses them. If you trust its author, load it with "
            "trust_pickle=True (on the command line: --trust-pickle of `yolo3 detect` and `yolo3 export`); "
            "it is then read with torch.load(weights_only=True)."
        )
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises several types for refused/corrupt pickles
        raise CheckpointError(f"{path}: refused by torch.load(weights_only=True): {err}") from err
    meta = {}
    if isinstance(obj, dict) and "state_dict" in obj:
        meta = obj.get("metadata", {}) if isinstance(obj.get("metadata"), dict) else {}
        obj = obj["state_dict"]
    if not isinstance(obj, dict) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise CheckpointError(f"{path}: pickled file holds no plain state dict of tensors")
    check_values(obj, path)
    return obj, meta


def read_onnx_metadata(path: str | Path) -> dict[str, Any]:
    """The yolo3 metadata an exported ONNX file carries ({} when absent); no weights are read.
    Raises CheckpointError naming the file when it is not ONNX or its metadata is not a JSON object."""
    import onnx
    from google.protobuf.message import DecodeError

    try:
        proto = onnx.load(str(path), load_external_data=False)
    except (DecodeError, ValueError, RuntimeError) as err:
        raise CheckpointError(f"{path}: not an ONNX file (cannot parse it: {err}); export one with "
                              "`yolo3 export --format onnx`") from err
    for entry in proto.metadata_props:
        if entry.key == METADATA_KEY:
            try:
                meta = json.loads(entry.value)
            except (json.JSONDecodeError, RecursionError) as err:
                raise CheckpointError(f"{path}: its yolo3 metadata (metadata_props[{METADATA_KEY!r}]) is not "
                                      f"valid JSON: {err}") from err
            if not isinstance(meta, dict):
                raise CheckpointError(f"{path}: its yolo3 metadata (metadata_props[{METADATA_KEY!r}]) must be a "
                                      f"JSON object, got {type(meta).__name__}")
            return meta
    return {}


# Allowed ranges of the `model` metadata fields (inclusive unless noted). They are far
# beyond any real model, and small enough that building the described model is cheap
# to check: metadata outside them is refused before anything is built.
MODEL_LIMITS: dict[str, tuple[float, float]] = {
    "num_classes": (1, 10_000),
    "width": (0.01, 4.0),
    "depth": (0.01, 4.0),
    "imgsz": (32, 4096),
    "bn_eps": (0.0, 1.0),  # 0: darknet's CPU formula, folded into running_var (convert-darknet --bn darknet-cpu)
    "prior_obj": (1e-9, 1 - 1e-9),
    "prior_cls": (1e-9, 1 - 1e-9),
}
MAX_ANCHOR_PX = 65536.0  # anchor w, h in input pixels: (0, MAX_ANCHOR_PX]
MAX_ANCHORS_PER_SCALE = 16


def check_model_limits(data: dict[str, Any], arch: str, where: str) -> None:
    """Refuses any numeric `model` field outside MODEL_LIMITS (NaN and inf included) and
    anchors that are not finite positive sizes grouped like the architecture's scales.
    `where` names the file and key in the message (e.g. `run/config.yaml:model`)."""
    for key, (low, high) in MODEL_LIMITS.items():
        value = data.get(key)
        if key not in data:
            continue  # the default
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            if key in ("num_classes", "imgsz"):
                continue  # from_dict reports "expected int"
            raise CheckpointError(f"{where}.{key}: expected a number in the allowed range [{low:g}, {high:g}], "
                                  f"got {value!r}")
        if not (math.isfinite(value) and low <= value <= high):
            raise CheckpointError(f"{where}.{key}={value!r} is outside the allowed range [{low:g}, {high:g}]; "
                                  "the file is corrupt or was not written by yolo3")
    anchors = data.get("anchors")
    if not isinstance(anchors, list):
        return
    from yolo3.models.registry import model_spec

    scales = len(model_spec(arch).default_anchors)
    problem = ""
    if len(anchors) != scales:
        problem = f"{len(anchors)} groups, {arch} has {scales} scales"
    elif not all(isinstance(g, list) and 1 <= len(g) <= MAX_ANCHORS_PER_SCALE and len(g) == len(anchors[0])
                 for g in anchors):
        problem = f"each scale needs the same number of anchors, 1 to {MAX_ANCHORS_PER_SCALE}"
    else:
        values = [v for g in anchors for a in g for v in (a if isinstance(a, list) else [a])]
        if not all(isinstance(a, list) and len(a) == 2 for g in anchors for a in g) or not all(
                isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
                and 0 < v <= MAX_ANCHOR_PX for v in values):
            problem = f"each anchor must be (w, h) > 0, finite and at most {MAX_ANCHOR_PX:g} pixels"
    if problem:
        raise CheckpointError(f"{where}.anchors is outside the allowed range: {problem}; "
                              "the file is corrupt or was not written by yolo3")


CLASSIFIER_KIND = "crop_classifier"
"""Metadata 'kind' of a crop classifier file (`yolo3.io.classifier`)."""


def model_config_from_metadata(meta: dict[str, Any], path: str | Path = "checkpoint") -> ModelConfig:
    """Validates the `model` entry of metadata (types, ranges, sizes, names) into a ModelConfig,
    without building anything (see MODEL_LIMITS)."""
    data = meta.get("model")
    if meta.get("kind") == CLASSIFIER_KIND:
        raise CheckpointError(f"{path}: a crop classifier (`yolo3 train-classifier`), not a detector: give it to "
                              "--classifier of detect or serve, and a detector checkpoint to --weights")
    if not isinstance(data, dict):
        raise CheckpointError(f"{path}: metadata has no 'model' section describing the architecture")
    where = f"{path}:metadata.model"
    arch = data.get("arch", "yolov3")
    if not isinstance(arch, str) or arch not in list_models():
        raise CheckpointError(f"{path}: metadata names architecture {arch!r}, which this yolo3 does not have "
                              f"(known: {', '.join(list_models())})")
    check_model_limits(data, arch, where)
    try:
        cfg = from_dict(ModelConfig, data, where=where)
    except ConfigError as err:
        raise CheckpointError(str(err)) from err
    if cfg.class_names is not None and not all(isinstance(n, str) and 0 < len(n) <= 256 for n in cfg.class_names):
        raise CheckpointError(f"{path}: class names must be non-empty strings of at most 256 characters")
    return cfg


def check_weights(cfg: ModelConfig, tensors: dict[str, torch.Tensor], path: str | Path = "checkpoint") -> None:
    """Checks, before any real allocation, that `tensors` are exactly the weights of the
    model `cfg` describes (names and shapes, compared with a model built on the 'meta'
    device, which has no storage) and that floating weights are finite. So metadata
    claiming e.g. 10^9 classes is refused instead of building a terabyte-sized head."""
    with torch.device("meta"):
        skeleton = build_model(cfg)
    expected = {k: tuple(v.shape) for k, v in skeleton.state_dict().items()}
    missing = sorted(set(expected) - set(tensors))
    unexpected = sorted(set(tensors) - set(expected))
    wrong = [f"{k} {tuple(tensors[k].shape)} (expected {shape})" for k, shape in expected.items()
             if k in tensors and tuple(tensors[k].shape) != shape]
    if missing or unexpected or wrong:
        detail = "; ".join(part for part in (
            f"missing {missing[:3]}{' …' if len(missing) > 3 else ''}" if missing else "",
            f"unexpected {unexpected[:3]}{' …' if len(unexpected) > 3 else ''}" if unexpected else "",
            f"wrong shape {wrong[:3]}{' …' if len(wrong) > 3 else ''}" if wrong else "") if part)
        raise CheckpointError(f"{path}: weights do not match the {cfg.arch} architecture in its metadata "
                              f"(num_classes={cfg.num_classes}, width={cfg.width}, depth={cfg.depth}): {detail}")
    check_values(tensors, path, cfg.bn_eps)


def check_values(tensors: dict[str, torch.Tensor], path: str | Path = "checkpoint", bn_eps: float = 1e-5) -> None:
    """Refuses values a model cannot compute with: floating tensors holding NaN or inf, and
    BatchNorm running variances below zero (sqrt(var + eps) would be NaN) — or at zero when
    bn_eps is 0 (a division by zero). The message names the file and the first such tensor."""
    bad = [k for k, v in tensors.items() if v.is_floating_point() and not bool(torch.isfinite(v).all())]
    if bad:
        raise CheckpointError(f"{path}: {len(bad)} weight tensor(s) hold NaN or inf (e.g. {bad[0]}); the file "
                              "comes from a diverged or corrupted run: use an earlier checkpoint")
    negative = [k for k, v in tensors.items()
                if k.endswith("running_var") and bool((v < 0).any() if bn_eps > 0 else (v <= 0).any())]
    if negative:
        k = negative[0]
        what = "a negative variance" if bn_eps > 0 else "a variance ≤ 0 with BatchNorm eps 0"
        raise CheckpointError(f"{path}: BatchNorm statistic {k} holds {what} "
                              f"(min {float(tensors[k].min()):.3g}), so the model would compute NaN or inf; "
                              "the file is corrupt: use another checkpoint")


def save_model(path: str | Path, model: YOLOv3Base, **metadata: Any) -> None:
    """Saves a model's weights and config (plus any extra metadata) atomically."""
    save_checkpoint(path, model.state_dict(), {"model": to_dict(model.cfg), **metadata})


def load_model(path: str | Path, trust_pickle: bool = False) -> tuple[YOLOv3Base, dict[str, Any]]:
    """Builds the model a checkpoint describes and loads its weights (eval mode)."""
    tensors, meta = load_checkpoint(path, trust_pickle)
    cfg = model_config_from_metadata(meta, path)
    prefix = "model."
    if any(k.startswith(prefix) for k in tensors):  # training checkpoints namespace their tensors
        tensors = {k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)}
    check_weights(cfg, tensors, path)
    model = build_model(cfg)
    try:
        model.load_state_dict(tensors, strict=True)
    except RuntimeError as err:
        raise CheckpointError(f"{path}: weights do not match the {cfg.arch} architecture in its metadata: {err}") from err
    return model.eval(), meta
