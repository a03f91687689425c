"""Inference and training-step speed on a CUDA GPU, fp32 / fp16 / bf16 side by side.

    PYTHONPATH=. python benchmarks/bench_cuda.py --archs yolov3-tiny yolov3 --imgsz 416

For each architecture (random weights, 80 classes, BatchNorm statistics from random
batches so activations stay O(1); the cost does not depend on the weight values):
  forward b1     the prepared model alone (BN folded, channels-last), batch 1, ms
  end-to-end b1  `Detector` on one decoded 640×480 image: letterbox on the CPU, copy,
                 forward, decode, NMS, boxes back to image pixels, ms
  throughput     `Detector` on 256 decoded images in batches of --batch, images/s
                 (every image at max_det = 300 boxes: the post-processing's worst case)
  train step     forward + loss + backward + SGD step on a fixed batch of --train-batch
                 (no data loading: the ceiling a loader has to feed), images/s
fp32 runs as PyTorch's default does (TF32 off for matmuls, on for cuDNN convolutions).
Also: fp16/bf16 detections against fp32 (share of fp32 boxes found at IoU ≥ 0.9).
Times are medians of CUDA-synchronised wall clocks after warm-up. A dry run of the script
on CPU: `--device cpu --precisions fp32 bf16 --archs yolov3-tiny --imgsz 64 --runs 2`.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import time

import numpy as np
import torch

from yolo3.inference.backends import TorchBackend
from yolo3.inference.detector import Detector
from yolo3.inference.postprocess import NMSConfig
from yolo3.losses.yolo_loss import YOLOLoss
from yolo3.models import create_model
from yolo3.ops.boxes import box_iou
from yolo3.train.ema import recompute_bn

PRECISIONS = ("fp32", "fp16", "bf16")
AMP = {"fp32": None, "fp16": torch.float16, "bf16": torch.bfloat16}


def sync() -> None:
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def timed(fn, runs: int, warmup: int = 3) -> float:
    """Median seconds of `fn()` (CUDA-synchronised) over `runs` after `warmup` calls."""
    for _ in range(warmup):
        fn()
    sync()
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def images(n: int, seed: int = 0) -> list[np.ndarray]:
    """Decoded RGB 480×640 images of blurred noise and rectangles."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        image = rng.integers(0, 256, (480, 640, 3), dtype=np.uint8)
        for _ in range(5):
            x, y = int(rng.integers(0, 560)), int(rng.integers(0, 400))
            image[y:y + 80, x:x + 80] = rng.integers(0, 256, 3, dtype=np.uint8)
        out.append(image)
    return out


def agreement(ref, other) -> float:
    """Share of `ref`'s boxes that `other` has with the same class at IoU ≥ 0.9 (zero-area
    boxes, which a random model makes, match only an equal box)."""
    total = hits = 0
    for a, b in zip(ref, other):
        iou = box_iou(torch.from_numpy(a.boxes), torch.from_numpy(b.boxes)).numpy()
        equal = (a.boxes[:, None, :] == b.boxes[None, :, :]).all(-1)
        same_class = a.class_ids[:, None] == b.class_ids[None, :]
        hits += int((((iou >= 0.9) | equal) & same_class).any(1).sum())
        total += len(a.boxes)
    return hits / max(total, 1)


def train_step_rate(arch: str, imgsz: int, batch: int, precision: str, runs: int, device: str) -> float:
    """images/s of forward + loss + backward + SGD step on one fixed random batch."""
    torch.manual_seed(0)
    model = create_model(arch, num_classes=80, imgsz=imgsz).to(device).train().to(memory_format=torch.channels_last)
    loss_fn = YOLOLoss(model)
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-4, momentum=0.9)
    scaler = torch.amp.GradScaler(device, enabled=precision == "fp16")
    x = torch.rand(batch, 3, imgsz, imgsz, device=device).contiguous(memory_format=torch.channels_last)
    # one box per image, [batch_index, class, x1, y1, x2, y2] in input pixels
    box = [0.3 * imgsz, 0.35 * imgsz, 0.5 * imgsz, 0.65 * imgsz]
    targets = torch.tensor([[i, i % 80, *box] for i in range(batch)], device=device)

    def step() -> None:
        with torch.autocast(torch.device(device).type, dtype=AMP[precision], enabled=AMP[precision] is not None):
            outputs = model(x)
        loss, _ = loss_fn([o.float() for o in outputs], targets)
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
        optimizer.zero_grad(set_to_none=True)

    return batch / timed(step, runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--archs", nargs="+", default=["yolov3-tiny", "yolov3"])
    parser.add_argument("--imgsz", type=int, default=416)
    parser.add_argument("--batch", type=int, default=32, help="Detector batch for the throughput row")
    parser.add_argument("--train-batch", type=int, default=32)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--precisions", nargs="+", default=list(PRECISIONS))
    parser.add_argument("--frames", type=int, default=256, help="images of the throughput row")
    args = parser.parse_args()
    torch.backends.cudnn.benchmark = True
    if torch.cuda.is_available():
        smi = subprocess.run(["nvidia-smi", "--query-gpu=name,driver_version,memory.total", "--format=csv,noheader"],
                             capture_output=True, text=True).stdout.strip()
        print(f"GPU: {smi}; torch {torch.__version__}, CUDA {torch.version.cuda}, "
              f"cuDNN {torch.backends.cudnn.version()}")
    frames = images(args.frames)
    nms = NMSConfig(conf_threshold=0.25, iou_threshold=0.45)
    print("| model | precision | forward b1 (ms) | end-to-end b1 (ms) | throughput b{} (img/s) | train step b{} (img/s) "
          "| boxes / image | agreement with fp32 |".format(args.batch, args.train_batch))
    print("|---|---|---|---|---|---|---|---|")
    for arch in args.archs:
        torch.manual_seed(0)
        model = create_model(arch, num_classes=80, imgsz=args.imgsz)
        recompute_bn(model.train(), (torch.rand(2, 3, args.imgsz, args.imgsz) for _ in range(2)))
        with torch.no_grad():  # scores that vary between cells; with 80 classes every image reaches
            # max_det (300) detections at conf 0.25: the worst case for the post-processing
            for head in model.heads:
                head.conv.weight.view(head.num_anchors, head.num_outputs, -1)[:, 4:].normal_(0.0, 0.15)
                head.init_biases(0.005, 0.4)
        model.eval()
        reference = None
        for precision in args.precisions:
            backend = TorchBackend(model, precision, device=args.device)
            detector = Detector(backend, model.cfg.class_names or [str(i) for i in range(80)], args.imgsz,
                                nms=nms, batch_size=args.batch)
            x = torch.rand(1, 3, args.imgsz, args.imgsz, device=args.device)
            forward = timed(lambda b=backend: b(x), args.runs)  # bound now: both are deleted below
            e2e = timed(lambda d=detector: d(frames[0]), args.runs)
            bulk = timed(lambda d=detector: d(frames), 3, warmup=1)
            results = detector(frames[:64])  # compared with fp32's below
            reference = results if precision == "fp32" else reference
            step = train_step_rate(arch, args.imgsz, args.train_batch, precision, max(args.runs // 3, 2), args.device)
            boxes = statistics.mean(len(r.boxes) for r in results)
            print(f"| {arch} | {precision} | {forward * 1e3:.2f} | {e2e * 1e3:.2f} | {len(frames) / bulk:.0f} "
                  f"| {step:.0f} | {boxes:.1f} | {agreement(reference, results):.3f} |")
            del backend, detector
            if torch.cuda.is_available():
                torch.cuda.empty_cache()
    if torch.cuda.is_available():
        print(f"peak GPU memory {torch.cuda.max_memory_allocated() / 2**30:.1f} GiB")


if __name__ == "__main__":
    main()
