"""`benchmark(weights, data)`: one table of backend × precision — speed, mAP, file size (SPEC §8.8).

Every row is a `Detector` on the same weights: torch fp32/bf16, onnxruntime fp32 (an
.onnx written to a temporary folder), OpenVINO fp32/bf16 and int8 (an OpenVINO export,
int8 calibrated on the dataset's train images). Speed is end to end — read and decode
the image file, letterbox, model, decode, NMS, boxes in original pixels — as the
median of `rounds` calls, the rows interleaved call by call so that load on the machine
hits all rows alike: ms per image at batch 1, and images/s at batch `batch`. mAP is
measured on the `split` with the evaluation settings of `yolo3 val`.
"""

from __future__ import annotations

import dataclasses
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Sequence

from yolo3.inference.choose import model_kind
from yolo3.inference.detector import Detector
from yolo3.inference.openvino_backend import openvino_available


@dataclasses.dataclass
class BenchRow:
    """One backend × precision: ms/image (batch 1), images/s (batch B), mAP in points (None:
    not measured, or undefined on a split without ground truth), size in MB."""

    backend: str
    precision: str
    ms_per_image: float
    images_per_s: float
    map50: float | None
    map: float | None
    file_mb: float
    source: str


@dataclasses.dataclass
class BenchTable:
    """The benchmark's rows and the conditions they were measured under."""

    rows: list[BenchRow]
    imgsz: int
    batch: int
    threads: int
    rounds: int
    val_images: int
    skipped: list[str] = dataclasses.field(default_factory=list)

    def format(self) -> str:
        """A markdown table (the same columns as benchmarks/RESULTS.md)."""
        head = (f"| backend | precision | ms/image (batch 1) | images/s (batch {self.batch}) | mAP@0.5 | "
                "mAP@0.5:0.95 | file MB |\n|---|---|---|---|---|---|---|")

        def pct(v: float | None) -> str:
            return "—" if v is None else f"{v:.2f}"

        lines = [head] + [f"| {r.backend} | {r.precision} | {r.ms_per_image:.1f} | {r.images_per_s:.1f} | "
                          f"{pct(r.map50)} | {pct(r.map)} | {r.file_mb:.1f} |" for r in self.rows]
        measured = f"mAP on {self.val_images} images" if self.val_images else "mAP not measured (no data)"
        lines.append(f"\nimgsz {self.imgsz}, {self.threads} threads, median of {self.rounds} interleaved calls; "
                     f"{measured}")
        lines += [f"skipped: {s}" for s in self.skipped]
        return "\n".join(lines)


def _size_mb(path: Path) -> float:
    """Size of a model file; an OpenVINO model counts its .xml and .bin."""
    if path.suffix == ".xml":
        return (path.stat().st_size + path.with_suffix(".bin").stat().st_size) / 1e6
    if path.is_dir():
        return sum(f.stat().st_size for f in path.iterdir() if f.is_file()) / 1e6
    return path.stat().st_size / 1e6


def _points(value: float) -> float | None:
    """A metric in points; None (printed —) where it is undefined (-1: no ground truth)."""
    return None if value < 0 else 100 * value


def _variants(weights: Path, data: str | Path | None, tmp: Path, imgsz: int | None, int8: bool, calib_images: int,
              log: Callable[[str], None]) -> tuple[list[tuple[str, str, Path]], list[str]]:
    """(backend, precision, file) rows this weights file can produce here, and why others are skipped."""
    from yolo3.export.from_checkpoint import export_checkpoint
    from yolo3.export.quantize import QuantizeConfig

    kind = model_kind(weights)
    ov_ok, why = openvino_available()
    rows: list[tuple[str, str, Path]] = []
    skipped: list[str] = [] if ov_ok else [f"openvino rows: {why}"]
    if kind == "checkpoint":
        rows += [("torch", "fp32", weights), ("torch", "bf16", weights)]
        rows.append(("onnxruntime", "fp32", export_checkpoint(weights, "onnx", tmp / "model.onnx", imgsz)))
        if ov_ok:
            xml = export_checkpoint(weights, "openvino", tmp / "ov_fp32", imgsz)
            rows += [("openvino", "fp32", xml), ("openvino", "bf16", xml)]
            if int8 and data is not None:
                log(f"benchmark: quantising to int8 ({calib_images} calibration images)")
                rows.append(("openvino", "int8", export_checkpoint(
                    weights, "openvino", tmp / "ov_int8", imgsz, precision="int8",
                    quantize=QuantizeConfig(data, calib_images, val_split=None))))
            elif int8:
                skipped.append("openvino int8: needs --data to calibrate on")
    elif kind == "onnx":
        rows.append(("onnxruntime", "fp32", weights))
        if ov_ok:
            rows += [("openvino", "fp32", weights), ("openvino", "bf16", weights)]
    else:
        if not ov_ok:
            raise ValueError(f"{weights} is an OpenVINO model and {why}")
        from yolo3.inference.openvino_backend import read_openvino

        quantised = read_openvino(weights)[1].get("export", {}).get("precision") == "int8"
        rows += [("openvino", "int8", weights)] if quantised else [("openvino", p, weights) for p in ("fp32", "bf16")]
    return rows, skipped


def benchmark(
    weights: str | Path,
    data: str | Path | None = None,
    imgsz: int | None = None,
    batch: int = 8,
    rounds: int = 10,
    threads: int | None = None,
    split: str = "val",
    int8: bool = True,
    calib_images: int = 300,
    max_val_images: int | None = None,
    rows: Sequence[tuple[str, str]] | None = None,
    log: Callable[[str], None] = lambda _: None,
) -> BenchTable:
    """Measures every backend × precision available for `weights` on this machine.

    Args:
        data: dataset for the timing images and mAP (its `split`) and int8 calibration
            (train images); None times a synthetic image and skips mAP and int8.
        rows: only these (backend, precision) pairs (default: all available).
        max_val_images: cap on the images mAP is measured on (None: the whole split).
    """
    import numpy as np

    from yolo3.eval.detector_eval import evaluate_detector
    from yolo3.inference.fast import configure_threads

    weights = Path(weights)
    n_threads = configure_threads(threads)
    samples, class_names = [], None
    if data is not None:
        from yolo3.data.formats import load_dataset

        index = load_dataset(data)
        samples = list(index.splits.get(split) or [])[: max_val_images or None]
        class_names = index.class_names
        if not samples:  # before any export; val's wording
            have = sorted(k for k, v in index.splits.items() if v)
            raise ValueError(f"{data}: no '{split}' split (it has {have}); choose one with --split")
    with tempfile.TemporaryDirectory(prefix="yolo3-bench-") as tmp:
        variants, skipped = _variants(weights, data, Path(tmp), imgsz, int8, calib_images, log)
        if rows is not None:
            variants = [v for v in variants if (v[0], v[1]) in set(rows)]
        detectors = [Detector.load(path, precision=precision, backend=backend, threads=n_threads, imgsz=imgsz,
                                   batch_size=batch) for backend, precision, path in variants]
        if samples and detectors:  # as val scores it: the model's class order, classes checked, check-data
            from yolo3.data.validate import CheckPolicy
            from yolo3.eval.val import load_eval_split

            policy = CheckPolicy()
            index, report = load_eval_split(weights, detectors[0].class_names, data, split, policy, max_val_images)
            samples, class_names = report.splits[split], index.class_names
        if samples:
            images: list[Any] = [str(s.image_path) for s in samples]
        else:
            image = Path(tmp) / "synthetic.png"
            import cv2

            cv2.imwrite(str(image), np.random.default_rng(0).integers(0, 256, (480, 640, 3), dtype=np.uint8))
            images = [str(image)]
        group = [images[i % len(images)] for i in range(batch)]
        one: list[list[float]] = [[] for _ in detectors]
        many: list[list[float]] = [[] for _ in detectors]
        for r in range(rounds + 2):  # 2 warm-up rounds, then interleaved timing
            for k, det in enumerate(detectors):
                t0 = time.perf_counter()
                det(images[r % len(images)])
                t1 = time.perf_counter()
                det(group)
                t2 = time.perf_counter()
                if r >= 2:
                    one[k].append(t1 - t0)
                    many[k].append(t2 - t1)
        table_rows = []
        for (backend, precision, path), det, t1s, t8s in zip(variants, detectors, one, many):
            m50 = m = None
            if samples:
                log(f"benchmark: mAP of {backend} {precision} on {len(samples)} '{split}' images")
                metrics = evaluate_detector(det, samples, class_names).metrics
                m50, m = _points(metrics["mAP@0.5"]), _points(metrics["mAP@0.5:0.95"])
            table_rows.append(BenchRow(backend, precision, 1e3 * statistics.median(t1s),
                                       batch / statistics.median(t8s), m50, m, _size_mb(path), str(path)))
    return BenchTable(table_rows, detectors[0].imgsz if detectors else (imgsz or 0), batch, n_threads, rounds,
                      len(samples), skipped)
