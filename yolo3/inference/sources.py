"""Where images come from: files, folders, globs and videos (SPEC §8.3).

`expand_sources` turns the user's arguments into an ordered list of image and video
files (a folder contributes its images and videos, sorted; a glob its matches);
anything that matches nothing is an error naming it — never silently skipped.
"""

from __future__ import annotations

import dataclasses
import glob
from pathlib import Path
from typing import Iterator

import cv2
import numpy as np

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"})
VIDEO_SUFFIXES = frozenset({".mp4", ".avi", ".mov", ".mkv", ".m4v", ".webm", ".mpg", ".mpeg", ".wmv"})


class SourceError(ValueError):
    """A source argument that names nothing usable."""


@dataclasses.dataclass(frozen=True)
class SourceFile:
    """One input file, its kind ('image' or 'video') and its name for outputs: the path
    relative to the folder argument it was found in (`sub/a.jpg`), relative to the fixed
    part of a glob argument, or the file name for a file argument."""

    path: Path
    kind: str
    name: str = ""

    @property
    def output_name(self) -> str:
        return self.name or self.path.name


def kind_of(path: Path) -> str | None:
    """'image', 'video' or None from the file suffix."""
    suffix = path.suffix.lower()
    return "image" if suffix in IMAGE_SUFFIXES else "video" if suffix in VIDEO_SUFFIXES else None


def expand_sources(sources: list[str | Path], recursive: bool = False) -> list[SourceFile]:
    """Files, folders and globs → image/video files, in argument order, without duplicates."""
    out: list[SourceFile] = []
    seen: set[Path] = set()
    for source in sources:
        text = str(source)
        path = Path(text)
        base: Path | None = None  # names are relative to it (None: the file name)
        if path.is_dir():
            pattern = "**/*" if recursive else "*"
            found = sorted(p for p in path.glob(pattern) if p.is_file() and kind_of(p))
            if not found:
                raise SourceError(f"{path}: folder holds no image or video files ({', '.join(sorted(IMAGE_SUFFIXES))}, ...)")
            base = path
        elif path.is_file():
            if kind_of(path) is None:
                raise SourceError(f"{path}: unknown file type {path.suffix!r}; give an image or video file")
            found = [path]
        elif glob.has_magic(text):
            found = sorted(Path(p) for p in glob.glob(text, recursive=True) if Path(p).is_file() and kind_of(Path(p)))
            if not found:
                raise SourceError(f"{text}: pattern matches no image or video files")
            base = _fixed_part(text)
        else:
            raise SourceError(f"{text}: no such file, folder or glob match")
        for p in found:
            key = p.resolve()
            if key not in seen:
                seen.add(key)
                out.append(SourceFile(p, kind_of(p) or "image", _relative_name(p, base)))
    return out


def _fixed_part(pattern: str) -> Path:
    """The folder part of a glob pattern before its first wildcard (`imgs/**/*.jpg` → `imgs`)."""
    fixed = []
    for part in Path(pattern).parts[:-1]:
        if glob.has_magic(part):
            break
        fixed.append(part)
    return Path(*fixed) if fixed else Path(".")


def _relative_name(path: Path, base: Path | None) -> str:
    if base is not None:
        try:
            return path.relative_to(base).as_posix()
        except ValueError:
            pass
    return path.name


@dataclasses.dataclass
class VideoInfo:
    """Frame rate, frame size (w, h) and the container's frame count (may be approximate)."""

    fps: float
    size: tuple[int, int]
    frames: int


def open_video(path: Path) -> tuple[cv2.VideoCapture, VideoInfo]:
    """Opens a video with OpenCV; error naming the file when it cannot be decoded."""
    capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        raise SourceError(f"{path}: cannot open video (corrupt, or a codec OpenCV lacks)")
    fps = capture.get(cv2.CAP_PROP_FPS) or 25.0
    size = (int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)), int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT)))
    return capture, VideoInfo(fps if fps > 0 else 25.0, size, int(capture.get(cv2.CAP_PROP_FRAME_COUNT)))


def read_frames(capture: cv2.VideoCapture) -> Iterator[np.ndarray]:
    """Yields (h, w, 3) uint8 RGB frames until the video ends; releases the capture."""
    try:
        while True:
            ok, frame = capture.read()
            if not ok:
                return
            yield cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
    finally:
        capture.release()
