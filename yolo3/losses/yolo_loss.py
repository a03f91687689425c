"""The YOLOv3 loss (SPEC §4): box + objectness + class, summed over scales.

Normalisation (what `total.backward()` sees), for a batch of B images:

    box  = w_box · Σ_pos (2 − w·h)·ℓ_box / N_pos          (all scales, each positive once)
    cls  = w_cls · Σ_pos mean_c BCE(cls logits, targets) / N_pos
    obj  = w_obj · Σ_s balance_s · mean over the non-ignored cells of scale s of BCE
    total = B · (box + obj + cls)

Box and class terms are averages over positives, so many or few GTs weigh alike;
objectness is averaged per scale (balance weights finer scales up: they have more
cells), and × B makes the gradient a sum over images, which trains with SGD at
lr ≈ 0.01 and with Adam at its usual rates. `terms` holds the per-image values
(without × B): 'box', 'obj', 'cls', 'box/s8', 'obj/s8', 'cls/s8', ... (the per-scale
parts sum to the totals), 'loss' (= box + obj + cls), and the counts 'num_pos',
'ignored', 'collisions', 'unmatched'.

Example:
    >>> model = create_model("yolov3-tiny", num_classes=3, width=0.25, imgsz=128)
    >>> criterion = YOLOLoss(model, LossConfig())
    >>> targets = torch.tensor([[0, 1, 10.0, 20, 60, 90]])
    >>> total, terms = criterion(model(torch.rand(1, 3, 128, 128)), targets)
    >>> total.backward()
"""

from __future__ import annotations

import dataclasses

import torch
from torch import nn

from yolo3.assign.atss import assign_atss
from yolo3.assign.ignore import ignore_mask, pad_targets_per_image
from yolo3.assign.paper import assign_paper
from yolo3.assign.targets import Assignment, ScaleTargets, check_targets
from yolo3.assign.v5 import assign_v5
from yolo3.losses.box_loss import iou_box_loss, paper_box_loss, positive_iou, small_object_scale
from yolo3.losses.catalogue import bce_with_logits, focal_loss_with_logits
from yolo3.ops.decode import decode_scale

OBJ_BALANCE_BY_STRIDE = {8: 4.0, 16: 1.0, 32: 0.4, 64: 0.1}


@dataclasses.dataclass
class LossConfig:
    """Loss and assignment settings (YAML-loadable).

    assign_mode: 'paper' (one anchor per GT, §3.1), 'v5' (ratio test, 3 cells, §3.3;
        needs a model with xy_mode 'v5' so that neighbour-cell offsets are reachable) or
        'atss' (adaptive IoU threshold mean + std over the k nearest priors per scale,
        `yolo3.assign.atss`; with anchors or the anchor-free head, xy_mode 'ltrb').
    atss_topk: ATSS candidates per GT and scale (k, 9 as in the paper).
    atss_clamp: ATSS threshold at most the GT's best candidate IoU, so tied top candidates
        still pass (False = as published: such GTs may get no positive at all).
    atss_fallback: a GT that ATSS leaves without positives (e.g. thinner than the stride,
        no cell centre inside its box) takes its best reachable candidate anyway.
    ignore_thresh: IoU above which a non-responsible prediction is ignored in the
        objectness loss (§3.2). 0.5 as in the paper; darknet's cfgs use 0.7; ≥ 1 turns
        the ignore mask off. Applies in both modes.
    anchor_t: v5 shape-ratio threshold max(w/aw, aw/w, h/ah, ah/h) < anchor_t.
    box_loss: 'paper' (BCE on σ(tx, ty) + MSE on tw, th), 'iou', 'giou', 'diou', 'ciou'.
    box_weight, obj_weight, cls_weight: per-term weights.
    obj_balance: objectness weight per scale (stride ascending); None = by stride
        (8: 4.0, 16: 1.0, 32: 0.4, 64: 0.1).
    small_object_scale: weight each box loss by 2 − w·h (normalised), §4.1.
    obj_iou_target: objectness target of a positive = its (detached, ≥ 0) IoU with
        the GT instead of 1 (v5 style).
    focal_gamma: focal loss γ for objectness and classes (0 = plain BCE).
    focal_alpha: focal α (used only when focal_gamma > 0).
    label_smoothing: ε; class targets become 1 − ε/2 and ε/2.
    """

    assign_mode: str = "paper"
    ignore_thresh: float = 0.5
    anchor_t: float = 4.0
    atss_topk: int = 9
    atss_clamp: bool = True
    atss_fallback: bool = False
    box_loss: str = "paper"
    box_weight: float = 0.05
    obj_weight: float = 1.0
    cls_weight: float = 0.5
    obj_balance: list[float] | None = None
    small_object_scale: bool = True
    obj_iou_target: bool = False
    focal_gamma: float = 0.0
    focal_alpha: float = 0.25
    label_smoothing: float = 0.0

    def __post_init__(self) -> None:
        if self.assign_mode not in ("paper", "v5", "atss"):
            raise ValueError(f"assign_mode must be 'paper', 'v5' or 'atss', got {self.assign_mode!r}")
        if self.atss_topk < 1:
            raise ValueError(f"atss_topk must be >= 1, got {self.atss_topk}")
        if self.box_loss not in ("paper", "iou", "giou", "diou", "ciou"):
            raise ValueError(f"box_loss must be paper, iou, giou, diou or ciou, got {self.box_loss!r}")
        if self.anchor_t <= 1:
            raise ValueError(f"anchor_t must be > 1, got {self.anchor_t}")
        if not 0 <= self.label_smoothing < 1:
            raise ValueError(f"label_smoothing must be in [0, 1), got {self.label_smoothing}")
        if self.focal_gamma < 0:
            raise ValueError(f"focal_gamma must be >= 0, got {self.focal_gamma}")


class YOLOLoss(nn.Module):
    """Assignment + loss for a YOLOv3-family model; call with (raw_outputs, targets).

    The anchors, strides and xy decode are copied from `model` when built: build the
    loss after any change of anchors (e.g. auto-anchor).
    """

    def __init__(self, model: nn.Module, cfg: LossConfig | None = None) -> None:
        super().__init__()
        self.cfg = cfg or LossConfig()
        self.strides: tuple[int, ...] = tuple(int(s) for s in model.strides)
        self.num_classes: int = int(model.num_classes)
        self.xy_mode: str = model.cfg.xy_mode
        self.register_buffer("anchors", model.anchors.detach().clone().float(), persistent=False)
        if self.cfg.assign_mode == "v5" and self.xy_mode != "v5":
            raise ValueError("assign_mode 'v5' puts positives in neighbour cells (offsets in (-0.5, 1.5)) that the "
                             "paper decode σ(t) ∈ (0, 1) cannot reach; build the model with xy_mode='v5' or use "
                             "assign_mode 'paper'")
        if self.xy_mode == "ltrb" and self.cfg.box_loss == "paper":
            raise ValueError("the anchor-free head (xy_mode 'ltrb') predicts distances to the box sides, which the "
                             "paper's σ-offset/log-size box loss does not cover; use box_loss 'giou', 'diou', 'ciou' "
                             "or 'iou'")
        balance = self.cfg.obj_balance
        if balance is None:
            balance = [OBJ_BALANCE_BY_STRIDE.get(s, 1.0) for s in self.strides]
        if len(balance) != len(self.strides):
            raise ValueError(f"obj_balance has {len(balance)} values for {len(self.strides)} scales")
        self.balance = [float(b) for b in balance]

    def assign(self, targets: torch.Tensor, grid_sizes: list[tuple[int, int]]) -> Assignment:
        """Positives per scale for (M, 6) targets, in the configured mode."""
        anchors = self.anchors.to(targets.device)
        if self.cfg.assign_mode == "paper":
            return assign_paper(targets, anchors, self.strides, grid_sizes)
        if self.cfg.assign_mode == "atss":
            return assign_atss(targets, anchors, self.strides, grid_sizes, self.cfg.atss_topk, self.xy_mode,
                               self.cfg.atss_clamp, self.cfg.atss_fallback)
        return assign_v5(targets, anchors, self.strides, grid_sizes, self.cfg.anchor_t)

    def forward(
        self, raw_outputs: list[torch.Tensor], targets: torch.Tensor
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """raw_outputs: per scale (B, A, H, W, 5+C) logits; targets: (M, 6) input pixels.

        Returns (total scalar to backpropagate, dict of detached scalar terms).
        """
        if len(raw_outputs) != len(self.strides):
            raise ValueError(f"got {len(raw_outputs)} outputs for a model with {len(self.strides)} scales")
        # The loss runs in float32 at least (bf16/fp16 outputs of autocast are upcast).
        raw_outputs = [r.float() if r.dtype in (torch.float16, torch.bfloat16) else r for r in raw_outputs]
        batch = raw_outputs[0].shape[0]
        device = raw_outputs[0].device
        targets = targets.to(device).float()
        check_targets(targets, batch, self.num_classes)
        grid_sizes = [(int(r.shape[2]), int(r.shape[3])) for r in raw_outputs]
        image_wh = (grid_sizes[0][1] * self.strides[0], grid_sizes[0][0] * self.strides[0])
        assignment = self.assign(targets, grid_sizes)
        num_pos = sum(st.num for st in assignment.scales)
        pos_norm = max(num_pos, 1)
        gt_boxes, gt_valid = pad_targets_per_image(targets, batch)

        zero = raw_outputs[0].new_zeros(())
        box_total, obj_total, cls_total = zero, zero, zero
        terms: dict[str, torch.Tensor] = {}
        ignored = 0
        for s, (raw, st) in enumerate(zip(raw_outputs, assignment.scales)):
            pos = raw[st.b, st.a, st.gy, st.gx]  # (P, 5+C)
            box, iou = self.box_term(pos, st, self.strides[s], image_wh)
            cls = self.cls_term(pos, st) if st.num else zero
            obj, num_ignored = self.obj_term(raw, s, st, iou, gt_boxes, gt_valid)
            box, cls, obj = box / pos_norm, cls / pos_norm, obj * self.balance[s]
            ignored += num_ignored
            box_total, obj_total, cls_total = box_total + box, obj_total + obj, cls_total + cls
            name = f"s{self.strides[s]}"
            terms[f"box/{name}"], terms[f"obj/{name}"], terms[f"cls/{name}"] = box.detach(), obj.detach(), cls.detach()

        loss = box_total + obj_total + cls_total
        terms.update(box=box_total.detach(), obj=obj_total.detach(), cls=cls_total.detach(), loss=loss.detach())
        for key, value in (("num_pos", num_pos), ("ignored", ignored), ("collisions", assignment.collisions),
                           ("unmatched", assignment.unmatched)):
            terms[key] = torch.tensor(float(value), device=device)
        return loss * batch, terms

    def box_term(
        self, pos: torch.Tensor, st: ScaleTargets, stride: int, image_wh: tuple[int, int]
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """w_box · Σ over this scale's positives of (2 − w·h)·ℓ_box (not yet / N_pos).

        Returns (term, detached IoU per positive or None when not needed).
        """
        cfg = self.cfg
        target_wh = st.box[:, 2:4] - st.box[:, 0:2]
        if cfg.box_loss == "paper":
            per_box = paper_box_loss(pos[:, 0:4], st.offset, st.anchor_wh, target_wh, self.xy_mode)
            iou = positive_iou(pos[:, 0:4], st.offset, st.anchor_wh, target_wh, stride, self.xy_mode) \
                if cfg.obj_iou_target else None
        else:
            per_box, iou = iou_box_loss(pos[:, 0:4], st.offset, st.anchor_wh, target_wh, stride,
                                        cfg.box_loss, self.xy_mode)
        if cfg.small_object_scale:
            per_box = per_box * small_object_scale(target_wh, image_wh)
        return cfg.box_weight * per_box.sum(), iou

    def cls_term(self, pos: torch.Tensor, st: ScaleTargets) -> torch.Tensor:
        """w_cls · Σ over positives of the class-mean BCE (multi-label, smoothing, focal)."""
        eps = self.cfg.label_smoothing
        target = torch.full_like(pos[:, 5:], eps / 2)
        target[torch.arange(st.num, device=pos.device), st.cls] = 1.0 - eps / 2
        return self.cfg.cls_weight * self._bce(pos[:, 5:], target).mean(1).sum()

    def obj_term(
        self, raw: torch.Tensor, s: int, st: ScaleTargets, iou: torch.Tensor | None,
        gt_boxes: torch.Tensor, gt_valid: torch.Tensor,
    ) -> tuple[torch.Tensor, int]:
        """w_obj · mean BCE over the non-ignored cells of scale `s` (before balance).

        Positives → 1 (or their IoU), ignored → left out, all others → 0.
        Returns (term, number of ignored predictions).
        """
        cfg = self.cfg
        logits = raw[..., 4]
        target = torch.zeros_like(logits)
        weight = torch.ones_like(logits)
        if cfg.ignore_thresh < 1.0 and gt_boxes.shape[1]:
            with torch.no_grad():
                pred = decode_scale(raw.detach()[..., :5], self.anchors[s].to(raw.device), self.strides[s],
                                    self.xy_mode)
                xyxy = torch.cat([pred[..., 0:2] - pred[..., 2:4] / 2, pred[..., 0:2] + pred[..., 2:4] / 2], -1)
                weight.masked_fill_(ignore_mask(xyxy, gt_boxes, gt_valid, cfg.ignore_thresh).view_as(logits), 0.0)
        if st.num:
            target[st.b, st.a, st.gy, st.gx] = iou.clamp(min=0).to(target.dtype) if cfg.obj_iou_target else 1.0
            weight[st.b, st.a, st.gy, st.gx] = 1.0
        num_ignored = int((weight == 0).sum())
        loss = (self._bce(logits, target) * weight).sum() / weight.sum().clamp(min=1.0)
        return cfg.obj_weight * loss, num_ignored

    def _bce(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Elementwise BCE-with-logits, or focal loss when focal_gamma > 0."""
        if self.cfg.focal_gamma > 0:
            return focal_loss_with_logits(logits, target, self.cfg.focal_gamma, self.cfg.focal_alpha, "none")
        return bce_with_logits(logits, target, "none")
