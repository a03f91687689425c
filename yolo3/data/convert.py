"""Dataset conversion (read one format, write another) and check-data's entry point.

A conversion never touches its source: an output folder that is, lies inside, or holds
any folder the source reads from is refused before anything is written (a copy onto
itself deletes the image, a link onto itself loops), and an output that already holds
files needs force=True. A new (or empty) output is written in a hidden sibling folder
and renamed into place at the end, so a failure half-way leaves no half-written output.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import tempfile
from pathlib import Path
from typing import NamedTuple

from yolo3.data.findings import DataError
from yolo3.data.formats import DatasetIndex, detect_format, load_dataset, save_dataset
from yolo3.data.validate import CheckPolicy, CheckReport, check_dataset


@dataclasses.dataclass(frozen=True)
class SplitSummary:
    """What a conversion wrote for one split: images, boxes, and boxes per class name
    (classes without boxes left out)."""

    images: int
    boxes: int
    per_class: dict[str, int]

    def format(self, split: str) -> str:
        classes = ", ".join(f"{n} {c}" for n, c in self.per_class.items())
        return f"{split}: {self.images} images, {self.boxes} boxes" + (f" ({classes})" if classes else "")


class ConvertResult(NamedTuple):
    """path: what load_dataset reads back; notes: information the target format cannot
    hold; written: per split, what was written."""

    path: Path
    notes: list[str]
    written: dict[str, SplitSummary]


def summarize(index: DatasetIndex) -> dict[str, SplitSummary]:
    """Images, boxes and boxes per class of every split of `index`."""
    out = {}
    for split, samples in index.splits.items():
        counts = [0] * len(index.class_names)
        for s in samples:
            for c in s.class_ids:
                counts[int(c)] += 1
        out[split] = SplitSummary(len(samples), sum(counts),
                                  {n: c for n, c in zip(index.class_names, counts) if c})
    return out


def _overlaps(a: Path, b: Path) -> bool:
    return a == b or a.is_relative_to(b) or b.is_relative_to(a)


def source_folders(src: str | Path, index: DatasetIndex) -> list[Path]:
    """Every folder (resolved) a dataset is read from: its root, the folder of `src`, and
    the folders of its image and annotation files."""
    src = Path(src)
    places = {src if src.is_dir() else src.parent, index.root}
    for s in index.all_samples():
        places.add(s.image_path.parent)
        if s.annotation_path is not None:
            places.add(s.annotation_path.parent)
    return sorted({p.resolve() for p in places})


def check_output(src: str | Path, index: DatasetIndex, out: str | Path, force: bool = False) -> None:
    """Raises DataError when `out` overlaps a source folder (equal, inside, or around it:
    writing there would overwrite, delete or self-link source files), when it is a file,
    or when it already holds files and force is False."""
    out = Path(out)
    target = out.resolve()  # follows a symlinked output to where it really writes
    for place in source_folders(src, index):
        if _overlaps(target, place):
            where = "is" if target == place else "is inside" if target.is_relative_to(place) else "contains"
            raise DataError(f"{out}: the output {where} the source folder {place}; converting there would "
                            "overwrite or self-link source files; choose an output folder outside the source")
    if out.exists() and not out.is_dir():
        raise DataError(f"{out}: the output exists and is not a folder; choose a folder")
    if out.is_dir() and any(out.iterdir()) and not force:
        raise DataError(f"{out}: the output folder is not empty; choose a new folder, or pass --force "
                        "(force=True) to write into it (files of the same name are replaced)")


def check_images_exist(src: str | Path, index: DatasetIndex) -> None:
    """Raises DataError naming the image files the annotations name but the disk lacks:
    copying one would fail half-way with a bare 'No such file', linking it would write a
    dangling link. Checked before anything is written."""
    missing = [s for s in index.all_samples() if not s.image_path.is_file()]
    if missing:
        first = missing[0]
        named = f" (named in {first.annotation_path})" if first.annotation_path else ""
        raise DataError(f"{src}: {len(missing)} image file(s) do not exist, e.g. {first.image_path}{named}; restore "
                        "them or remove them from the annotations (`yolo3 check-data` lists them as unreadable), "
                        "or convert with --images none to write the labels only; nothing was written")


def convert_dataset(src: str | Path, out: str | Path, to: str, source_format: str | None = None,
                    images: str = "copy", class_names: list[str] | None = None,
                    force: bool = False, allow_outside_root: bool = False) -> ConvertResult:
    """Converts a dataset to `to` ('yolo' | 'coco' | 'voc') under `out`.

    source_format, when given, must match what `src` is; allow_outside_root as in
    load_dataset. `out` must not overlap the
    source's folders, and must be new or empty unless force (see check_output). Images
    to copy or link must exist (check_images_exist).
    Returns ConvertResult(path to load the result from, notes about information the
    target format cannot hold, what was written per split).
    """
    found = detect_format(src)
    if source_format and source_format != found:
        raise DataError(f"{src}: looks like a {found} dataset, not {source_format}; fix --from")
    index = load_dataset(src, class_names, allow_outside_root)
    problems = [f for f in index.findings if f.kind != "polygon_label"]  # polygons are read as boxes
    if problems:
        raise DataError(f"{src}: {len(problems)} annotation problem(s), e.g. {problems[0].format()}; "
                        "run `yolo3 check-data` and fix them first, so the conversion loses nothing")
    if images != "none":
        check_images_exist(src, index)
    check_output(src, index, out, force)
    notes = []
    polygons = sum(f.count for f in index.findings if f.kind == "polygon_label")
    if polygons:
        notes.append(f"{polygons} YOLO segmentation polygon lines were read as their bounding boxes; the polygons "
                     "are not written")
    flagged = sum(int(s.difficult.sum() + s.truncated.sum()) for s in index.all_samples())
    if to == "yolo" and flagged:
        notes.append(f"YOLO labels have no difficult/truncated field: {flagged} flags are not written")
    n = len(index.class_names)
    if to != "coco" and index.category_ids != list(range(1, n + 1)):
        notes.append(f"{to} keeps no category ids: COCO category ids {index.category_ids} become classes "
                     f"0..{n - 1}, and a conversion back to COCO numbers them 1..{n}")
    return ConvertResult(_write(index, Path(out), to, images), notes, summarize(index))


def _write(index: DatasetIndex, out: Path, to: str, images: str) -> Path:
    """save_dataset, all or nothing when `out` is new or empty (see the module doc)."""
    if out.is_dir() and any(out.iterdir()):  # --force into a folder with files: written in place
        return save_dataset(index, out, to, images)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=out.parent))
    try:
        path = save_dataset(index, staging, to, images)
        probe = staging / ".mode"  # `out` gets the mode mkdir gives (the umask's), not mkdtemp's 0o700
        probe.mkdir()
        os.chmod(staging, probe.stat().st_mode & 0o777)
        probe.rmdir()
        if out.is_dir():
            out.rmdir()  # empty, checked above
        os.replace(staging, out)
    except BaseException as err:
        shutil.rmtree(staging, ignore_errors=True)
        if isinstance(err, OSError):  # disk full, ...: named with `out`, not the staging folder just removed
            reason = str(err).replace(str(staging), str(out))
            raise OSError(f"{out}: cannot write the conversion ({reason}); nothing was written (free some space, "
                          "or choose another output folder)") from err
        raise
    return out / path.relative_to(staging)


def check_data(path: str | Path, policy: CheckPolicy | None = None, allow_outside_root: bool = False) -> CheckReport:
    """Loads and checks a dataset (see validate.check_dataset)."""
    return check_dataset(load_dataset(path, allow_outside_root=allow_outside_root), policy)
