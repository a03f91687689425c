"""On-disk cache of the checkpoint → OpenVINO conversion that `--backend auto` does on a CPU.

Converting a `.safetensors` / `.pt` checkpoint to an OpenVINO model (tracing, BN folding,
`ov.convert_model`) takes 5–8 s on a 2-core machine, on every `yolo3 detect`, `val` or
`serve` start; reading a saved conversion back takes well under a second. So the first
load saves the converted graph and later loads of the same bytes read it back.

Where: `$YOLO3_CACHE_DIR`, else `$XDG_CACHE_HOME/yolo3`, else `~/.cache/yolo3`; an entry
is `openvino/<key>/model.xml` + `model.bin`. `YOLO3_CACHE_DIR=off` turns the cache off
(every load converts in memory, as before the cache existed).

The key is the sha256 of everything the converted graph depends on:
- the checkpoint file's bytes (sha256): weights, architecture and input size in its
  metadata. Its bytes, not its path or modification time: a retrained `best.safetensors`
  at the same path must never hit the old entry, and a copy elsewhere may reuse it;
- the input size the graph is traced at (`imgsz`);
- yolo3's version and a digest of yolo3's own source: the traced graph is yolo3's model,
  fuse and decode code, which changes between releases and, in an editable install,
  without a version bump. Any edit of yolo3 then makes a new entry (one conversion), never
  a stale one;
- the OpenVINO and torch versions (the converter and the tracer that build the graph).

Entries are saved in fp32 (`compress_to_fp16=False`: fp16 weights would change the
numbers), so a cached model gives exactly the detections of a fresh conversion. Writes
go to a temporary folder beside the entries and are renamed into place: a reader never
sees half an entry, and of two processes writing the same key the first rename wins and
the second keeps it. An unreadable entry (truncated, edited) is deleted and written
again; a cache that cannot be written (read-only, a file in the way) only costs the
conversion, never the load. The `KEEP` most recently used entries are kept.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

import yolo3
from yolo3.inference.openvino_backend import read_openvino, require_openvino, to_openvino
from yolo3.models import YOLOv3Base

CACHE_ENV = "YOLO3_CACHE_DIR"
OFF = "off"
FORMAT = 1
"""Layout version of an entry; bumped when what an entry holds changes."""
KEEP = 16
"""Entries kept (most recently used first); a yolov3 entry is ~250 MB, a tiny one ~35 MB."""
RT_INFO_KEY = "yolo3_cache"
STALE_TMP_S = 24 * 3600
"""Temporary folders older than this are a crashed writer's leftovers and are removed."""


def cache_root() -> Path | None:
    """The yolo3 cache folder (`openvino/` lives inside), or None when `YOLO3_CACHE_DIR=off`."""
    value = os.environ.get(CACHE_ENV, "").strip()
    if value.lower() == OFF:
        return None
    if value:
        return Path(value).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    base = Path(xdg) if os.path.isabs(xdg) else Path.home() / ".cache"  # XDG: relative values are ignored
    return base / "yolo3"


def file_stamp(path: str | Path) -> tuple[int, int, int]:
    """(inode, size, mtime ns) of a file: taken before it is loaded, compared after it is hashed."""
    st = os.stat(path)
    return st.st_ino, st.st_size, st.st_mtime_ns


def file_sha256(path: str | Path) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


@functools.cache
def source_digest() -> str:
    """sha256 over yolo3's .py files (relative path + bytes), computed once per process (~ms)."""
    package = Path(yolo3.__file__).resolve().parent
    digest = hashlib.sha256()
    for file in sorted(package.rglob("*.py")):
        digest.update(file.relative_to(package).as_posix().encode() + b"\0")
        digest.update(file.read_bytes() + b"\0")
    return digest.hexdigest()


def key_parts(checkpoint_sha256: str, imgsz: int) -> dict[str, Any]:
    """What the converted graph depends on (see the module docstring)."""
    return {
        "format": FORMAT,
        "checkpoint_sha256": checkpoint_sha256,
        "imgsz": int(imgsz),
        "yolo3": yolo3.__version__,
        "yolo3_source": source_digest(),
        "openvino": require_openvino().get_version(),
        "torch": torch.__version__,
    }


def cache_key(parts: dict[str, Any]) -> str:
    """32 hex characters (128 bits of sha256) of the parts' canonical JSON: the entry's folder name."""
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:32]


@dataclasses.dataclass
class Conversion:
    """An `openvino.Model` of a checkpoint, and how it was obtained (one clause for the backend note)."""

    model: Any
    note: str
    entry: Path | None = None


def read_entry(entry: Path, key: str) -> Any:
    """The `openvino.Model` of a cache entry; ValueError / CheckpointError / OSError when unusable."""
    xml = entry / "model.xml"
    with open(xml, "rb") as f:  # garbage would be handed to OpenVINO's other frontends (noisy errors)
        if not f.read(64).lstrip().startswith(b"<?xml"):
            raise ValueError(f"{xml} is not an OpenVINO IR file")
    ov_model, _ = read_openvino(entry)
    if not ov_model.has_rt_info([RT_INFO_KEY]) or \
            json.loads(ov_model.get_rt_info([RT_INFO_KEY]).astype(str)).get("key") != key:
        raise ValueError(f"{xml} was written for another key")
    return ov_model


def write_entry(ov_model: Any, entry: Path, key: str, parts: dict[str, Any], source: Path) -> None:
    """Saves `ov_model` as `entry` atomically; an entry another process renamed into place first is kept.

    Raises OSError when the cache folder cannot be created or written.
    """
    ov = require_openvino()
    entry.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{key}-", dir=entry.parent))
    try:
        info = {"key": key, **parts, "first_converted_from": str(source.resolve())}
        ov_model.set_rt_info(json.dumps(info), [RT_INFO_KEY])
        try:
            ov.save_model(ov_model, str(tmp / "model.xml"), compress_to_fp16=False)
        except RuntimeError as err:  # OpenVINO reports a failed write (disk full, ...) as RuntimeError
            raise OSError(f"cannot save to {tmp}: {str(err).splitlines()[0]}") from err
        try:
            os.rename(tmp, entry)  # atomic; fails when `entry` exists and holds files
        except OSError:
            if not (entry / "model.xml").is_file():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)  # gone after a rename; a loser's or a failed write's copy


def prune(folder: Path, keep: int = KEEP) -> None:
    """Removes all but the `keep` most recently used entries, and crashed writers' temporary folders."""
    try:
        children = list(folder.iterdir())
        now = time.time()
        entries = []
        for child in children:
            mtime = child.stat().st_mtime
            if child.name.startswith(".tmp-"):
                if now - mtime > STALE_TMP_S:
                    shutil.rmtree(child, ignore_errors=True)
            elif child.is_dir():
                entries.append((mtime, child))
        for _, old in sorted(entries, reverse=True)[keep:]:
            shutil.rmtree(old, ignore_errors=True)
    except OSError:  # another process pruning at the same time, or a read-only cache
        pass


def convert_checkpoint(model: YOLOv3Base, checkpoint: str | Path, imgsz: int | None = None,
                       loaded_stamp: tuple[int, int, int] | None = None) -> Conversion:
    """`to_openvino(model, imgsz)` through the cache; `model` is what `checkpoint` holds.

    loaded_stamp: `file_stamp(checkpoint)` taken before `model` was loaded from it; when the
    file changed since (a training run saving over it), the conversion is not cached, so an
    entry never pairs one file's bytes with another's weights.
    """
    checkpoint = Path(checkpoint)
    imgsz = int(imgsz or model.cfg.imgsz)
    root = cache_root()
    if root is None:
        return Conversion(to_openvino(model, imgsz), f"converted in memory ({CACHE_ENV}=off)")
    parts = key_parts(file_sha256(checkpoint), imgsz)
    key = cache_key(parts)
    entry = root / "openvino" / key
    replaced = ""
    if entry.exists():
        try:
            ov_model = read_entry(entry, key)
        except (OSError, ValueError, RuntimeError) as err:  # CheckpointError is a ValueError
            shutil.rmtree(entry, ignore_errors=True)
            replaced = f" (replaced an unreadable entry: {str(err).splitlines()[0]})"
        else:
            try:
                os.utime(entry)  # most recently used, for `prune`
            except OSError:
                pass  # a read-only cache still serves its entries
            return Conversion(ov_model, f"from the cache {entry}", entry)
    converted = to_openvino(model, imgsz)
    if loaded_stamp is not None and file_stamp(checkpoint) != loaded_stamp:
        return Conversion(converted, f"converted in memory, not cached ({checkpoint} changed while it was read)")
    try:
        write_entry(converted, entry, key, parts, checkpoint)
    except OSError as err:
        return Conversion(converted, f"converted in memory, not cached ({err}; set {CACHE_ENV} to a writable "
                                     f"folder, or {CACHE_ENV}=off)")
    prune(entry.parent)
    return Conversion(converted, f"converted once, cached at {entry}{replaced}", entry)
