"""What an assigner returns, and the pieces both assignment modes share.

An assignment lists, per output scale, the positive predictions (batch, anchor, gy, gx)
and what each must predict. Targets come in as (M, 6) rows
`[batch_index, class_id, x1, y1, x2, y2]` in network-input pixels (contract 2).
"""

from __future__ import annotations

import dataclasses

import torch


@dataclasses.dataclass
class ScaleTargets:
    """Positives of one scale; P = number of positives, all tensors length P.

    b, a, gy, gx: (P,) long indices into the raw output (B, A, H, W, 5+C).
    offset: (P, 2) target centre minus cell corner, in cells (paper (0, 1); v5 (−0.5, 1.5)).
    box: (P, 4) target box xyxy in input pixels.
    anchor_wh: (P, 2) the responsible anchor (w, h) in input pixels.
    cls: (P,) long class id.
    gt_index: (P,) long row of the target in the (M, 6) input.
    """

    b: torch.Tensor
    a: torch.Tensor
    gy: torch.Tensor
    gx: torch.Tensor
    offset: torch.Tensor
    box: torch.Tensor
    anchor_wh: torch.Tensor
    cls: torch.Tensor
    gt_index: torch.Tensor

    @property
    def num(self) -> int:
        return int(self.b.numel())


@dataclasses.dataclass
class Assignment:
    """Positives per scale (stride ascending) and bookkeeping.

    collisions: positives dropped because another GT took the same (b, a, gy, gx).
    unmatched: GTs that got no positive at all (v5: no anchor within `anchor_t`;
        either mode: lost every collision).
    """

    scales: list[ScaleTargets]
    collisions: int
    unmatched: int


def check_targets(targets: torch.Tensor, batch_size: int, num_classes: int | None = None) -> None:
    """Raises ValueError on a malformed (M, 6) target tensor (shape, NaN/inf, batch, class ids, empty boxes)."""
    if targets.ndim != 2 or targets.shape[1] != 6:
        raise ValueError(f"targets must be (M, 6) [batch_index, class_id, x1, y1, x2, y2], got {tuple(targets.shape)}")
    if targets.numel() == 0:
        return
    nonfinite = (~torch.isfinite(targets).all(1)).nonzero(as_tuple=True)[0]
    if len(nonfinite):
        raise ValueError(f"targets have {len(nonfinite)} row(s) with NaN or inf (rows {nonfinite[:5].tolist()}...); "
                         "check the labels with `yolo3 check-data`")
    bi = targets[:, 0]
    if bi.min() < 0 or bi.max() >= batch_size:
        raise ValueError(f"targets batch_index out of range [0, {batch_size}): min {bi.min():g}, max {bi.max():g}")
    bad = ((targets[:, 4] <= targets[:, 2]) | (targets[:, 5] <= targets[:, 3])).nonzero(as_tuple=True)[0]
    if len(bad):
        raise ValueError(f"targets have {len(bad)} box(es) with zero or negative width/height (rows "
                         f"{bad[:5].tolist()}...); the data pipeline must drop degenerate boxes before the loss "
                         "(see `yolo3 check_data`)")
    if num_classes is not None and (targets[:, 1].min() < 0 or targets[:, 1].max() >= num_classes):
        raise ValueError(f"targets class_id out of range [0, {num_classes}): "
                         f"min {targets[:, 1].min():g}, max {targets[:, 1].max():g}")


def resolve_collisions(
    cell_key: torch.Tensor, priority: torch.Tensor
) -> tuple[torch.Tensor, int]:
    """Keeps one candidate per `cell_key`: the one with the highest `priority`.

    Rule (both modes): when several GTs land on the same (batch, anchor, gy, gx) the GT
    whose shape fits the anchor best (highest w,h IoU) wins; exact ties go to the GT
    listed later in the targets. Returns (kept indices (K,) long, number dropped).
    """
    n = cell_key.numel()
    if n == 0:
        return cell_key.new_zeros(0, dtype=torch.long), 0
    order = torch.argsort(priority, stable=True)  # ascending priority, ties keep input order
    order = order[torch.argsort(cell_key[order], stable=True)]  # group by key, best last
    sorted_key = cell_key[order]
    last_of_group = torch.ones(n, dtype=torch.bool, device=cell_key.device)
    last_of_group[:-1] = sorted_key[1:] != sorted_key[:-1]
    kept = order[last_of_group]
    return kept, n - int(kept.numel())


def count_unmatched(num_targets: int, scales: list[ScaleTargets], device: torch.device) -> int:
    """GTs with no positive on any scale."""
    seen = torch.zeros(num_targets, dtype=torch.bool, device=device)
    for st in scales:
        seen[st.gt_index] = True
    return int((~seen).sum())
