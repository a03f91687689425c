"""`detect_sources`: the Python API behind `yolo3 detect` (files, folders, globs, videos).

Outputs under `out_dir`: annotated images and videos (`<stem>.mp4`), YOLO txt per image
/ per video frame in `labels/`, and one COCO-results `predictions.json` for everything (category ids:
`coco_category_ids`).

Names are unique per input and readable (`yolo3.inference.writers.output_names`): an
input keeps its path relative to the folder (or glob) argument it was found in, so
`imgs/sub/a.jpg` from `detect imgs --recursive` gives `sub/a.jpg`, `labels/sub/a.txt`
and image_id `"sub/a"`; inputs sharing a stem (`a.jpg`, `a.png`) keep their suffix in
labels and ids (`labels/a_jpg.txt`, `labels/a_png.txt`); the same name from two
arguments gets `_2` (`a_2.jpg`). Video frames are `<stem>_<frame:06d>` (an image named like
one keeps its suffix: `v_000000_jpg`).
"""

from __future__ import annotations

import dataclasses
import time
import warnings
from pathlib import Path, PurePosixPath
from typing import Any, Callable

from tqdm import tqdm

from yolo3.data.image_io import ImageReadError, write_image
from yolo3.inference.detector import Detector, Thresholds
from yolo3.inference.results import Detections
from yolo3.inference.postprocess import NMSConfig
from yolo3.inference.roi import ROI, RoiInput, make_roi
from yolo3.inference.sources import (
    SourceError, SourceFile, VideoInfo, expand_sources, open_video, read_frames, read_source_image,
)
from yolo3.inference.tta import TTAConfig
from yolo3.inference.writers import CocoJsonWriter, OutputName, VideoWriter, output_names, write_yolo_txt


@dataclasses.dataclass
class DetectSummary:
    """What a detect run produced."""

    out_dir: Path
    images: int = 0
    videos: int = 0
    frames: int = 0
    detections: int = 0
    seconds: float = 0.0
    json_path: Path | None = None
    outputs: list[Path] = dataclasses.field(default_factory=list)
    skipped: list[str] = dataclasses.field(default_factory=list)  # "file: reason": unreadable, or not the ROI mask's size
    skipped_videos: int = 0  # how many of `skipped` are video files OpenCV cannot open


def detect_sources(
    detector: Detector,
    sources: list[str | Path],
    out_dir: str | Path,
    classes: list[int | str] | None = None,
    roi: RoiInput | None = None,
    thresholds: Thresholds = None,
    tta: TTAConfig | bool | None = None,
    save_images: bool = True,
    save_txt: bool = True,
    save_json: bool = True,
    recursive: bool = False,
    progress: bool = True,
    category_ids: list[int] | None = None,
) -> DetectSummary:
    """Runs `detector` on every image and video frame named by `sources`; writes outputs."""
    start = time.perf_counter()
    files = expand_sources(sources, recursive)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    summary = DetectSummary(out)
    cfg = detector.call_config(None, classes, thresholds)
    region = make_roi(roi) if roi is not None else None
    tta_cfg = TTAConfig() if tta is True else (tta or None)
    coco = CocoJsonWriter(out / "predictions.json", category_ids or coco_category_ids(detector)) if save_json else None
    planned = output_names([f.output_name if f.kind == "image" else _video_name(f.output_name) for f in files],
                           [f.kind == "video" for f in files])
    names = dict(zip(files, planned))  # per SourceFile: two streams may share a path name

    def emit(dets: Detections, image: Any, stem: str, image_id: int | str) -> None:
        summary.detections += len(dets)
        if coco is not None:
            coco.add(dets, image_id)
        if save_txt:
            write_yolo_txt(dets, out / "labels" / f"{stem}.txt")

    images = [f for f in files if f.kind == "image"]
    bar = tqdm(total=len(images), desc="images", unit="img", disable=not progress or len(images) < 2)
    for chunk_start in range(0, len(images), detector.batch_size):
        chunk, arrays = [], []
        for f in images[chunk_start : chunk_start + detector.batch_size]:
            try:
                array = read_source_image(f)
            except ImageReadError as err:  # one bad file must not end the run: skip, warn, count
                _skip(summary, str(err))
                continue
            problem = region.size_problem(array.shape[:2]) if region is not None else None
            if problem:
                _skip(summary, f"{f.path}: {problem}")
                continue
            arrays.append(array)
            chunk.append(f)
        bar.update(len(images[chunk_start : chunk_start + detector.batch_size]) - len(chunk))
        if not chunk:
            continue
        results = detector.detect_arrays(arrays, [str(f.path) for f in chunk], cfg, region, tta_cfg)
        for f, array, dets in zip(chunk, arrays, results):
            name = names[f]
            emit(dets, array, name.stem, name.image_id)
            if save_images:
                write_image(dets.plot(array), out / name.image)
                summary.outputs.append(out / name.image)
        summary.images += len(chunk)
        bar.update(len(chunk))
    bar.close()

    for f in (f for f in files if f.kind == "video"):
        try:
            opened = open_video(f.url or f.path)
        except SourceError as err:
            if f.url:  # a stream or URL that does not answer is the user's to fix, like a missing file
                raise
            _skip(summary, str(err), video=True)  # a corrupt video file is skipped like an unreadable image
            continue
        problem = region.size_problem(opened[1].size[::-1]) if region is not None else None
        if problem:
            opened[0].release()
            _skip(summary, f"{f.path}: {problem}", video=True)
            continue
        summary.videos += 1
        summary.frames += _detect_video(detector, f, opened, out, names[f], cfg, region, tta_cfg, emit, save_images,
                                        progress, summary)
    if coco is not None:
        summary.json_path = coco.close()
    summary.seconds = time.perf_counter() - start
    return summary


def _skip(summary: DetectSummary, reason: str, video: bool = False) -> None:
    """Records an input left out ("file: reason") and warns; the run goes on."""
    summary.skipped.append(reason)
    summary.skipped_videos += video
    warnings.warn(f"skipped: {reason}", RuntimeWarning, stacklevel=3)


def coco_category_ids(detector: Detector) -> list[int]:
    """COCO category id per class index: the checkpoint's `category_ids` when it
    records them, else index + 1 — the ids `yolo3 convert --to coco` gives YOLO and VOC
    classes and `yolo3 val --save-json` scores with."""
    if detector.category_ids is not None:
        return list(detector.category_ids)
    return list(range(1, len(detector.class_names) + 1))


def _detect_video(
    detector: Detector, f: SourceFile, opened: tuple[Any, VideoInfo], out: Path, name: OutputName, cfg: NMSConfig,
    region: ROI | None, tta_cfg: TTAConfig | None, emit: Callable[..., None], save_images: bool, progress: bool,
    summary: DetectSummary,
) -> int:
    """Frames of one opened video through the detector in batches; returns the frame count."""
    capture, info = opened
    writer = VideoWriter(out / name.image, info.fps, info.size) if save_images else None
    bar = tqdm(total=info.frames or None, desc=f.path.name, unit="frame", disable=not progress)
    index = 0
    batch: list[Any] = []

    def flush() -> None:
        nonlocal index
        sources = [f"{f.path}#{index + i}" for i in range(len(batch))]
        for frame, dets in zip(batch, detector.detect_arrays(batch, sources, cfg, region, tta_cfg)):
            emit(dets, frame, f"{name.stem}_{index:06d}", f"{name.stem}_{index:06d}")
            if writer is not None:
                writer.write(dets.plot(frame))
            index += 1
        bar.update(len(batch))
        batch.clear()

    for frame in read_frames(capture):
        batch.append(frame)
        if len(batch) == detector.batch_size:
            flush()
    if batch:
        flush()
    bar.close()
    if writer is not None:
        writer.close()
        summary.outputs.append(writer.path)
    return index


def _video_name(name: str) -> str:
    """The annotated video's name: the input's, as `.mp4`."""
    path = PurePosixPath(name)
    return str(path.with_suffix(".mp4"))
