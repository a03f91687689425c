"""Detection outputs: COCO-results JSON, YOLO txt files, annotated images and video."""

from __future__ import annotations

import dataclasses
import json
import re
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path, PurePosixPath
from typing import Any

import cv2
import numpy as np

from yolo3.inference.results import Detections
from yolo3.io.checkpoint import atomic_write


@dataclasses.dataclass(frozen=True)
class OutputName:
    """Where the outputs of one input go (paths relative to the output folder).

    image: the annotated image (or video) file; stem: `labels/<stem>.txt` and the
    predictions.json image_id (an int when it is all digits, as COCO ids are)."""

    image: str
    stem: str
    image_id: int | str


def output_names(names: Sequence[str], videos: Sequence[bool] | None = None) -> list[OutputName]:
    """Unique, readable output names for inputs named `names` (paths relative to their
    source argument, e.g. `a.jpg`, `a.png`, `sub/a.jpg`; see SourceFile.name; `videos`
    marks the videos, whose frames are `<stem>_<frame:06d>`). The rule:

    - the annotated image keeps the input's relative name (`sub/a.jpg`); the same name
      from two arguments gets `_2`, `_3`, … in input order (`a_2.jpg`);
    - labels and image ids use that name without its suffix (`sub/a`), except when
      several inputs share it (`a.jpg`, `a.png`): then each of them keeps its suffix,
      joined by `_` (`a_jpg`, `a_png`), and so does an image named like a video's frame
      (`v_000000.jpg` beside `v.mp4` → `v_000000_jpg`);
    - an all-digit stem is an int image_id (COCO style: `000042.jpg` → 42) unless that
      int is already taken, then the string.
    So no two inputs share an output file, a label file or an image id.
    """
    images: list[str] = []
    taken: set[str] = set()
    for name in names:
        images.append(_unique(name, taken, lambda n, k: f"{_stem(name)}_{k}{PurePosixPath(name).suffix}"))
    counts = Counter(_stem(n) for n in images)
    stems: list[str] = []
    taken = set()
    for name in images:
        stem = _stem(name) if counts[_stem(name)] == 1 else f"{_stem(name)}_{PurePosixPath(name).suffix[1:]}"
        stems.append(_unique(stem, taken, lambda n, k: f"{n}_{k}"))
    frame = _frame_pattern([s for s, video in zip(stems, videos or []) if video])
    for i, (name, stem) in enumerate(zip(images, stems)):
        if frame is not None and frame.fullmatch(stem):  # would share a label file and id with a frame
            taken.discard(stem)
            stems[i] = _unique(f"{stem}_{PurePosixPath(name).suffix[1:]}", taken, lambda n, k: f"{n}_{k}")
    ids: list[int | str] = []
    used: set[int | str] = set()
    for stem in stems:
        image_id: int | str = int(stem) if stem.isdigit() and int(stem) not in used else stem
        used.add(image_id)
        ids.append(image_id)
    return [OutputName(i, s, d) for i, s, d in zip(images, stems, ids)]


def _frame_pattern(video_stems: list[str]) -> re.Pattern[str] | None:
    """Matches the frame stems (`<stem>_<frame:06d>`) of videos with these stems."""
    if not video_stems:
        return None
    return re.compile(f"(?:{'|'.join(re.escape(s) for s in video_stems)})_[0-9]{{6,}}")


def _stem(name: str) -> str:
    path = PurePosixPath(name)
    return str(path.with_suffix("")) if path.suffix else name


def _unique(name: str, taken: set[str], variant: Callable[[str, int], str]) -> str:
    candidate, k = name, 1
    while candidate in taken:
        k += 1
        candidate = variant(name, k)
    taken.add(candidate)
    return candidate


class CocoJsonWriter:
    """Collects detections and writes one COCO results JSON list at the end."""

    def __init__(self, path: Path, category_ids: list[int] | None = None) -> None:
        self.path = Path(path)
        self.category_ids = category_ids
        self.records: list[dict[str, Any]] = []

    def add(self, dets: Detections, image_id: int | str) -> None:
        self.records += dets.to_json(image_id, self.category_ids)

    def close(self) -> Path:
        data = json.dumps(self.records)
        atomic_write(self.path, lambda tmp: Path(tmp).write_text(data))
        return self.path


def write_yolo_txt(dets: Detections, path: Path) -> None:
    """`class cx cy w h score` lines (normalised); an empty file when nothing was found. Atomic:
    a full disk leaves no half file and an error naming it."""
    text = dets.to_yolo_txt()
    atomic_write(path, lambda tmp: Path(tmp).write_text(text), sync=False)  # one per image


class VideoWriter:
    """An mp4v video written frame by frame from RGB uint8 frames of one size."""

    def __init__(self, path: Path, fps: float, size: tuple[int, int]) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.size = size
        self.writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, size)
        if not self.writer.isOpened():
            raise OSError(f"{path}: OpenCV cannot write an mp4v video here")
        self.frames = 0

    def write(self, frame: np.ndarray) -> None:
        if (frame.shape[1], frame.shape[0]) != self.size:
            raise ValueError(f"{self.path}: frame of {frame.shape[1]}x{frame.shape[0]}, video is {self.size}")
        self.writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
        self.frames += 1

    def close(self) -> None:
        """Finishes the file and reads its header back: OpenCV reports no failed write, so a
        video cut by a full disk (no index, unplayable) is found here, removed and raised."""
        self.writer.release()
        check = cv2.VideoCapture(str(self.path))
        frames = int(check.get(cv2.CAP_PROP_FRAME_COUNT)) if check.isOpened() else -1
        check.release()
        if self.frames and frames != self.frames:
            self.path.unlink(missing_ok=True)
            raise OSError(f"{self.path}: cannot write the file (the video holds {max(frames, 0)} of {self.frames} "
                          "frames: disk full?); the cut video was removed. Free some space or choose another --out")
