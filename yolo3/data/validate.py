"""check-data: validate a dataset before training, with an explicit policy per problem.

Each kind of problem has a policy: 'fix' (repair it: clip a box, drop a duplicate,
trust the file's size, convert to RGB), 'skip' (leave the box/image out), 'warn'
(report it, keep the data as is) or 'stop' (raise DataCheckError after the whole report
is built). Every finding lands in the report with its file and position, and is counted;
nothing is dropped silently. The cleaned splits are what training should use.
"""

from __future__ import annotations

import dataclasses
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from yolo3.config import ConfigError
from yolo3.data import check_boxes as cb
from yolo3.data.check_image import ImageInspection, inspect_image
from yolo3.data.findings import DataError, Finding
from yolo3.data.image_io import MAX_PIXELS
from yolo3.data.formats import DatasetIndex
from yolo3.data.sample import Sample

# kind → policies it accepts (the first is the default in CheckPolicy).
ALLOWED: dict[str, tuple[str, ...]] = {
    "unreadable": ("skip", "stop"),
    "too_large": ("skip", "stop"),
    "truncated_image": ("skip", "warn", "stop"),
    "tiny_image": ("warn", "skip", "stop"),
    "non_rgb": ("fix", "skip", "stop"),
    "exif_orientation": ("fix", "skip", "stop"),
    "exif_frame": ("skip", "warn", "stop"),
    "multi_frame": ("warn", "skip", "stop"),
    "wrong_extension": ("fix", "skip", "stop"),
    "size_mismatch": ("fix", "skip", "stop"),
    "duplicate_image": ("warn", "skip", "stop"),
    "no_labels": ("warn", "skip", "stop"),
    "missing_label_file": ("warn", "skip", "stop"),
    "bad_annotation": ("skip", "stop"),
    "duplicate_id": ("skip", "stop"),
    "duplicate_file_name": ("fix", "stop"),
    "bad_label": ("skip", "stop"),
    "polygon_label": ("fix", "stop"),
    "unknown_class": ("skip", "stop"),
    "out_of_bounds": ("fix", "skip", "stop"),
    "degenerate_box": ("skip", "fix", "stop"),
    "duplicate_box": ("fix", "warn", "stop"),
    "near_duplicate_box": ("warn", "fix", "stop"),
    "dense_boxes": ("skip", "warn", "stop"),
}
_ACTION = {"fix": "fixed", "skip": "skipped", "warn": "kept", "stop": "stopped"}


class DataCheckError(DataError):
    """Raised when a finding's policy is 'stop'; carries the report."""

    def __init__(self, message: str, report: "CheckReport") -> None:
        super().__init__(message)
        self.report = report


@dataclasses.dataclass
class CheckPolicy:
    """What to do with each kind of problem (see ALLOWED), and the thresholds.

    degenerate_box 'fix' swaps inverted corners (x2 < x1) and drops zero-size boxes;
    duplicate_box 'fix' drops the later of two same-class boxes with IoU > duplicate_iou;
    near_duplicate_box covers near_duplicate_iou < IoU ≤ duplicate_iou (likely double labels);
    each box is reported once, against the kept earlier box it overlaps most.
    bad_label also covers boxes that are not finite once scaled to the image (never
    clipped into a full-image box). exif_frame: an image with EXIF orientation whose
    annotation size fits both the stored and the displayed frame, so the boxes' frame is
    unknown ('warn' keeps them as displayed). multi_frame: GIF/TIFF with several frames
    (the first is used). dense_boxes: an image whose boxes overlap too densely for the
    duplicate search (more than max_iou_pairs IoUs to compute); 'warn' keeps them unchecked.
    polygon_label: YOLO segmentation-polygon lines, read as the box of their points ('fix';
    'stop' refuses a dataset that has them).
    """

    unreadable: str = "skip"
    too_large: str = "skip"
    truncated_image: str = "skip"
    tiny_image: str = "warn"
    non_rgb: str = "fix"
    exif_orientation: str = "fix"
    exif_frame: str = "skip"
    multi_frame: str = "warn"
    wrong_extension: str = "fix"
    size_mismatch: str = "fix"
    duplicate_image: str = "warn"
    no_labels: str = "warn"
    missing_label_file: str = "warn"
    bad_annotation: str = "skip"
    duplicate_id: str = "skip"
    duplicate_file_name: str = "fix"
    bad_label: str = "skip"
    polygon_label: str = "fix"
    unknown_class: str = "skip"
    out_of_bounds: str = "fix"
    degenerate_box: str = "skip"
    duplicate_box: str = "fix"
    near_duplicate_box: str = "warn"
    dense_boxes: str = "skip"
    duplicate_iou: float = 0.95
    near_duplicate_iou: float = 0.8
    max_pixels: int = MAX_PIXELS
    max_iou_pairs: int = cb.MAX_CANDIDATE_PAIRS
    min_image_side: int = 8
    decode_images: bool = True
    workers: int = 2

    def __post_init__(self) -> None:
        for kind, allowed in ALLOWED.items():
            if getattr(self, kind) not in allowed:
                raise ConfigError(f"check policy {kind}={getattr(self, kind)!r}: choose one of {list(allowed)}")
        if not 0 < self.near_duplicate_iou <= self.duplicate_iou <= 1:
            raise ConfigError("check policy: need 0 < near_duplicate_iou <= duplicate_iou <= 1")


@dataclasses.dataclass
class CheckReport:
    """Findings (in dataset order), counts per kind, and the cleaned splits."""

    findings: list[Finding]
    counts: dict[str, int]
    splits: dict[str, list[Sample]]
    class_names: list[str]
    images_checked: int = 0
    boxes_checked: int = 0

    @property
    def stopped(self) -> list[Finding]:
        return [f for f in self.findings if f.action == "stopped"]

    def summary(self) -> dict[str, int]:
        """Counts for a training log: images/boxes checked and kept, and each kind found."""
        kept = {f"images_kept/{k}": len(v) for k, v in self.splits.items()}
        return {"images_checked": self.images_checked, "boxes_checked": self.boxes_checked, **kept, **self.counts}

    def format(self, max_per_kind: int | None = None) -> str:
        """Readable report: one line per finding ('file:position: kind: message [action]'), then totals."""
        lines = [f"checked {self.images_checked} images, {self.boxes_checked} boxes; "
                 + ", ".join(f"{k}: {len(v)} images kept" for k, v in self.splits.items())]
        for kind in ALLOWED:
            found = [f for f in self.findings if f.kind == kind]
            if not found:
                continue
            lines.append(f"\n{kind} ({sum(f.count for f in found)}, {found[0].action}):")
            shown = found if max_per_kind is None else found[:max_per_kind]
            lines += [f"  {f.format()}" for f in shown]
            if len(shown) < len(found):
                lines.append(f"  … and {len(found) - len(shown)} more")
        lines.append("\n" + ("no problems found" if not self.counts else
                             "totals: " + ", ".join(f"{k}={v}" for k, v in self.counts.items())))
        return "\n".join(lines)


def _record(findings: list[Finding], policy: CheckPolicy, kind: str, file: Path | str, position: str,
            message: str, count: int = 1) -> str:
    """Appends a finding with the action its policy takes; returns the policy."""
    rule = getattr(policy, kind)
    findings.append(Finding(kind, file, position, message, _ACTION[rule], count))
    return rule


MAX_LISTED = 1000
"""Duplicate boxes listed one by one per image and kind; the rest is one counted line
(a label file with a million copied lines must not make a million report lines)."""


def _at(image: str, position: str) -> str:
    """A finding's position on an image of a shared annotation file ("b.jpg (image id 7), size");
    `position` alone for a file of one image (image == "")."""
    return ", ".join(p for p in (image, position) if p)


def _check_boxes(sample: Sample, size: tuple[int, int], policy: CheckPolicy,
                 findings: list[Finding], image: str = "") -> Sample | None:
    """Box-level checks on one sample; returns the cleaned sample (a new object), or None
    when the image is left out (dense_boxes=skip). image: see _check_sample."""
    boxes, ids = sample.boxes.copy(), sample.class_ids.copy()
    keep = np.ones(len(boxes), bool)
    positions = sample.box_positions()
    file = sample.annotation_path or sample.image_path
    h, w = size
    for i in np.flatnonzero(~np.isfinite(boxes).all(1)):  # e.g. 1e308 in a label, times the image width
        _record(findings, policy, "bad_label", file, positions[i],
                f"box {boxes[i].tolist()} is not finite in the {w}x{h} image (coordinates too large); "
                "a bad label, not clipped")
        keep[i] = False
    for i in np.flatnonzero(keep & cb.degenerate(boxes)):
        b = boxes[i]
        inverted = b[2] < b[0] or b[3] < b[1]
        rule = _record(findings, policy, "degenerate_box", file, positions[i],
                       f"{'inverted' if inverted else 'zero-size'} box [{b[0]:g}, {b[1]:g}, {b[2]:g}, {b[3]:g}]")
        if rule == "fix" and inverted:
            boxes[i] = [min(b[0], b[2]), min(b[1], b[3]), max(b[0], b[2]), max(b[1], b[3])]
        keep[i] = bool(rule == "fix" and not cb.degenerate(boxes[i : i + 1])[0])
    for i in np.flatnonzero(keep & cb.out_of_bounds(boxes, size)):
        b = boxes[i]
        clipped = cb.clip(boxes[i : i + 1], size)
        gone = bool(cb.degenerate(clipped)[0])
        msg = f"box [{b[0]:g}, {b[1]:g}, {b[2]:g}, {b[3]:g}] outside the {w}x{h} image" + (
            "; nothing left inside, dropped" if gone else "")
        rule = _record(findings, policy, "out_of_bounds", file, positions[i], msg)
        if rule == "fix" and not gone:
            boxes[i] = clipped[0]
        else:
            keep[i] = False
    idx = np.flatnonzero(keep)
    try:
        later, earlier, iou = cb.greedy_duplicates(boxes[idx], ids[idx], policy.near_duplicate_iou,
                                                   policy.duplicate_iou, policy.near_duplicate_box == "fix",
                                                   policy.duplicate_box == "fix", policy.max_iou_pairs)
    except cb.TooManyOverlaps as err:
        rule = _record(findings, policy, "dense_boxes", file, _at(image, ""), f"{err}; duplicates not checked")
        if rule == "skip":
            return None
        later = earlier = iou = np.zeros(0, np.int64)
    later, earlier = idx[later], idx[earlier]
    exact = iou > policy.duplicate_iou
    for kind, mask in (("duplicate_box", exact), ("near_duplicate_box", ~exact)):
        rows = np.flatnonzero(mask)
        for m in rows[:MAX_LISTED]:
            _record(findings, policy, kind, file, positions[later[m]],
                    f"same class as {positions[earlier[m]]} with IoU {iou[m]:.3f}")
        if len(rows) > MAX_LISTED:
            rest = len(rows) - MAX_LISTED
            _record(findings, policy, kind, file, _at(image, ""), f"… and {rest} more boxes in this file, each the "
                    f"same class as an earlier box with IoU in ({iou[rows].min():.3f}, {iou[rows].max():.3f})", rest)
        if getattr(policy, kind) == "fix":
            keep[later[rows]] = False
    return dataclasses.replace(sample, boxes=boxes[keep], class_ids=ids[keep], difficult=sample.difficult[keep],
                               truncated=sample.truncated[keep], crowd=sample.crowd[keep],
                               areas=None if sample.areas is None else sample.areas[keep], image_size=size,
                               positions=[p for p, k in zip(positions, keep) if k])


def _exif_frame(sample: Sample, info: ImageInspection, policy: CheckPolicy,
                findings: list[Finding], image: str = "") -> Sample | None:
    """Puts the boxes of an EXIF-rotated image in its displayed frame, judging the frame
    from the annotation's size: the displayed size → as they are; the stored size → mapped
    (exif_orientation policy); both (180° turns, mirrors, square images) or neither (a
    0x0 size) → unknown (exif_frame policy; size_mismatch then uses the file's size).
    None: leave the image out."""
    stated, shown, stored = tuple(sample.image_size), info.size, info.stored_size
    file = sample.annotation_path or sample.image_path
    o = info.orientation
    (sh, sw), (dh, dw) = stored, shown
    if stated == shown and stated != stored:
        return sample
    if stated == stored and stated != shown:
        rule = _record(findings, policy, "exif_orientation", file, _at(image, "size"),
                       f"the annotation's size {sw}x{sh} is the stored frame of an image shown {dw}x{dh} (EXIF "
                       f"orientation {o}); its {len(sample)} boxes are mapped to the displayed frame")
        if rule == "skip":
            return None
        return dataclasses.replace(sample, boxes=cb.exif_to_displayed(sample.boxes, stored, o), image_size=shown)
    if stated == stored == shown:
        why = (f"EXIF orientation {o} shows the {sw}x{sh} image turned or mirrored at the same size, so the "
               "annotation cannot tell")
    else:
        why = (f"the annotation's size {stated[1]}x{stated[0]} is neither the stored {sw}x{sh} nor the displayed "
               f"{dw}x{dh} frame of this image with EXIF orientation {o}, so it cannot tell")
    rule = _record(findings, policy, "exif_frame", file, _at(image, "size"),
                   f"{why} whether its boxes are in the stored or the displayed frame; check one image, then fix the "
                   "labels or keep them as displayed (--policy exif_frame=warn)")
    return None if rule == "skip" else sample


def _check_sample(sample: Sample, info: ImageInspection, policy: CheckPolicy,
                  findings: list[Finding], image: str = "") -> Sample | None:
    """Image- and box-level checks of one sample; None when the image is left out.

    image: how findings on the annotation file name this image when that file annotates
    several (a COCO JSON, a CVAT XML); "" for a file of its own (YOLO txt, VOC XML)."""
    skip = False
    for kind, message in info.problems:
        skip |= _record(findings, policy, kind, sample.image_path, "", message) == "skip"
    if info.size is None or skip:
        return None
    if sample.image_size is not None and info.orientation in range(2, 9) and len(sample):
        sample = _exif_frame(sample, info, policy, findings, image)
        if sample is None:
            return None
    if sample.image_size is not None and tuple(sample.image_size) != info.size:
        (ah, aw), (h, w) = sample.image_size, info.size
        rule = _record(findings, policy, "size_mismatch", sample.annotation_path or sample.image_path,
                       _at(image, "size"),
                       f"annotation says {aw}x{ah} but the image is {w}x{h}; the file's size is used")
        if rule == "skip":
            return None
    cleaned = _check_boxes(sample, info.size, policy, findings, image)
    if cleaned is None:
        return None
    if len(cleaned) == 0:
        if _record(findings, policy, "no_labels", sample.annotation_path or sample.image_path, _at(image, ""),
                   "no boxes (a background-only image)") == "skip":
            return None
    return cleaned


def _box_set(sample: Sample) -> np.ndarray:
    """(N, 5) rows [class, x1, y1, x2, y2] in a canonical order, to compare two annotations."""
    rows = np.column_stack([sample.class_ids.astype(np.float64), sample.boxes])
    return rows[np.lexsort(rows.T[::-1])] if len(rows) else rows


def duplicate_message(first: Sample, again: Sample, split_of: dict[int, str]) -> str:
    """The duplicate_image message for byte-identical files (same content hash).

    Across splits it names the leak ("same image in train and test": the held-out
    number then measures memory, not generalisation); it says whether the two copies'
    boxes differ (conflicting labels) or agree.
    """
    a, b = split_of.get(id(first), "?"), split_of.get(id(again), "?")
    leak = f"same image in {a} and {b} (leakage between splits): " if a != b else ""
    boxes_a, boxes_b = _box_set(first), _box_set(again)
    same = boxes_a.shape == boxes_b.shape and np.array_equal(boxes_a, boxes_b)
    boxes = ("same boxes" if same else
             f"the boxes differ: {len(again)} box(es) here, {len(first)} there")
    return f"{leak}same bytes as {first.image_path}; {boxes}"


def check_dataset(index: DatasetIndex, policy: CheckPolicy | None = None) -> CheckReport:
    """Checks every image and box of `index`; returns the report with cleaned splits.

    Raises DataCheckError (with the report) when any finding's policy is 'stop', and
    DataError when nothing usable is left.
    """
    policy = policy or CheckPolicy()
    findings: list[Finding] = []
    for f in index.findings:  # problems the reader met; the item is already left out
        findings.append(dataclasses.replace(f, action=_ACTION[getattr(policy, f.kind)]))
    missing = {str(f.file) for f in index.findings if f.kind == "missing_label_file"}
    samples = index.all_samples()
    with ThreadPoolExecutor(max(1, policy.workers)) as pool:  # decoding releases the GIL
        infos = list(pool.map(lambda s: inspect_image(s.image_path, policy.max_pixels, policy.min_image_side,
                                                      policy.decode_images), samples))
    first_seen: dict[str, Sample] = {}
    split_of = {id(s): split for split, v in index.splits.items() for s in v}
    cleaned_by_id: dict[int, Sample | None] = {}
    per_file: dict[Path, int] = {}
    for s in samples:
        if s.annotation_path is not None:
            per_file[s.annotation_path] = per_file.get(s.annotation_path, 0) + 1
    for sample, info in zip(samples, infos):
        if policy.missing_label_file == "skip" and str(sample.annotation_path) in missing:
            cleaned_by_id[id(sample)] = None
            continue
        if info.digest and info.digest in first_seen:
            rule = _record(findings, policy, "duplicate_image", sample.image_path, "",
                           duplicate_message(first_seen[info.digest], sample, split_of))
            if rule == "skip":
                cleaned_by_id[id(sample)] = None
                continue
        elif info.digest:
            first_seen[info.digest] = sample
        shared = sample.annotation_path is not None and per_file[sample.annotation_path] > 1
        image = f"{sample.image_path.name} (image id {sample.image_id})" if shared else ""
        cleaned_by_id[id(sample)] = _check_sample(sample, info, policy, findings, image)
    splits = {k: [c for s in v if (c := cleaned_by_id[id(s)]) is not None] for k, v in index.splits.items()}
    counts: dict[str, int] = {}
    for f in findings:
        counts[f.kind] = counts.get(f.kind, 0) + f.count
    report = CheckReport(findings, counts, splits, list(index.class_names), len(samples),
                         sum(len(s) for s in samples))
    if report.stopped:
        raise DataCheckError(f"{index.root}: data check stopped on {len(report.stopped)} finding(s) whose policy "
                             "is 'stop':\n" + "\n".join(f"  {f.format()}" for f in report.stopped[:20])
                             + "\nfix the data or change the policy (fix/skip/warn)", report)
    if not any(splits.values()):
        raise DataError(f"{index.root}: no usable images left after the data check:\n{report.format(5)}")
    return report
