"""Synthetic shapes dataset: distinct shape classes on textured, noisy backgrounds.

Objects span COCO small/medium/large (side from ~8 px to ~60 % of the image, log-uniform),
in varied colours, and may partly occlude each other. Each box is the tight box of the
shape's visible pixels; a new shape that would hide more than 1 − `min_visible` of an
earlier one is not drawn, so occlusion stays partial and every visible object is labelled.
Deterministic: image i of split k is drawn from the generator seeded by (seed, k, i).

With `thin=True` two shapeless classes join the six: "hair" (a curved quadratic-Bézier
stroke, 1–2 px thick) and "scratch" (a straight, slightly jagged stroke, 2–3 px thick),
of varied length and orientation: the thin, elongated objects (hair, foreign matter)
ATSS / anchor-free heads are meant for. Their boxes are also the tight boxes of their
visible pixels, so a diagonal hair gets a large, mostly empty box.
"""

from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np
import yaml

from yolo3.data.image_io import write_image

SHAPES = ("circle", "square", "triangle", "star", "cross", "hexagon")
THIN_SHAPES = ("hair", "scratch")


def draw_thin(mask: np.ndarray, kind: str, rng: np.random.Generator, cx: float, cy: float, length: float,
              angle: float) -> None:
    """Draws a hair (curved, 1–2 px) or scratch (straight, jagged, 2–3 px) centred at (cx, cy) into `mask`."""
    d = np.array([math.cos(angle), math.sin(angle)])
    normal = np.array([-d[1], d[0]])
    t = np.linspace(-0.5, 0.5, 24)[:, None]
    if kind == "hair":
        bend = rng.uniform(-0.35, 0.35) * length  # control-point offset → curvature
        pts = np.array([cx, cy]) + t * length * d + (1 - 4 * t**2) * bend * normal
        thickness = int(rng.integers(1, 3))
    else:
        jitter = rng.normal(0, 0.6, (len(t), 1))
        pts = np.array([cx, cy]) + t * length * d + jitter * normal
        thickness = int(rng.integers(2, 4))
    cv2.polylines(mask, [pts.round().astype(np.int32)], False, 1, thickness, cv2.LINE_8)


def _polygon(kind: str, cx: float, cy: float, r: float, angle: float) -> np.ndarray:
    if kind == "square":
        k, radii = 4, [r]
    elif kind == "triangle":
        k, radii = 3, [r]
    elif kind == "hexagon":
        k, radii = 6, [r]
    elif kind == "star":
        k, radii = 10, [r, r * 0.45]
    else:  # cross: 12-gon of a plus sign
        t = r * 0.35
        pts = np.array([[-t, -r], [t, -r], [t, -t], [r, -t], [r, t], [t, t], [t, r], [-t, r], [-t, t], [-r, t],
                        [-r, -t], [-t, -t]])
        c, s = math.cos(angle), math.sin(angle)
        return (pts @ np.array([[c, s], [-s, c]]) + [cx, cy]).round().astype(np.int32)
    a = angle + np.arange(k) * 2 * math.pi / k
    rad = np.array([radii[j % len(radii)] for j in range(k)])
    return np.stack([cx + rad * np.cos(a), cy + rad * np.sin(a)], 1).round().astype(np.int32)


def draw_shape(mask: np.ndarray, kind: str, cx: float, cy: float, r: float, angle: float) -> None:
    """Fills the shape into a uint8 mask (value 1)."""
    if kind == "circle":
        cv2.circle(mask, (int(round(cx)), int(round(cy))), max(1, int(round(r))), 1, -1, cv2.LINE_8)
    else:
        cv2.fillPoly(mask, [_polygon(kind, cx, cy, r, angle)], 1, cv2.LINE_8)


def background(rng: np.random.Generator, size: int) -> np.ndarray:
    """A textured (gradient + blobs + lines) and noisy (size, size, 3) uint8 background."""
    base = rng.uniform(40, 215, 3)
    ramp = np.linspace(-1, 1, size, dtype=np.float32)
    dx, dy = rng.uniform(-40, 40, (2, 3))
    img = base + ramp[None, :, None] * dx + ramp[:, None, None] * dy
    img = np.broadcast_to(img, (size, size, 3)).astype(np.float32).copy()
    for _ in range(int(rng.integers(2, 6))):  # soft texture: heavily blurred blobs (never shape-like)
        colour = tuple(float(c) for c in rng.uniform(0, 255, 3))
        centre = tuple(int(v) for v in rng.integers(0, size, 2))
        axes = tuple(int(v) for v in rng.integers(size // 8, size // 3, 2))
        cv2.ellipse(img, centre, axes, float(rng.uniform(0, 180)), 0, 360, colour, -1)
    img = cv2.GaussianBlur(img, (0, 0), size / 16)
    for _ in range(int(rng.integers(0, 4))):  # thin clutter lines
        colour = tuple(float(c) for c in rng.uniform(0, 255, 3))
        p1, p2 = rng.integers(0, size, 2), rng.integers(0, size, 2)
        cv2.line(img, tuple(int(v) for v in p1), tuple(int(v) for v in p2), colour, 1)
    img += rng.normal(0, 8, img.shape).astype(np.float32)
    return img.clip(0, 255).astype(np.uint8)


def synth_image(rng: np.random.Generator, size: int, max_objects: int = 6,
                min_visible: float = 0.5, kinds: tuple[str, ...] = SHAPES) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One image (size, size, 3) uint8 RGB, boxes (N, 4) float64 xyxy, class ids (N,) indexing `kinds`."""
    img = background(rng, size)
    label = np.full((size, size), -1, np.int32)  # which object owns each pixel
    objects = []
    for _ in range(int(rng.integers(1, max_objects + 1))):
        k = len(objects)
        side = math.exp(rng.uniform(math.log(8), math.log(0.6 * size)))
        r = side / 2
        cx, cy = rng.uniform(r * 0.6, size - r * 0.6, 2)
        cls = int(rng.integers(len(kinds)))
        mask = np.zeros((size, size), np.uint8)
        if kinds[cls] in THIN_SHAPES:
            draw_thin(mask, kinds[cls], rng, cx, cy, 2 * r, rng.uniform(0, 2 * math.pi))
        else:
            draw_shape(mask, kinds[cls], cx, cy, r, rng.uniform(0, 2 * math.pi) if cls != 0 else 0.0)
        if mask.sum() < (8 if kinds[cls] in THIN_SHAPES else 16):
            continue
        covered = np.bincount(label[mask > 0] + 1, minlength=len(objects) + 2)[1:]
        if any(np.count_nonzero(label == j) - covered[j] < min_visible * a for j, _, a in objects):
            continue  # would hide too much of an earlier shape
        colour = rng.uniform(0, 255, 3)
        while np.abs(colour - img[int(min(cy, size - 1)), int(min(cx, size - 1))]).sum() < 120:
            colour = rng.uniform(0, 255, 3)  # keep every shape visible against its background
        img[mask > 0] = (colour + rng.normal(0, 6, (int(mask.sum()), 3))).clip(0, 255).astype(np.uint8)
        label[mask > 0] = k
        objects.append((k, cls, int(mask.sum())))
    boxes, ids = [], []
    for k, cls, area in objects:
        ys, xs = np.nonzero(label == k)
        boxes.append([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1])
        ids.append(cls)
    return img, np.array(boxes, np.float64).reshape(-1, 4), np.array(ids, np.int64)


def write_synth_dataset(out: str | Path, n_train: int = 200, n_val: int = 50, n_test: int = 0, imgsz: int = 256,
                        seed: int = 0, max_objects: int = 6, thin: bool = False) -> Path:
    """Writes a YOLO dataset (images/, labels/, data.yaml) under `out`; returns data.yaml.

    thin: add the classes "hair" and "scratch" (thin, elongated, variable shapes) to the six.
    """
    out = Path(out)
    kinds = SHAPES + THIN_SHAPES if thin else SHAPES
    data: dict = {"path": ".", "nc": len(kinds), "names": list(kinds)}
    for k, (split, n) in enumerate((("train", n_train), ("val", n_val), ("test", n_test))):
        if n <= 0:
            continue
        (out / "images" / split).mkdir(parents=True, exist_ok=True)
        (out / "labels" / split).mkdir(parents=True, exist_ok=True)
        for i in range(n):
            img, boxes, ids = synth_image(np.random.default_rng([seed, k, i]), imgsz, max_objects, kinds=kinds)
            name = f"{split}_{i:06d}"
            write_image(img, out / "images" / split / f"{name}.png")  # raises naming the file (disk full)
            cxcywh = np.stack([(boxes[:, 0] + boxes[:, 2]) / 2, (boxes[:, 1] + boxes[:, 3]) / 2,
                               boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]], 1) / imgsz
            lines = [f"{c} " + " ".join(repr(float(v)) for v in row) + "\n" for c, row in zip(ids, cxcywh)]
            (out / "labels" / split / f"{name}.txt").write_text("".join(lines), encoding="utf-8")
        data[split] = f"images/{split}"
    path = out / "data.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path
