"""The training loop (SPEC §6): `train(cfg) -> TrainResult`.

One epoch: this rank's share of a (seed, epoch)-seeded permutation → batches
(contract 2) → optional multi-scale resize → forward under autocast (bf16 on CPU) →
YOLOLoss (contract 3, fp32) → backward, accumulated to the nominal batch → clip the
gradient norm → optimizer step → EMA update. LR and momentum are set per iteration by
a pure function of the iteration. After each epoch: validation of the EMA weights
(contract 4), `last`/`best` checkpoints (atomic), metrics.csv and TensorBoard. Because
everything random is seeded by (seed, epoch, iteration) and the state file holds the
optimizer, EMA and RNGs, `resume` reproduces the unbroken run.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
from tqdm import tqdm

from yolo3.config import save_yaml, to_dict
from yolo3.data.split import SPLIT_FILE, save_split
from yolo3.inference.device import resolve_device
from yolo3.io.checkpoint import atomic_write
from yolo3.ops.allocator import ENV_SWITCH, keep_freed_memory
from yolo3.train import distributed as ddp
from yolo3.train.config import TrainConfig
from yolo3.train.early_stop import decide, history_from_metrics
from yolo3.train.ema import SWA, ModelEMA, unwrap
from yolo3.train.guard import NonFiniteGuard, TrainingDiverged
from yolo3.train.logging import MetricsCSV, TensorBoard, plot_metrics, read_metrics, summary_table
from yolo3.train.messages import BAR_LEGEND, best_rule, failed_write_hint, interrupted_lines, validation_line
from yolo3.train.optim import build_optimizer, freeze_backbone, is_backbone, set_frozen_bn_eval
from yolo3.train.result import TrainResult
from yolo3.train.schedule import SchedulePlan, apply_schedule, epochs_within_budget
from yolo3.train.setup import (
    RunLock, TrainData, auto_anchors, autocast, build_train_model, claim_run_dir, discard_new_run_dir, loss_scaler,
    model_config_for, multiscale_size, new_run_dir, prepare_data, resize_batch, resolve_amp, seed_everything,
)
from yolo3.train.resume import RESUME_CHANGEABLE, resolve_resume, resume_config  # noqa: F401 (re-exported)
from yolo3.train.state import copy_checkpoint, load_train_state, save_train_state
from yolo3.train.transfer import read_init_weights

log = logging.getLogger("yolo3.train")

BAR_TERMS = ("box", "obj", "cls", "loss")  # loss terms shown in the progress bar
VAL_TERMS = ("box", "obj", "cls", "loss")  # loss terms measured on the val split (val/ columns)
# fp16 loss scale below which overflowing gradients count as divergence (NonFiniteGuard),
# not as the scaler's routine skip: unscaled gradients that overflow are not a scale problem
MIN_LOSS_SCALE = 1.0
EpochCallback = Callable[[int, dict[str, Any]], None]




def fitness(metrics: dict[str, float]) -> float:
    """What `best` and early stopping maximise: mAP@0.5:0.95 when validated, else
    minus the mean training loss."""
    if "mAP@0.5:0.95" in metrics:
        return float(metrics["mAP@0.5:0.95"])
    return -float(metrics.get("train/loss", math.inf))


def train(
    cfg: TrainConfig,
    callbacks: Sequence[EpochCallback] = (),
    data: TrainData | None = None,
    resume_changes: dict[str, Any] | None = None,
) -> TrainResult:
    """Trains a model as `cfg` says; returns where the weights are and the metrics.

    callbacks: called after every epoch's checkpoint as f(epoch, row) (tests use them
    to interrupt a run). data: already checked splits (default: `prepare_data(cfg)`).
    With `cfg.resume`, the run continues with its saved config; `resume_changes`
    ({field: value}, fields of RESUME_CHANGEABLE, e.g. {"epochs": 8}) are applied to it,
    any other field is refused. The run folder is locked while the run writes it
    (a second writer gets RunLockedError).
    """
    run_dir: Path | None = None
    notes: list[str] = []
    if cfg.resume:
        cfg, run_dir, notes = resolve_resume(cfg.resume, resume_changes)
    elif resume_changes:
        raise ValueError("resume_changes is only for a run that resumes (cfg.resume)")
    resolve_device(cfg.device)  # a device this machine lacks: one line, not torch's AssertionError mid-setup
    info = ddp.init_distributed(cfg.device)
    trainer: _Trainer | None = None
    try:
        trainer = _Trainer(cfg, info, run_dir, data, notes, epochs_changed="epochs" in (resume_changes or {}))
        return trainer.fit(callbacks)
    except KeyboardInterrupt:
        if trainer is None or not info.is_main:
            raise
        # Ctrl-C: say what is on disk and how to continue (the CLI prints this, exit 130)
        lines = interrupted_lines(trainer.run_dir, trainer.saved_epochs, trainer.best_epoch, resumable=True)
        raise KeyboardInterrupt("\n".join(lines)) from None
    except OSError as err:
        if trainer is None or not info.is_main:
            raise
        # a write failed mid-run (disk full, EFBIG): the same one line, plus what is on disk and how to go on
        raise OSError(f"{err}; {failed_write_hint(trainer.run_dir, trainer.saved_epochs)}") from err
    finally:
        if trainer is not None:
            trainer.release()
        ddp.cleanup(info)


class _Trainer:
    """State of one run; `fit` is the loop. Split out of `train` for readability."""

    def __init__(self, cfg: TrainConfig, info: ddp.DistInfo, run_dir: Path | None, data: TrainData | None,
                 setup_notes: Sequence[str] = (), epochs_changed: bool = False) -> None:
        self.lock: RunLock | None = None
        self.new_dir: Path | None = None  # the run folder this run created, until setup succeeds
        self.epochs_changed = epochs_changed  # --epochs given with --resume
        try:
            self._setup(cfg, info, run_dir, data, list(setup_notes))
        except BaseException:
            if self.new_dir is not None:  # a failed start must not take the name (the rerun would be name2)
                discard_new_run_dir(self.new_dir)  # while still locked
            self.release()
            raise
        self.new_dir = None

    def release(self) -> None:
        """Releases the run folder's lock (idempotent)."""
        if self.lock is not None:
            self.lock.release()
            self.lock = None

    def _lock(self, run_dir: Path, resuming: bool) -> list[str]:
        self.lock, notes = claim_run_dir(run_dir, resuming)
        return notes

    def _setup(self, cfg: TrainConfig, info: ddp.DistInfo, run_dir: Path | None, data: TrainData | None,
               setup_notes: list[str]) -> None:
        self.cfg, self.info = cfg, info
        self.t_start = time.perf_counter()  # the wall-clock budget counts setup too
        if run_dir is not None and info.is_main:  # resuming: lock before reading or writing anything there
            setup_notes += self._lock(run_dir, resuming=True)
        if cfg.threads > 0:
            torch.set_num_threads(cfg.threads)
        self.keeps_memory = keep_freed_memory()  # a batch's activations would page-fault every step
        seed_everything(cfg.seed + info.rank, cfg.deterministic)
        self.device = (resolve_device(cfg.device) if not cfg.device.startswith("cuda") or not info.enabled
                       else torch.device(f"cuda:{info.local_rank}"))
        self.data = data or prepare_data(cfg, run_dir / SPLIT_FILE if run_dir else None)
        if run_dir is None and info.is_main:
            reused = cfg.exist_ok and (Path(cfg.project) / cfg.name).exists()
            run_dir = new_run_dir(cfg.project, cfg.name, cfg.exist_ok)
            self.new_dir = None if reused else run_dir
            setup_notes += self._lock(run_dir, resuming=False)
            if (run_dir / "weights" / "last.safetensors").exists():  # exist_ok into a folder with a run
                setup_notes.append(f"exist_ok: {run_dir} holds an earlier run; this new run replaces its "
                                   "checkpoints and metrics.csv (to continue it instead: --resume)")
        self.run_dir = Path(ddp.broadcast(str(run_dir) if run_dir else "", info))
        if self.data.split is not None and info.is_main:  # a held-back val drawn from train: keep the list
            save_split(self.run_dir / SPLIT_FILE, self.data.split)
        self.weights_dir = self.run_dir / "weights"
        self.amp_dtype = resolve_amp(cfg.amp, self.device)

        model_cfg = model_config_for(cfg, self.data.class_names)
        init = None
        if cfg.weights and not cfg.resume:  # a resumed run takes every tensor from its state file
            init = read_init_weights(cfg.weights, model_cfg)
            if init.anchors is not None:  # heads loaded from a yolo3 checkpoint: keep the anchors they learnt
                model_cfg = dataclasses.replace(model_cfg, anchors=init.anchors)
        self.anchor_note = "auto-anchor: anchors from the resumed run"
        if not cfg.resume:
            model_cfg, self.anchor_note = auto_anchors(cfg, model_cfg, self.data.train,
                                                       init is not None and init.heads_loaded)
        self.cfg = cfg = dataclasses.replace(cfg, model=model_cfg)  # saved config names the real classes
        self.max_epochs = cfg.epochs  # the budget may shorten the run, never lengthen it
        model, self.init_note = build_train_model(model_cfg, init)
        if cfg.resume:
            self.init_note = f"weights: from {cfg.resume} (resumed)"
        # Frozen for the whole run: the optimizer never sees the backbone. For the first
        # freeze_epochs only: it holds the backbone from the start (no gradient, no update).
        self.frozen = cfg.optim.freeze == "backbone"
        n_frozen = freeze_backbone(model) if self.frozen and not cfg.optim.freeze_epochs else 0
        model.to(self.device)
        if cfg.channels_last:
            model.to(memory_format=torch.channels_last)
        self.model = model
        from yolo3.losses.yolo_loss import YOLOLoss

        self.loss_fn = YOLOLoss(model, cfg.loss)
        world_batch = cfg.batch_size * info.world_size
        self.accumulate = cfg.accumulate(info.world_size)
        weight_decay = cfg.optim.weight_decay * world_batch * self.accumulate / cfg.nominal_batch_size
        self.optimizer = build_optimizer(model, cfg.optim, weight_decay)
        if self.frozen and cfg.optim.freeze_epochs:
            n_frozen = freeze_backbone(model)
        self.freeze_note = ("freeze: none" if not self.frozen else f"freeze: backbone ({n_frozen} tensors) "
                            + (f"for the first {cfg.optim.freeze_epochs} epochs" if cfg.optim.freeze_epochs
                               else "for the whole run"))
        avg = cfg.averaging
        self.ema = ModelEMA(model, avg.ema_decay, avg.ema_tau, share=avg.ema_share) if avg.ema else None
        self.swa = SWA(model) if avg.swa else None
        self.scaler = loss_scaler(self.device, self.amp_dtype)
        self.guard = NonFiniteGuard(cfg.max_bad_steps)

        self.loader = self._make_loader()
        self.iters_per_epoch = len(self.loader)
        if cfg.max_steps_per_epoch:
            self.iters_per_epoch = min(self.iters_per_epoch, cfg.max_steps_per_epoch)
        self.plan = SchedulePlan(self.iters_per_epoch * cfg.epochs)  # re-planned only forward (time budget)

        self.start_epoch, self.best_fitness, self.best_epoch = 0, -math.inf, -1
        # fitness of every counted validation, oldest first: what early stopping decides on
        # (None until fit() rebuilds it from metrics.csv, for a checkpoint from before it was saved)
        self.fitness_history: list[float] | None = []
        self.saved_epochs = 0  # epochs whose checkpoint is on disk (what Ctrl-C leaves)
        if cfg.resume:
            meta = load_train_state(cfg.resume, model, self.optimizer, self.ema, self.swa)
            self.start_epoch = int(meta["epoch"]) + 1
            self.best_fitness = float(meta.get("best_fitness", -math.inf))
            self.best_epoch = int(meta.get("best_epoch", -1))
            history = meta.get("fitness_history")
            self.fitness_history = [float(v) for v in history] if isinstance(history, list) else None
            if isinstance(meta.get("schedule"), dict):  # the plan and epoch count a time budget had fitted
                self.plan = SchedulePlan.from_dict(meta["schedule"])
                if self.epochs_changed:  # resumed with --epochs: the rest of the schedule stretches to the new
                    # length from here on, continuing where it was (the LR never jumps back up)
                    self.plan = self.plan.replan(self.start_epoch * self.iters_per_epoch,
                                                 cfg.epochs * self.iters_per_epoch)
                else:
                    self.cfg = dataclasses.replace(self.cfg, epochs=int(meta["schedule"]["epochs"]))
            self.saved_epochs = self.start_epoch
            if self.scaler is not None and meta.get("scaler"):
                self.scaler.load_state_dict(meta["scaler"])
        self.ddp_model = ddp.wrap_model(model, info, cfg.sync_bn)
        self.bn_buffers = [b for m in self.ddp_model.modules()  # after SyncBatchNorm conversion
                           if isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for b in m.buffers()]

        self.csv = self.tb = None
        if info.is_main:
            # atomically: on resume a failed write (disk full) must leave the run's config whole
            atomic_write(self.run_dir / "config.yaml", lambda tmp: save_yaml(cfg, tmp))
            self.csv = MetricsCSV(self.run_dir / "metrics.csv", self.start_epoch if cfg.resume else None)
            self.tb = TensorBoard(self.run_dir / "tensorboard" if cfg.tensorboard else None)
            with open(self.run_dir / "train.log", "a", encoding="utf-8") as f:
                lines = [f"run folder: {self.run_dir}", *self.data.check_summary, self.anchor_note, self.init_note,
                         self.freeze_note,
                         f"amp: {self.amp_dtype}, channels_last: {cfg.channels_last}, world: {info.world_size}, "
                         f"accumulate: {self.accumulate}, weight_decay: {weight_decay:.3g}, "
                         f"freed memory kept: {'yes' if self.keeps_memory else 'no (not glibc, or ' + ENV_SWITCH + '=0)'}"]
                if cfg.resume:
                    lines.append(f"resumed from {cfg.resume} at epoch {self.start_epoch + 1}")
                lines += setup_notes
                f.write("\n".join(lines) + "\n")
                for line in lines:
                    log.info(line)
                warnings = [best_rule(cfg, bool(self.data.val), self.data.no_val_reason)]
                if cfg.resume and self.start_epoch >= self.cfg.epochs:  # killed after its last save, or done
                    warnings.append(f"warning: {self.run_dir} has finished: all {self.cfg.epochs} planned epoch(s) "
                                    "are done, so nothing is trained (the checkpoints are checked and the summary "
                                    f"rewritten); to train longer: yolo3 train --resume {self.run_dir} "
                                    f"--epochs {self.start_epoch + 1}")
                for warning in filter(None, warnings):
                    f.write(warning + "\n")
                    log.warning(warning)
                if cfg.progress:
                    log.info(BAR_LEGEND)

    # -- one epoch ---------------------------------------------------------------------
    def _make_loader(self):
        """One loader for the whole run (persistent workers, cache kept). Under DDP each
        rank owns a fixed shard (one seeded permutation, padded to equal length) that
        its loader reshuffles every epoch by (seed, epoch)."""
        from yolo3.data.loader import create_dataloader

        cfg, info = self.cfg, self.info
        samples = self.data.train
        if info.enabled:
            idx = ddp.epoch_indices(len(samples), 0, cfg.seed, info.rank, info.world_size)
            samples = [samples[i] for i in idx]
        return create_dataloader(samples, cfg.imgsz, cfg.batch_size, cfg.augment, shuffle=True,
                                 workers=cfg.workers, cache=cfg.cache, seed=cfg.seed + info.rank,
                                 pin_memory=self.device.type == "cuda", max_pixels=cfg.data_check.max_pixels)

    def _optimizer_step(self, it: int, paths: list[str]) -> None:
        cfg = self.cfg
        if self.scaler is not None:
            self.scaler.unscale_(self.optimizer)
        params = [p for p in self.model.parameters() if p.requires_grad]
        max_norm = cfg.optim.grad_clip if cfg.optim.grad_clip > 0 else math.inf
        norm = torch.nn.utils.clip_grad_norm_(params, max_norm)
        finite = ddp.all_true(bool(torch.isfinite(norm)), self.info)
        if not finite and self.scaler is not None and self.scaler.get_scale() >= MIN_LOSS_SCALE:
            # fp16's scaled gradients overflowed: the scaler's own case, not a divergence.
            # Its step skips the update and its update halves the scale (it must run, or the
            # next unscale_ fails); only at a scale below MIN_LOSS_SCALE is it the guard's.
            self.scaler.step(self.optimizer)
            self.scaler.update()
            self.optimizer.zero_grad(set_to_none=True)
            return
        if not self.guard.check(norm if finite else math.nan, it, paths):
            if self.scaler is not None:
                self.scaler.update()
            self.optimizer.zero_grad(set_to_none=True)
            return
        if self.scaler is not None:
            self.scaler.step(self.optimizer)
            self.scaler.update()
        else:
            self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        if self.ema is not None:
            self.ema.update(self.model)

    def _epoch(self, epoch: int) -> dict[str, float]:
        cfg, model = self.cfg, self.ddp_model
        model.train()
        if self.frozen:
            set_frozen_bn_eval(model)
        sums: dict[str, torch.Tensor] = {}
        seen, steps, t0 = 0, 0, time.perf_counter()
        bar = tqdm(total=self.iters_per_epoch, desc=f"epoch {epoch + 1}/{cfg.epochs}",
                   disable=not (cfg.progress and self.info.is_main), leave=True, dynamic_ncols=True)
        pending = 0
        lr = 0.0
        self.loader.set_epoch(epoch)
        for i, batch in enumerate(self.loader):
            if i >= self.iters_per_epoch:
                break
            it = epoch * self.iters_per_epoch + i
            lr = apply_schedule(self.optimizer, it, self.iters_per_epoch, cfg.epochs, cfg.schedule,
                                cfg.optim.lr0, cfg.optim.momentum, self.plan)
            images = batch.images.to(self.device, non_blocking=True).float().div_(255)
            targets = batch.targets.to(self.device)
            if cfg.multi_scale > 0:
                images, targets = resize_batch(images, targets, multiscale_size(cfg.imgsz, cfg.multi_scale, cfg.seed, it))
            if cfg.channels_last:
                images = images.contiguous(memory_format=torch.channels_last)
            bn_before = [t.clone() for t in self.bn_buffers]  # a skipped step must not move BN statistics
            with autocast(self.device, self.amp_dtype):
                outputs = model(images)
            targets_ok = bool(torch.isfinite(targets).all())
            loss, terms = self.loss_fn([o.float() for o in outputs], targets) if targets_ok else (images.new_tensor(math.nan), {})
            finite = ddp.all_true(targets_ok and bool(torch.isfinite(loss)), self.info)
            last_of_epoch = i + 1 == self.iters_per_epoch
            if not self.guard.check(loss.detach() if finite else math.nan, it, batch.paths, terms):
                with torch.no_grad():
                    for buffer, saved in zip(self.bn_buffers, bn_before):
                        buffer.copy_(saved)
                self.optimizer.zero_grad(set_to_none=True)
                pending = 0
                continue
            scaled = loss / self.accumulate
            (self.scaler.scale(scaled) if self.scaler is not None else scaled).backward()
            pending += 1
            if pending == self.accumulate or last_of_epoch:
                self._optimizer_step(it, batch.paths)
                pending = 0
            for k, v in terms.items():  # per image, like the terms: loss = box + obj + cls
                sums[k] = sums.get(k, 0.0) + v.detach().float()
            seen += len(batch)
            steps += 1
            rate = seen / (time.perf_counter() - t0)
            bar.set_postfix({**{k: f"{float(v) / steps:.3f}" for k, v in sums.items() if k in BAR_TERMS},
                             "lr": f"{lr:.2e}", "img/s": f"{rate:.1f}"}, refresh=False)
            bar.update(1)
        bar.close()
        ddp.average_buffers(self.model, self.info)
        elapsed = time.perf_counter() - t0
        row = {f"train/{k}": float(v) / max(steps, 1) for k, v in sums.items()}
        row.update({"lr": lr, "images_per_s": seen * self.info.world_size / max(elapsed, 1e-9), "epoch_s": elapsed})
        return row

    # -- validation, checkpoints ------------------------------------------------------
    def _validate(self, epoch: int) -> dict[str, float]:
        cfg = self.cfg
        last = epoch + 1 == cfg.epochs
        if not (self.data.val and cfg.val_interval and ((epoch + 1) % cfg.val_interval == 0 or last)):
            return {}
        if not self.info.is_main:
            return {}
        from yolo3.eval import evaluate

        net = self.ema.module if self.ema is not None else unwrap(self.model)
        result = evaluate(net, self.data.val, self.data.class_names, cfg.imgsz, batch_size=cfg.val_batch_size,
                          progress=cfg.progress, max_pixels=cfg.data_check.max_pixels)
        metrics = {k: float(v) for k, v in result.metrics.items()}
        log.info(validation_line(epoch, cfg.epochs, metrics))
        return {**self._val_loss(net), **metrics}

    @torch.no_grad()
    def _val_loss(self, net: torch.nn.Module) -> dict[str, float]:
        """Loss terms on the val split (letterbox only, the evaluated weights in eval mode),
        averaged over batches like the training terms: the val/ columns of metrics.csv."""
        from yolo3.data.loader import create_dataloader

        cfg = self.cfg
        if getattr(self, "val_loader", None) is None:
            self.val_loader = create_dataloader(self.data.val, cfg.imgsz, cfg.val_batch_size, None, shuffle=False,
                                                workers=0, cache=cfg.cache, seed=cfg.seed,
                                                max_pixels=cfg.data_check.max_pixels)
        was_training = net.training
        net.eval()
        sums: dict[str, float] = {}
        steps = 0
        try:
            for batch in self.val_loader:
                images = batch.images.to(self.device).float().div_(255)
                _, terms = self.loss_fn([o.float() for o in net(images)], batch.targets.to(self.device))
                for k in VAL_TERMS:  # per image, as the loss function reports its terms
                    sums[k] = sums.get(k, 0.0) + float(terms[k])
                steps += 1
        finally:
            net.train(was_training)
        return {f"val/{k}": v / max(steps, 1) for k, v in sums.items()}

    def _save(self, epoch: int, row: dict[str, Any], improved: bool) -> None:
        progress = {"epoch": epoch, "best_fitness": self.best_fitness, "best_epoch": self.best_epoch,
                    "fitness_history": self.fitness_history,
                    "schedule": {**self.plan.to_dict(), "epochs": self.cfg.epochs},
                    "scaler": self.scaler.state_dict() if self.scaler is not None else None}
        summary = {"epoch": epoch, "metrics": {k: v for k, v in row.items() if isinstance(v, float)}}
        extra = {"config": to_dict(self.cfg), "summary": summary, "imgsz": self.cfg.imgsz}
        if self.data.category_ids is not None:  # a COCO dataset's own ids: detect's predictions.json uses them
            extra["category_ids"] = self.data.category_ids
        nets = [self.model] + ([self.ema.module] if self.ema is not None else [])
        if not all(bool(torch.isfinite(t).all()) for net in nets for t in net.state_dict().values() if t.is_floating_point()):
            raise TrainingDiverged(f"non-finite weights or BatchNorm statistics after epoch {epoch + 1}; "
                                   "nothing saved, the previous checkpoint stays. Lower optim.lr0 or check the data.")
        last = self.weights_dir / "last.safetensors"
        # last first, then best: a kill in between leaves last saying it is the best epoch,
        # which resume detects and repairs (repair_best); the other order could not be told apart
        save_train_state(last, self.model, self.optimizer, self.ema, self.swa, progress, extra)
        self.saved_epochs = epoch + 1
        if improved:
            copy_checkpoint(last, self.weights_dir / "best.safetensors")

    def fit(self, callbacks: Sequence[EpochCallback]) -> TrainResult:
        cfg, info = self.cfg, self.info
        rows = read_metrics(self.run_dir / "metrics.csv") if info.is_main and cfg.resume else []
        validating = bool(self.data.val) and cfg.val_interval > 0  # else every epoch counts, by training loss
        if self.fitness_history is None:  # resumed from a checkpoint without it: rebuilt from the CSV
            self.fitness_history = history_from_metrics(rows, validated_only=validating)
        stopped = False
        epoch = self.start_epoch - 1
        epoch_seconds: list[float] = []
        while epoch + 1 < self.cfg.epochs:
            epoch += 1
            t_epoch = time.perf_counter()
            if self.frozen and 0 < cfg.optim.freeze_epochs <= epoch:
                self._unfreeze(epoch)
            row: dict[str, Any] = {"epoch": epoch + 1, **self._epoch(epoch)}  # 1-based, as the bar
            if self.swa is not None and epoch >= self.cfg.epochs - cfg.averaging.swa_epochs:
                self.swa.update(self.model)
            row.update(self._validate(epoch))
            decision = None
            if info.is_main:
                fit = fitness(row)
                improved = fit > self.best_fitness
                counted = any(k.startswith("mAP") for k in row) or not validating
                if improved:
                    self.best_fitness, self.best_epoch = fit, epoch
                if counted:
                    self.fitness_history.append(fit)
                row["fitness"] = fit
                self.csv.write(row)  # before the checkpoint: resume trims rows past it, a lost row can't be rebuilt
                self._save(epoch, row, improved)
                self.tb.scalars({k: v for k, v in row.items() if k != "epoch"}, epoch + 1)
                rows.append(row)
                decision = self._early_stop(epoch) if counted else False
            stopped = ddp.broadcast(decision, info)
            for callback in callbacks:
                callback(epoch, row)
            if stopped:
                break
            epoch_seconds.append(time.perf_counter() - t_epoch)
            if cfg.time_budget_minutes > 0:
                self._fit_budget(epoch + 1, epoch_seconds)
        if info.is_main:
            self._finish(rows)
        return TrainResult(self.run_dir, self.weights_dir / "last.safetensors", self.weights_dir / "best.safetensors",
                           epoch + 1, self.best_epoch, self.best_fitness, stopped, rows, unwrap(self.model))

    def _early_stop(self, epoch: int) -> bool:
        """The early-stopping verdict after a counted validation (yolo3/train/early_stop.py),
        logged when it stops or when only the trend or the run's share holds it back."""
        cfg = self.cfg
        if not cfg.patience:
            return False
        verdict = decide(self.fitness_history, cfg.patience, cfg.early_stop, epoch + 1, cfg.epochs)
        if verdict.stop:
            log.info("early stop: %s (best epoch %d)", verdict.reason, self.best_epoch + 1)
        elif verdict.since_best >= cfg.patience:
            log.info("epoch %d: no early stop yet: %s", epoch + 1, verdict.reason)
        return verdict.stop

    def _unfreeze(self, epoch: int) -> None:
        """Ends `freeze_epochs`: the backbone trains from this epoch on (its parameters are
        already in the optimizer; under DDP the wrapper is rebuilt, since DDP reduces only
        the gradients of parameters that required them when it was made)."""
        count = 0
        for name, param in self.model.named_parameters():
            if is_backbone(name) and not param.requires_grad:
                param.requires_grad_(True)
                count += 1
        self.frozen = False
        if self.info.enabled:
            self.ddp_model = ddp.wrap_model(unwrap(self.ddp_model), self.info, sync_bn=False)
        log.info("epoch %d: backbone unfrozen (%d tensors train from now on)", epoch + 1, count)

    def _fit_budget(self, epochs_done: int, epoch_seconds: list[float]) -> None:
        """Re-estimates the run's epochs from the time left (same on every rank), so the
        schedule, the last validation and the stop all fall at the budget. The LR schedule
        is re-planned forward from here (`SchedulePlan.replan`): its progress never goes
        back, so a jumpy speed estimate cannot raise the LR again. Until this process has
        timed two epochs (a fresh or resumed run) the plan stays as it is."""
        cfg = self.cfg
        if len(epoch_seconds) < 2:
            return
        budget_s = cfg.time_budget_minutes * 60.0
        total = epochs_within_budget(budget_s, time.perf_counter() - self.t_start, epoch_seconds, epochs_done,
                                     self.max_epochs)
        total = int(ddp.broadcast(total if self.info.is_main else None, self.info))
        if total != cfg.epochs:
            big = abs(total - cfg.epochs) >= max(2, 0.1 * cfg.epochs) or total == epochs_done
            log.log(logging.INFO if big else logging.DEBUG, "time budget %.1f min: %d epochs fit (was %d)",
                    cfg.time_budget_minutes, total, cfg.epochs)
            self.plan = self.plan.replan(epochs_done * self.iters_per_epoch, total * self.iters_per_epoch)
            self.cfg = dataclasses.replace(cfg, epochs=total)

    def _finish(self, rows: list[dict[str, Any]]) -> None:
        from yolo3.io.checkpoint import save_model

        if self.swa is not None and self.swa.count:
            save_model(self.weights_dir / "swa.safetensors", self.swa.module, swa_epochs=self.swa.count)
        if self.tb is not None:
            self.tb.close()
        csv_path = self.run_dir / "metrics.csv"
        if self.cfg.plots and csv_path.exists():
            plot_metrics(csv_path, self.run_dir / "results.png")
        keep = ["epoch", "train/loss", "train/box", "train/obj", "train/cls", "mAP@0.5", "mAP@0.5:0.95", "lr"]
        table = summary_table(read_metrics(csv_path), [c for c in keep if rows and c in rows[0]]) if csv_path.exists() else ""
        (self.run_dir / "summary.txt").write_text(table + "\n", encoding="utf-8")
        if self.cfg.progress:
            print(table)
            print(f"results in {self.run_dir} (best epoch {self.best_epoch + 1}, fitness {self.best_fitness:.4g})")
