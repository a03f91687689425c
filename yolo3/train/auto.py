"""Training defaults chosen from the data (issue 18 part 2): one place for every rule.

`profile_data` measures what the rules look at in the training split; `auto_config`
applies the rules to a TrainConfig and returns each choice with its reason, for the
training log. Settings the user gave (`keep`) are never changed.

The rules, and the measurements behind them (benchmarks/RESULTS.md, "Defaults chosen
from the data"; 5-minute demos unless said otherwise):

- assignment: ATSS (k=9) when the training images hold >= CROWDED_BOXES_PER_IMAGE boxes
  on average, else v5; both with the v5 decode. BCCD (13.7 boxes/image): ATSS 0.855 vs
  v5 0.737 val mAP@0.5 (7-minute ablation); a crowded synthetic set (11.7/image): ATSS
  0.497 vs v5 0.291 with Mosaic, 0.570 vs 0.390 without; the sparse synthetic shapes
  (3.5/image): v5 0.733 vs ATSS 0.669.
- Mosaic: off when crowded, else on half of the batches. Crowded synthetic: off +0.07
  with ATSS, +0.10 with v5; BCCD: off +0.03 val mAP@0.5 with ATSS (7-minute ablation,
  after Mosaic's padding fix); sparse synthetic: off 0.31 vs 0.52.
- input size: the images' median long side rounded up to 32, raised (upscaling) until
  the 10th-percentile box side reaches MIN_BOX_INPUT_PX, within [128, 416]. BCCD (640
  px): 416 0.871 vs 320 0.851 held-back mAP@0.5, and 512 lost 0.07 val mAP@0.5 to 416
  (7-minute ablation); 256-px synthetic sets whose boxes are often under 16 px (10% under
  11 px): upscaled to 384 px +0.14 (crowded), to 416 px +0.06 (the demo's set) over
  256 px, with half the epochs (RESULTS.md, "Follow-up: upscaling small images");
  sparse shapes at 320 px: 320 0.681 vs 416 0.677 (a tie; the rule takes 416).
- anchors: k-means + genetic fit to the training boxes at the chosen input size (BCCD:
  mean best IoU 0.865 vs 0.692 for darknet's).
- warmup: at least MIN_WARMUP_UPDATES optimizer updates, in whole epochs (what both
  tuned recipes used: 1 epoch of 50 updates on the demo, 2 of 13 on BCCD), but at most
  MAX_WARMUP_SHARE of the configured epochs.
- augmentation strength: light jitter (LIGHT_AUGMENT: scale 0.1, translate 0.05, half the
  saturation and value jitter) when the run sees each image fewer than
  LIGHT_AUGMENT_MAX_PASSES times (`few_passes`). 5-minute demo pairs, light vs the demo's
  jitter (scale 0.3, translate 0.1, hsv 0.7/0.4): 1,600 synthetic images (4 epochs) 0.866
  vs 0.819 mAP@0.5 (seed 1: 0.874 vs 0.846), 400 (18 epochs) 0.840 vs 0.821 (seed 1:
  0.890 vs 0.841), BCCD's 205 (27 epochs) 0.892 vs 0.873; the demo's set in 12 minutes (43
  epochs) 0.939 vs 0.928 and in 15 (50 epochs) 0.941 vs 0.924; 100 images (65 epochs)
  0.648 vs 0.693 (and stronger jitter, scale 0.5, 0.665).
- EMA: a half-life of EMA_SHARE times the updates done so far, instead of a fixed decay
  (which averages a fixed number of updates: too few of a long run, too many of a short
  one). It ties the demo's tuned 0.995 at 5 minutes (0.835 vs 0.826; BCCD 0.868 vs
  0.870) and at 12 minutes (0.935 vs 0.931): adopted for needing no tuning per length.

All together, auto vs the static demo recipe (v5, Mosaic 0.5, 416 px for a user's
data): BCCD 0.873 vs 0.772 held-back mAP@0.5; crowded synthetic 0.570 vs 0.504; sparse
synthetic at 320 px 0.681 vs 0.677.

Not chosen from the data (kept from the config, said in the log): the model
(yolov3-tiny ×0.5 beat ×1.0 and a 3-scale yolov3 ×0.25 at equal time on BCCD in 7
minutes, and ×1.0 on the demo's set in 20 minutes: 0.938 vs 0.930 mAP@0.5, 66 vs 26
epochs; no budget on 2 CPU cores was found where a wider model wins), the optimizer and
LR, the batch size. The LR was measured against the number of updates and no rule
was found to fit: Adam lr0 0.003 beat 0.0015 at ~900 updates (the demo's set: 0.851 vs
0.813 mAP@0.5; BCCD: 0.899 vs 0.887) and at ~2,600 (15 minutes: 0.945 vs 0.932), and beat
or tied 0.006 (demo's set 0.784 vs 0.769; BCCD 0.895 vs 0.902 mAP@0.5, 0.543 vs 0.537
mAP@0.5:0.95); BCCD's 60-minute recipe (~7,000 updates) trains with it too. What the
number of updates changes is the schedule's length (the cosine spans the budget), the
warmup and the EMA, chosen above. Batch 16 lost to 8 on the demo's set (0.728 vs 0.793).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Collection, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from yolo3.data.sample import Sample
from yolo3.train.config import TrainConfig

if TYPE_CHECKING:
    from yolo3.assign.anchors import AnchorFit
    from yolo3.train.setup import TrainData

CROWDED_BOXES_PER_IMAGE = 8.0
"""Mean boxes per training image from which a dataset counts as crowded (BCCD: 13.7,
the crowded synthetic set: 11.7; the synthetic shapes: 3.2-3.5)."""
MAX_AUTO_IMGSZ = 416
MIN_AUTO_IMGSZ = 128
MIN_WARMUP_UPDATES = 20
MAX_WARMUP_SHARE = 0.1
"""Warmup never takes more than this share of the run's epochs (a 2-epoch run on a tiny
set would otherwise warm up for 20)."""
MIN_BOX_INPUT_PX = 16.0
"""The input size is raised until the 10th-percentile box side is this many pixels: one
cell of yolov3-tiny's finest stride (the measurements behind it trained yolov3-tiny)."""
SMALL_BOX_PX = 8.0
"""A box whose side at the input size is under this many pixels is half a cell of the
finest yolov3-tiny stride (16): the log warns when a tenth of the boxes are."""

EMA_SHARE = 0.12
"""The EMA's half-life as a share of the updates done so far (AveragingConfig.ema_share):
what both tuned recipes' fixed decays amount to at the end of their runs (the demo's 0.995
over ~1,000 updates: 0.14; BCCD's 0.999 over ~5,500: 0.13)."""

LIGHT_AUGMENT_MAX_PASSES = 55
"""A run that sees each training image fewer times than this gets LIGHT_AUGMENT: demos with
4, 18, 27 and 50 epochs gained 0.017-0.05 mAP@0.5 from it, one with 43 tied (+0.011), one
with 65 lost 0.045."""
LIGHT_AUGMENT_BUDGET_S_PER_IMAGE = 2.5
"""Under a time budget the epochs are not known before training: budget seconds per
training image stand in for them. Measured on 2 CPU cores with yolov3-tiny ×0.5 at 384-416
px: 0.19 s per image made 4 epochs, 0.75 s 18, 1.46 s 27, 1.8 s 43, 2.25 s 50, 3.0 s 65;
2.5 s is ~55. A faster device makes more epochs of the same budget (then `keep` "augment"
or give epochs)."""
LIGHT_AUGMENT = {"scale": 0.1, "translate": 0.05, "hsv_s": 0.35, "hsv_v": 0.2}
"""The light jitter (each a ceiling: a config already lighter keeps its value)."""

AUTO_SETTINGS = ("assign", "mosaic", "imgsz", "anchors", "warmup", "ema", "augment")
"""What `auto_config` may choose; pass names of these in `keep` to leave them alone."""
STATIC_DEMO = ("assign", "mosaic", "imgsz", "warmup", "ema", "augment")
"""What `yolo3 demo --no-auto` keeps from the static demo recipe (it still fits anchors)."""


@dataclasses.dataclass(frozen=True)
class DataProfile:
    """What the rules look at, measured on the training split.

    images: training images; boxes: their boxes; boxes_per_image: boxes / images.
    long_side: median of max(h, w) over the images (pixels).
    box_side_p10: 10th percentile of sqrt(w·h) of the boxes as a fraction of their
        image's long side (0 when there are no boxes).
    """

    images: int
    boxes: int
    boxes_per_image: float
    long_side: int
    box_side_p10: float

    @property
    def crowded(self) -> bool:
        return self.boxes_per_image >= CROWDED_BOXES_PER_IMAGE

    def line(self) -> str:
        return (f"{self.images} training images, {self.boxes} boxes ({self.boxes_per_image:.1f} per "
                f"image), median long side {self.long_side} px, 10% of boxes under {100 * self.box_side_p10:.1f}% "
                "of the long side")


@dataclasses.dataclass(frozen=True)
class Choice:
    """One setting chosen (or kept) and why, as the training log prints it."""

    setting: str
    value: Any
    reason: str

    def line(self) -> str:
        if self.value == "":
            return f"auto: {self.setting}: {self.reason}"
        return f"auto: {self.setting} = {self.value} ({self.reason})"


def profile_data(train: Sequence[Sample]) -> DataProfile:
    """Measures `train` for the rules; image sizes come from the annotation or the
    image header (no decoding)."""
    from yolo3.data.image_io import image_size

    sides, rel = [], []
    for s in train:
        h, w = s.image_size if s.image_size is not None else image_size(s.image_path)
        long_side = max(h, w)
        sides.append(long_side)
        if len(s.boxes):
            wh = np.clip(s.boxes[:, 2:] - s.boxes[:, :2], 0, None)
            rel.append(np.sqrt(wh[:, 0] * wh[:, 1]) / long_side)
    boxes = int(sum(len(s.boxes) for s in train))
    rel_all = np.concatenate(rel) if rel else np.zeros(0)
    return DataProfile(
        images=len(train),
        boxes=boxes,
        boxes_per_image=boxes / max(len(train), 1),
        long_side=int(np.median(sides)) if sides else 0,
        box_side_p10=float(np.percentile(rel_all, 10)) if rel_all.size else 0.0,
    )


def _round_up_32(pixels: float) -> int:
    return int(math.ceil(pixels / 32) * 32)


def _imgsz_for_boxes(profile: DataProfile) -> int:
    """The smallest multiple of 32 at which the 10th-percentile box side reaches
    MIN_BOX_INPUT_PX pixels (0 without boxes)."""
    return _round_up_32(MIN_BOX_INPUT_PX / profile.box_side_p10) if profile.box_side_p10 > 0 else 0


def auto_imgsz(profile: DataProfile) -> int:
    """The median long side rounded up to a multiple of 32, or more where needed for the
    10th-percentile box side to reach MIN_BOX_INPUT_PX pixels; within [128, 416]."""
    size = max(_round_up_32(profile.long_side), _imgsz_for_boxes(profile))
    return min(MAX_AUTO_IMGSZ, max(MIN_AUTO_IMGSZ, size))


def few_passes(cfg: TrainConfig, images: int) -> tuple[bool, str]:
    """Whether the run will see each of its `images` training images fewer than
    LIGHT_AUGMENT_MAX_PASSES times (its epochs; under a time budget that allows more epochs
    than that, the budget's seconds per image against LIGHT_AUGMENT_BUDGET_S_PER_IMAGE), and
    the reason in words."""
    if cfg.time_budget_minutes > 0 and cfg.epochs >= LIGHT_AUGMENT_MAX_PASSES:  # else the epochs decide
        per_image = cfg.time_budget_minutes * 60 / max(images, 1)
        few = per_image < LIGHT_AUGMENT_BUDGET_S_PER_IMAGE
        return few, (f"{cfg.time_budget_minutes:g} min for {images} images: {per_image:.2f} s per image "
                     f"{'<' if few else '>='} {LIGHT_AUGMENT_BUDGET_S_PER_IMAGE:g} (~{LIGHT_AUGMENT_MAX_PASSES} epochs "
                     "on 2 CPU cores)")
    few = cfg.epochs < LIGHT_AUGMENT_MAX_PASSES
    return few, f"{cfg.epochs} epochs {'<' if few else '>='} {LIGHT_AUGMENT_MAX_PASSES}"


def auto_config(cfg: TrainConfig, train: Sequence[Sample], keep: Collection[str] = (),
                seed: int | None = None) -> tuple[TrainConfig, list[Choice]]:
    """Applies the rules of this module to `cfg` for the training split `train`.

    keep: names from AUTO_SETTINGS the user gave (left as in `cfg`, said so).
    Returns the new config (its `imgsz` and `model.imgsz` agree, anchors are for that
    size) and the choices, profile first, in the order applied.
    """
    unknown = set(keep) - set(AUTO_SETTINGS)
    if unknown:
        raise ValueError(f"keep: unknown settings {sorted(unknown)}; auto chooses {AUTO_SETTINGS}")
    seed = cfg.seed if seed is None else seed
    profile = profile_data(train)
    choices = [Choice("data", "", profile.line())]
    model, loss, augment, schedule = cfg.model, cfg.loss, cfg.augment, cfg.schedule
    crowd = (f"{profile.boxes_per_image:.1f} boxes per image {'>=' if profile.crowded else '<'} "
             f"{CROWDED_BOXES_PER_IMAGE:g}")

    if "assign" in keep or model.xy_mode == "ltrb":
        why = "given, not chosen from the data" if "assign" in keep else "the anchor-free head trains with its ATSS"
        choices.append(Choice("assignment", loss.assign_mode, f"kept: {why}"))
    else:
        mode = "atss" if profile.crowded else "v5"
        why = ("crowded: ATSS picks positives by each box's own IoU statistics" if profile.crowded
               else "sparse: v5's 3-9 positives per box learn fastest")
        loss = dataclasses.replace(loss, assign_mode=mode, atss_topk=9)
        model = dataclasses.replace(model, xy_mode="v5")
        choices.append(Choice("assignment", f"{mode} (v5 decode)", f"{crowd}; {why}"))

    if augment is None:
        choices.append(Choice("mosaic", "off", "kept: augmentation is off"))
    elif "mosaic" in keep:
        choices.append(Choice("mosaic", augment.mosaic, "kept: given, not chosen from the data"))
    else:
        p = 0.0 if profile.crowded else 0.5
        augment = dataclasses.replace(augment, mosaic=p)
        why = ("crowded images need no more objects; Mosaic's quarter tiles shrink them" if profile.crowded
               else "sparse images: Mosaic adds objects and scale variety")
        choices.append(Choice("mosaic", p, f"{crowd}; {why}"))

    if augment is not None:
        if "augment" in keep:
            why = "kept: given, not chosen from the data"
        else:
            few, why = few_passes(cfg, profile.images)
            if few:
                augment = dataclasses.replace(augment, **{k: min(v, getattr(augment, k))
                                                          for k, v in LIGHT_AUGMENT.items()})
            why += ": each image is seen too few times for heavy jitter" if few else ": the config's jitter"
        jitter = ", ".join(f"{k} {getattr(augment, k):g}" for k in LIGHT_AUGMENT)
        choices.append(Choice("augment", jitter, why))

    imgsz = cfg.imgsz
    if "imgsz" in keep:
        choices.append(Choice("imgsz", imgsz, "kept: given, not chosen from the data"))
    else:
        imgsz = auto_imgsz(profile)
        native = _round_up_32(profile.long_side)
        why = f"median long side {profile.long_side} px, rounded up to 32"
        if imgsz > native and _imgsz_for_boxes(profile) > native:  # not just the MIN_AUTO_IMGSZ floor
            why += (f"; upscaled: 10% of boxes are under {profile.box_side_p10 * native:.1f} px at {native}, "
                    f"{profile.box_side_p10 * imgsz:.1f} px at {imgsz} (>= {MIN_BOX_INPUT_PX:g} px wanted)")
        choices.append(Choice("imgsz", imgsz, f"{why}; within [{MIN_AUTO_IMGSZ}, {MAX_AUTO_IMGSZ}]: larger inputs "
                              "cost epochs"))
    if profile.box_side_p10 * imgsz < SMALL_BOX_PX:
        choices.append(Choice("warning", "small objects",
                              f"10% of boxes are under {profile.box_side_p10 * imgsz:.1f} px at imgsz {imgsz} "
                              f"(< {SMALL_BOX_PX:g}): a larger --imgsz or a model with stride 8 may find them"))

    auto_anchor = cfg.auto_anchor
    if "anchors" in keep or model.xy_mode == "ltrb":
        why = "given, not chosen from the data" if "anchors" in keep else "anchor-free head"
        choices.append(Choice("anchors", "as configured", f"kept: {why}"))
    else:
        fit = _fit_anchors(train, imgsz, model.arch, seed)
        if fit is None:
            choices.append(Choice("anchors", "as configured", "too few boxes to fit them (auto-anchor checks them)"))
        else:
            model = dataclasses.replace(model, anchors=fit.per_scale, imgsz=imgsz)
            auto_anchor = False  # fitted just now
            choices.append(Choice("anchors", "fitted", f"k-means + genetic at imgsz {imgsz}: {fit.final}"))

    updates = max(1, math.ceil(math.ceil(len(train) / cfg.batch_size) / cfg.accumulate()))
    if "warmup" in keep:
        choices.append(Choice("warmup", f"{schedule.warmup_epochs:g} epochs", "kept: given, not chosen from the data"))
    else:
        epochs = float(max(1, math.ceil(MIN_WARMUP_UPDATES / updates)))
        why = f"{updates} updates per epoch: at least {MIN_WARMUP_UPDATES} updates"
        if epochs > MAX_WARMUP_SHARE * cfg.epochs:
            epochs = round(MAX_WARMUP_SHARE * cfg.epochs, 2)
            why += f", but at most {MAX_WARMUP_SHARE:.0%} of the {cfg.epochs} epochs"
        schedule = dataclasses.replace(schedule, warmup_epochs=epochs)
        choices.append(Choice("warmup", f"{epochs:g} epochs", why))

    averaging = cfg.averaging
    if not averaging.ema:
        choices.append(Choice("ema", "off", "kept: EMA is off"))
    elif "ema" in keep:
        choices.append(Choice("ema", f"decay {averaging.ema_decay:g}" if averaging.ema_share == 0 else
                              f"half-life {averaging.ema_share:g} of the run", "kept: given, not chosen from the data"))
    else:
        averaging = dataclasses.replace(averaging, ema_share=EMA_SHARE)
        choices.append(Choice("ema", f"half-life {EMA_SHARE:g} × the updates so far",
                              "averages the same share of the run whatever its length; a fixed decay averages "
                              "too little of a long run or too much of a short one"))

    width = f"{model.arch} ×{model.width:g}"
    choices.append(Choice("model", width, "from the config; not chosen from the data"))
    optimizer = f"{cfg.optim.name} lr0 {cfg.optim.lr0:g}, batch {cfg.batch_size}"
    choices.append(Choice("optimizer", optimizer, "from the config, not chosen from the data: the best LR measured "
                          "(Adam 0.003 against 0.0015 and 0.006) was the same at ~900 and ~2,600 updates"))
    cfg = dataclasses.replace(cfg, model=model, loss=loss, augment=augment, schedule=schedule, imgsz=imgsz,
                              auto_anchor=auto_anchor, averaging=averaging)
    return cfg, choices


def _fit_anchors(train: Sequence[Sample], imgsz: int, arch: str, seed: int) -> AnchorFit | None:
    """Anchors fitted at `imgsz`, as many as `arch` takes (an AnchorFit), or None when
    the training split has fewer boxes than anchors."""
    from yolo3.assign.anchors import MIN_BOX_SIZE, fit_anchors, letterboxed_wh
    from yolo3.models.registry import model_spec

    default = model_spec(arch).default_anchors
    scales, n = len(default), sum(len(scale) for scale in default)
    wh = letterboxed_wh(train, imgsz)
    if int((wh >= MIN_BOX_SIZE).all(1).sum()) < n:
        return None
    return fit_anchors(wh, n, imgsz, scales, restarts=3, generations=300, seed=seed)


def prepare_auto(cfg: TrainConfig, keep: Collection[str] = ()) -> tuple[TrainConfig, TrainData]:
    """`yolo3 train --auto`: loads and checks `cfg.data` (`prepare_data`), applies
    `auto_config` to its training split and puts the choices in the training log's
    data lines. Returns the config to train with and the data for `train(cfg, data=…)`."""
    from yolo3.train.setup import prepare_data

    data = prepare_data(cfg)
    cfg, choices = auto_config(cfg, data.train, keep)
    return cfg, dataclasses.replace(data, check_summary=data.check_summary + [c.line() for c in choices])
