"""Where images come from: files, folders, globs, videos and streams (SPEC §8.3).

`expand_sources` turns the user's arguments into an ordered list of image and video
files (a folder contributes its images and videos, sorted; a glob its matches);
anything that matches nothing is an error naming it — never silently skipped.

Streams go through OpenCV (FFmpeg): a webcam index (`0`), `rtsp://` / `rtmp://`
streams and `http(s)://` URLs of videos or images (an image URL — its path ends in an
image suffix — is one image; any other URL is a video). Their `SourceFile.url` is what
OpenCV opens and `path` a file name for the outputs (`webcam0`, the URL's last part).
A stream OpenCV cannot open is a SourceError naming it.
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
STREAM_SCHEMES = ("rtsp://", "rtmp://", "http://", "https://")


class SourceError(ValueError):
    """A source argument that names nothing usable."""


@dataclasses.dataclass(frozen=True)
class SourceFile:
    """One input and its kind ('image' or 'video'); `url` is set for a stream or URL
    (what OpenCV opens: a webcam index as text, or the URL), `path` is then its name.
    `name` is its name for outputs: the path relative to the folder argument it was found
    in (`sub/a.jpg`), relative to the fixed part of a glob argument, or the file name for
    a file argument."""

    path: Path
    kind: str
    url: str = ""
    name: str = ""

    @property
    def output_name(self) -> str:
        return self.name or self.path.name


def is_stream(text: str) -> bool:
    """A webcam index ('0') or an rtsp/rtmp/http(s) URL."""
    return text.isdigit() or text.lower().startswith(STREAM_SCHEMES)


def stream_source(text: str) -> SourceFile:
    """The SourceFile of a webcam index or URL (see the module docstring)."""
    if text.isdigit():
        return SourceFile(Path(f"webcam{int(text)}"), "video", text)
    from urllib.parse import urlsplit

    last = Path(urlsplit(text).path).name
    name = "".join(c if c.isalnum() or c in "._-" else "_" for c in last) or "stream"
    kind = "image" if Path(name).suffix.lower() in IMAGE_SUFFIXES else "video"
    return SourceFile(Path(name), kind, text)


def kind_of(path: Path) -> str | None:
    """'image', 'video' or None from the file suffix."""
    suffix = path.suffix.lower()
    return "image" if suffix in IMAGE_SUFFIXES else "video" if suffix in VIDEO_SUFFIXES else None


def expand_sources(sources: list[str | Path], recursive: bool = False) -> list[SourceFile]:
    """Files, folders and globs → image/video files, in argument order, without duplicates."""
    out: list[SourceFile] = []
    seen: set[Path] = set()
    seen_urls: set[str] = set()
    for source in sources:
        text = str(source)
        path = Path(text)
        if is_stream(text) and not path.exists():
            stream = stream_source(text)
            if text not in seen_urls:
                seen_urls.add(text)
                out.append(stream)
            continue
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
                out.append(SourceFile(p, kind_of(p) or "image", name=_relative_name(p, base)))
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


def _capture(source: Path | str) -> cv2.VideoCapture:
    """cv2.VideoCapture of a file, URL or webcam index ('0' → camera 0)."""
    text = str(source)
    return cv2.VideoCapture(int(text)) if text.isdigit() and not Path(text).exists() else cv2.VideoCapture(text)


def _cannot_open(source: Path | str) -> SourceError:
    text = str(source)
    if text.isdigit():
        return SourceError(f"webcam {text}: OpenCV cannot open it (no camera at that index, or no permission "
                           f"to /dev/video{text})")
    if text.lower().startswith(STREAM_SCHEMES):
        return SourceError(f"{text}: OpenCV cannot open this URL (unreachable, not found, or a format its FFmpeg "
                           "lacks); check it plays in a media player, or download it and pass the file")
    return SourceError(f"{text}: cannot open video (corrupt, or a codec OpenCV lacks)")


def open_video(path: Path | str) -> tuple[cv2.VideoCapture, VideoInfo]:
    """Opens a video file, URL or webcam index with OpenCV; error naming it when it cannot."""
    capture = _capture(path)
    if not capture.isOpened():
        raise _cannot_open(path)
    fps = capture.get(cv2.CAP_PROP_FPS) or 25.0
    size = (int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)), int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT)))
    return capture, VideoInfo(fps if fps > 0 else 25.0, size, int(capture.get(cv2.CAP_PROP_FRAME_COUNT)))


def read_url_image(url: str) -> np.ndarray:
    """The (h, w, 3) uint8 RGB image at an http(s) URL, decoded by OpenCV."""
    capture = _capture(url)
    try:
        ok, frame = capture.read() if capture.isOpened() else (False, None)
    finally:
        capture.release()
    if not ok or frame is None:
        raise _cannot_open(url)
    return cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)


def read_source_image(source: SourceFile) -> np.ndarray:
    """An image source → (h, w, 3) uint8 RGB: a file (EXIF-aware read_image) or a URL."""
    if source.url:
        return read_url_image(source.url)
    from yolo3.data.image_io import read_image

    return read_image(source.path)


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
