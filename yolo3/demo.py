"""The end-to-end demo (`make demo`, `yolo3 demo`): data → check → anchors → train →
evaluate → detect, all under one folder (default `runs/demo/`).

Without a dataset it writes the synthetic shapes dataset (SPEC §5.5) and trains a
width-0.5 yolov3-tiny at 256 px for a few minutes; with `data` (a YOLO data.yaml, a COCO
JSON, a Pascal VOC root, …) it does the same on that dataset. The held-back split (test
when the dataset has one, else val; without either, a seeded class-stratified share of
train, `split_ratio`, listed in `<out>/split.json` and reused by later runs) is used only
for the final evaluation and the annotated images; training validates on val (or trains
without validation).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from collections.abc import Collection
from pathlib import Path
from typing import Any

from yolo3.config import ModelConfig
from yolo3.data.augment.config import AugmentConfig
from yolo3.data.sample import Sample
from yolo3.losses.yolo_loss import LossConfig
from yolo3.train.auto import STATIC_DEMO, auto_config
from yolo3.train.config import AveragingConfig, OptimConfig, ScheduleConfig, TrainConfig

log = logging.getLogger("yolo3.demo")

SYNTH_SPLITS = {"n_train": 400, "n_val": 60, "n_test": 60}
"""Images per split of the demo's synthetic dataset (256×256 each)."""
SYNTH_IMGSZ = 256
DETECT_IMAGES = 12
"""How many held-back images get annotated copies in `detections/`."""
SYNTH_REFERENCE = ("0.893 mAP@0.5 (0.600 mAP@0.5:0.95), 5 minutes, 26 epochs at 384 px on an idle 2-core AMD EPYC "
                   "(2026-11-30, `make demo` on a fresh clone)")
"""What the default demo measured on its held-back images (benchmarks/RESULTS.md)."""


@dataclasses.dataclass
class DemoResult:
    """Where the demo wrote everything, and the held-back metrics.

    out: the demo folder; data: the dataset used; split: the held-back split evaluated;
    metrics: its metrics (contract 4 names); per_class_ap50: class → AP@0.5;
    weights: the checkpoint evaluated; eval_dir: summary.json and plots;
    detections_dir: annotated images; seconds: wall time per stage; synthetic: the
    demo's own dataset was used (the report then prints the reference number).
    """

    out: Path
    data: Path
    split: str
    metrics: dict[str, float]
    per_class_ap50: dict[str, float]
    weights: Path
    eval_dir: Path
    detections_dir: Path
    seconds: dict[str, float]
    synthetic: bool = False

    def report(self) -> str:
        """The lines the CLI prints: headline metrics and where the outputs are."""
        m = self.metrics
        per_class = ", ".join(f"{k} {v:.3f}" for k, v in self.per_class_ap50.items())
        stages = ", ".join(f"{k} {v:.0f} s" for k, v in self.seconds.items())
        return "\n".join([
            f"held-back '{self.split}' split of {self.data}:",
            f"  mAP@0.5 {m['mAP@0.5']:.3f}   mAP@0.5:0.95 {m['mAP@0.5:0.95']:.3f}",
            f"  AP@0.5 per class: {per_class}",
            *([f"  reference for the synthetic demo: {SYNTH_REFERENCE}"] if self.synthetic else []),
            f"time: {stages}",
            f"weights:      {self.weights}",
            f"metrics:      {self.out / 'metrics.json'}",
            f"eval + plots: {self.eval_dir}",
            f"detections:   {self.detections_dir}",
        ])


def demo_config(data: str, out: Path, imgsz: int, minutes: float, assign_mode: str = "v5") -> TrainConfig:
    """The demo's training recipe before the data is seen: yolov3-tiny ×0.5 width, Adam,
    cosine schedule fitted to `minutes` of wall time, light augmentation (half of the
    batches Mosaic), v5 assignment (3–9 positives per box: faster learning than paper's
    one; 0.63 vs 0.52 held-back mAP@0.5 in 5 minutes) with CIoU (paper's box loss: 0.743
    vs 0.805), Adam 0.003 (0.006: 0.769 vs 0.784), a short EMA (a run is ~1,000 updates:
    decay 0.995, a half-life of 138 updates, 0.829 and 0.806 vs 0.793 for 0.998), batch 8
    (16: 0.728 vs 0.793), no validation during training (NMS at conf 0.001 on an
    untrained model costs more than the epochs), RAM cache. The 2026-11-29 numbers are
    5-minute pairs on the demo's own data at 384 px (benchmarks/RESULTS.md, "The
    demo's recipe at 384 px"). `run_demo` then lets
    `yolo3.train.auto` choose the assignment, Mosaic, jitter strength, input size,
    anchors, warmup and EMA length from the training split and the budget (the decay
    0.995 and this jitter are what `--no-auto ema,augment` keeps)."""
    return TrainConfig(
        data=data,
        project=str(out),
        name="train",
        model=ModelConfig(arch="yolov3-tiny", width=0.5, imgsz=imgsz,
                          xy_mode="paper" if assign_mode == "paper" else "v5"),  # v5 and ATSS reach neighbour cells
        loss=LossConfig(assign_mode=assign_mode, box_loss="ciou", ignore_thresh=0.7),
        augment=AugmentConfig(mosaic=0.5, translate=0.1, scale=0.3, flip_lr=0.5),
        optim=OptimConfig(name="adam", lr0=0.003, weight_decay=5e-4),
        schedule=ScheduleConfig(kind="cosine", warmup_epochs=1.0, final_lr_ratio=0.05),
        averaging=AveragingConfig(ema=True, ema_decay=0.995, ema_tau=100.0),
        epochs=200,
        batch_size=8,
        nominal_batch_size=8,
        imgsz=imgsz,
        cache=True,
        workers=0,
        time_budget_minutes=minutes,
        val_interval=0,
        tensorboard=False,
    )


def prepare_demo_data(data: str | Path | None, out: Path, seed: int = 0) -> Path:
    """The dataset to use: `data` when given (must exist), else the synthetic one under
    `out/data` (written once, reused afterwards)."""
    if data is not None:
        path = Path(data)
        if not path.exists():
            raise FileNotFoundError(f"{path}: no such dataset; pass a data.yaml, a COCO .json or a Pascal VOC root")
        return path
    from yolo3.data.synth import write_synth_dataset

    path = out / "data" / "data.yaml"
    if not path.is_file():
        log.info("writing the synthetic dataset to %s", path.parent)
        write_synth_dataset(path.parent, imgsz=SYNTH_IMGSZ, seed=seed, **SYNTH_SPLITS)
    return path


def choose_held_back(splits: dict[str, list[Sample]], out: Path, split_ratio: float,
                     seed: int) -> tuple[list[Sample], list[Sample], list[Sample], str]:
    """(train, val for training, held-back, its name): the test split if any, else val,
    else `split_ratio` of train held back (yolo3.data.split; out/split.json written, or
    reused when it exists). Raises ValueError when there is nothing to hold back."""
    from yolo3.data.split import SPLIT_FILE, hold_back, save_split

    if splits.get("test"):
        return splits["train"], splits.get("val", []), splits["test"], "test"
    if splits.get("val"):
        return splits["train"], [], splits["val"], "val"
    if split_ratio <= 0:
        raise ValueError("the dataset has no 'val' or 'test' split to evaluate on held-back images; give one, or "
                         "--split-ratio 0.2 to hold back 20% of train")
    train, held, record = hold_back(splits["train"], split_ratio, seed, "val", out / SPLIT_FILE)
    save_split(out / SPLIT_FILE, record)
    log.info("no val/test split: %d of %d training images held back (ratio %g, seed %d, stratified by class), "
             "listed in %s", len(held), len(held) + len(train), record["ratio"], record["seed"], out / SPLIT_FILE)
    return train, [], held, f"val (held back from train, {out / SPLIT_FILE})"


def run_demo(
    data: str | Path | None = None,
    out: str | Path = "runs/demo",
    minutes: float = 5.0,
    imgsz: int | None = None,
    seed: int = 0,
    progress: bool = True,
    split_ratio: float = 0.2,
    static: Collection[str] = (),
) -> DemoResult:
    """Runs the whole pipeline and returns the held-back metrics and output paths.

    Args:
        data: the user's dataset; None = the synthetic shapes dataset (written first).
        out: folder for everything (data when synthetic, train/, eval/, detections/,
            metrics.json).
        minutes: wall-clock budget of training (the schedule is fitted to it).
        imgsz: network input size; default: chosen from the images and boxes
            (yolo3.train.auto.auto_imgsz; 384 for the synthetic data).
        split_ratio: share of train held back when the dataset has no val or test split
            (see choose_held_back); 0 = refuse such a dataset.
        static: settings of yolo3.train.auto.STATIC_DEMO (assign, mosaic, imgsz, warmup,
            ema, augment) taken from the static recipe of `demo_config` (v5, Mosaic 0.5, 256 px
            synthetic / 416 otherwise, 1 warmup epoch, EMA decay 0.995, its jitter) instead of chosen from the
            training split (yolo3.train.auto; the choices are in train.log). Anchors are
            fitted at the input size either way.
    """
    from yolo3.data.formats import load_dataset
    from yolo3.data.validate import CheckPolicy, check_dataset
    from yolo3.eval import evaluate
    from yolo3.inference.detector import Detector
    from yolo3.inference.run import detect_sources
    from yolo3.io.checkpoint import load_model
    from yolo3.train import train
    from yolo3.train.setup import TrainData, category_ids_to_record, training_targets

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    seconds: dict[str, float] = {}
    t = time.perf_counter()
    data_path = prepare_demo_data(data, out, seed)
    index = load_dataset(data_path)
    report = check_dataset(index, CheckPolicy())
    (out / "check_data.txt").write_text(report.format(max_per_kind=20) + "\n", encoding="utf-8")
    splits = {k: v for k, v in report.splits.items() if v}
    if not splits.get("train"):
        raise ValueError(f"{data_path}: no usable 'train' images after the data check (see {out / 'check_data.txt'})")
    try:
        train_samples, val, held, held_name = choose_held_back(splits, out, split_ratio, seed)
    except ValueError as err:
        raise ValueError(f"{data_path}: {err}") from err
    seconds["data"] = time.perf_counter() - t

    t = time.perf_counter()
    static_imgsz = imgsz or (SYNTH_IMGSZ if data is None else 416)
    cfg = dataclasses.replace(demo_config(str(data_path), out, static_imgsz, minutes), seed=seed, progress=progress)
    unknown = set(static) - set(STATIC_DEMO)
    if unknown:
        raise ValueError(f"static: unknown settings {sorted(unknown)}; the demo's static recipe sets {STATIC_DEMO}")
    train_samples, difficult_line = training_targets(train_samples, cfg.train_difficult)
    cfg, choices = auto_config(cfg, train_samples, keep={*static, *(("imgsz",) if imgsz else ())})
    head = (f"data: {index.format} {data_path}: train {len(train_samples)}, val {len(val)}, "
            f"held-back {held_name} {len(held)} images")
    summary = ([head] + ([difficult_line] if difficult_line else []) + [f"data check: {k}: {v}" for k, v in
               report.counts.items()] + [c.line() for c in choices])
    held_back = None
    if not val and held_name == "val":  # the dataset's own val split is the held-back one
        held_back = (f"the demo holds back the 'val' split of {data_path} for its final evaluation, so training "
                     "validates on nothing (a dataset with a 'test' split too keeps 'val' for training)")
    result = train(cfg, data=TrainData(train_samples, val, list(index.class_names), summary,
                                       category_ids=category_ids_to_record(index), no_val_reason=held_back))
    seconds["train"] = time.perf_counter() - t

    t = time.perf_counter()
    weights = result.best if result.best.is_file() else result.last
    model, _ = load_model(weights)
    eval_dir = out / "eval"
    evaluation = evaluate(model, held, list(index.class_names), cfg.imgsz, out_dir=eval_dir, plots=True,
                          run_info={"weights": str(weights), "dataset": str(data_path), "split": held_name})
    seconds["evaluate"] = time.perf_counter() - t

    t = time.perf_counter()
    detections_dir = out / "detections"
    # the model just trained, on torch: converting it for OpenVINO (`auto`) costs more than
    # annotating a few images saves, and keeps the demo to the engine it trained with
    detector = Detector.load(weights, backend="torch")
    detect_sources(detector, [s.image_path for s in held[:DETECT_IMAGES]], detections_dir, save_txt=False,
                   progress=False)
    seconds["detect"] = time.perf_counter() - t

    demo = DemoResult(out, data_path, held_name, {k: float(v) for k, v in evaluation.metrics.items()},
                      dict(evaluation.per_class_ap50), weights, eval_dir, detections_dir, seconds, data is None)
    _write_metrics(demo, result.epochs_done)
    return demo


def _write_metrics(demo: DemoResult, epochs: int) -> None:
    """metrics.json: the held-back metrics, per-class AP50, timings and paths."""
    payload: dict[str, Any] = {
        "data": str(demo.data), "split": demo.split, "weights": str(demo.weights), "epochs": epochs,
        "metrics": demo.metrics, "per_class_ap50": demo.per_class_ap50, "seconds": demo.seconds,
    }
    (demo.out / "metrics.json").write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
