"""Decode raw head outputs into boxes and probabilities (SPEC §1.5).

    bx = (σ(tx)·s − (s − 1)/2 + cx) · stride      s = 1 (paper) or 2 (v5)
    bw = pw · e^{tw}                               pw: anchor width in input pixels
    ltrb (anchor-free): l, t, r, b = e^{t0..t3} · stride from the point ((cx, cy) + 0.5)·stride,
    so bx = point_x + (r − l)/2 and bw = l + r
    objectness = σ(to),  class_c = σ(tc)            independent sigmoids, never softmax
"""

from __future__ import annotations

import torch


def make_grid(height: int, width: int, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """(H, W, 2) tensor of cell offsets (cx, cy)."""
    ys, xs = torch.meshgrid(
        torch.arange(height, device=device, dtype=dtype),
        torch.arange(width, device=device, dtype=dtype),
        indexing="ij",
    )
    return torch.stack([xs, ys], -1)


def decode_scale(raw: torch.Tensor, anchors: torch.Tensor, stride: int, xy_mode: str = "paper") -> torch.Tensor:
    """One scale's raw output → predictions.

    Args:
        raw: (B, A, H, W, 5+C) logits.
        anchors: (A, 2) anchor (w, h) in input pixels.
        stride: input pixels per cell.
        xy_mode: `paper`, `v5` or `ltrb` (anchor-free; anchors unused).

    Returns:
        (B, A·H·W, 5+C): cx, cy, w, h in input pixels, objectness and class probabilities.
    """
    b, a, h, w, n = raw.shape
    grid = make_grid(h, w, raw.device, raw.dtype)
    if xy_mode == "ltrb":
        ltrb = torch.exp(raw[..., 0:4]) * stride
        xy = (grid + 0.5) * stride + (ltrb[..., 2:4] - ltrb[..., 0:2]) / 2
        wh = ltrb[..., 0:2] + ltrb[..., 2:4]
        return torch.cat([xy, wh, torch.sigmoid(raw[..., 4:])], -1).reshape(b, a * h * w, n)
    xy = torch.sigmoid(raw[..., 0:2])
    if xy_mode == "v5":
        xy = xy * 2 - 0.5
    xy = (xy + grid) * stride
    wh = torch.exp(raw[..., 2:4]) * anchors.to(raw.dtype).view(1, a, 1, 1, 2)
    probs = torch.sigmoid(raw[..., 4:])
    return torch.cat([xy, wh, probs], -1).reshape(b, a * h * w, n)


def decode(
    raw_outputs: list[torch.Tensor], anchors: torch.Tensor, strides: tuple[int, ...], xy_mode: str = "paper"
) -> torch.Tensor:
    """All scales → (B, N, 5+C) with boxes as *xyxy* input pixels, then obj, classes.

    `anchors` is (S, A, 2) (the model's `anchors` buffer); N = Σ A·H_s·W_s, ordered
    scale by scale, then anchor, row, column.
    """
    preds = torch.cat(
        [decode_scale(r, anchors[i], s, xy_mode) for i, (r, s) in enumerate(zip(raw_outputs, strides))], 1
    )
    cxcy, wh = preds[..., 0:2], preds[..., 2:4]
    return torch.cat([cxcy - wh / 2, cxcy + wh / 2, preds[..., 4:]], -1)
