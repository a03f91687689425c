"""The ignore mask (SPEC §3.2): predictions that already overlap a GT well are not negatives.

A non-responsible prediction whose decoded box has IoU > `ignore_thresh` with any GT of
its image is left out of the objectness loss (neither target 1 nor 0). The paper uses
0.5; darknet's cfgs use 0.7. Computed for the whole batch at once by padding each
image's GTs to the largest count — no loop over images.
"""

from __future__ import annotations

import torch

from yolo3.ops.boxes import box_iou_elementwise


def pad_targets_per_image(targets: torch.Tensor, batch_size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(M, 6) targets → boxes (B, G, 4) xyxy and valid (B, G) bool, G = max GTs per image."""
    device = targets.device
    b = targets[:, 0].long()
    counts = torch.bincount(b, minlength=batch_size)
    g = int(counts.max()) if len(targets) else 0
    order = torch.argsort(b, stable=True)
    b_sorted = b[order]
    starts = torch.cumsum(counts, 0) - counts
    slot = torch.arange(len(b), device=device) - starts[b_sorted]
    boxes = torch.zeros(batch_size, g, 4, device=device, dtype=torch.float32)
    valid = torch.zeros(batch_size, g, device=device, dtype=torch.bool)
    boxes[b_sorted, slot] = targets[order, 2:6].float()
    valid[b_sorted, slot] = True
    return boxes, valid


def ignore_mask(
    pred_boxes: torch.Tensor, gt_boxes: torch.Tensor, gt_valid: torch.Tensor, ignore_thresh: float
) -> torch.Tensor:
    """Predictions to exclude from the objectness loss (before re-adding positives).

    Args:
        pred_boxes: (B, N, 4) decoded xyxy input pixels (detached).
        gt_boxes: (B, G, 4) padded GT xyxy input pixels.
        gt_valid: (B, G) which padded GTs are real.
        ignore_thresh: IoU above which a prediction is ignored.

    Returns:
        (B, N) bool, True where max IoU with a real GT of the same image > ignore_thresh.
    """
    if gt_boxes.shape[1] == 0:
        return torch.zeros(pred_boxes.shape[:2], dtype=torch.bool, device=pred_boxes.device)
    iou = box_iou_elementwise(pred_boxes[:, :, None, :], gt_boxes[:, None, :, :])  # (B, N, G)
    iou = iou.masked_fill(~gt_valid[:, None, :], 0.0)
    return iou.amax(-1) > ignore_thresh
