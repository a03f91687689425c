"""`yolo3 serve` under a bounded load from loopback, against `Detector` called directly.

    PYTHONPATH=. python benchmarks/bench_serve.py --clients 8 32 --seconds 30 --threads 2

Starts the real server (`python -m yolo3 serve`, its own process, 127.0.0.1, a free port)
on a random-weight yolov3-tiny ×0.5 at 320 px with calibrated BatchNorm (3 classes; the
cost does not depend on the weight values), then for each client count runs that many
concurrent clients for `--seconds`, each posting distinct images (BCCD's 364 JPEGs, or
synthetic scenes without them) round-robin. Reports images/s, latency p50/p95/p99,
errors (non-200) and mismatches (a response that differs from `Detector`'s direct answer
for that image: classes, boxes within 1e-3 px, scores within 1e-4; a detection whose
score is within 1e-4 of the threshold may be present in one and absent in the other,
since batches of different sizes round differently). The server's RSS is sampled every
0.5 s (/proc/PID/status). The direct baseline, measured in the same run in this process
with the same threads: decode the same bytes + `Detector` on batches of `--max-batch`.
Loopback only; the load is bounded by the client count and the duration.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2
import httpx
import numpy as np
import torch

from yolo3.data.image_io import decode_image
from yolo3.inference.detector import Detector
from yolo3.inference.results import Detections
from yolo3.io.checkpoint import save_model
from yolo3.models import create_model
from yolo3.train.ema import recompute_bn

REPO = Path(__file__).resolve().parents[1]
BCCD = REPO.parent / "shared/datasets/bccd/JPEGImages"


def make_model(path: Path, imgsz: int, width: float, prior_obj: float = 0.005) -> None:
    """Random yolov3-tiny with BN statistics from random batches (so it yields detections)."""
    torch.manual_seed(0)
    model = create_model("yolov3-tiny", num_classes=3, width=width, imgsz=imgsz, class_names=["a", "b", "c"])
    recompute_bn(model.train(), (torch.rand(2, 3, imgsz, imgsz) for _ in range(2)))
    with torch.no_grad():
        for head in model.heads:
            head.conv.weight.view(head.num_anchors, head.num_outputs, -1)[:, 4:].normal_(0.0, 0.15)
            head.init_biases(prior_obj, 0.4)  # a few dozen boxes per image above 0.25, as a trained model
    save_model(path, model.eval())


def load_images(limit: int) -> list[bytes]:
    """Encoded images: BCCD JPEGs as stored, else synthetic PNG scenes of varied sizes."""
    if BCCD.is_dir():
        return [p.read_bytes() for p in sorted(BCCD.glob("*.jpg"))[:limit]]
    rng = np.random.default_rng(0)
    out = []
    for _ in range(limit):
        h, w = int(rng.integers(240, 480)), int(rng.integers(240, 640))
        image = cv2.GaussianBlur(rng.integers(0, 256, (h, w, 3), dtype=np.uint8), (0, 0), 3)
        out.append(cv2.imencode(".png", image)[1].tobytes())
    return out


def matches(answer: dict, ref: Detections, conf: float, tol: float = 1e-4) -> bool:
    """Whether a server answer equals Detector's (see the module docstring)."""
    got = answer["detections"]
    if answer["image"] != {"width": ref.image_size[1], "height": ref.image_size[0]}:
        return False
    used = [False] * len(got)
    for box, score, cls in zip(ref.boxes, ref.scores, ref.class_ids):
        found = next((j for j, d in enumerate(got) if not used[j] and d["class_id"] == cls
                      and abs(d["score"] - score) < tol and np.abs(np.array(d["box"]) - box).max() < 1e-3), None)
        if found is None:
            if score > conf + tol:
                return False
        else:
            used[found] = True
    return all(u or d["score"] < conf + tol for u, d in zip(used, got))


def same_batch_match(detector: Detector, arrays: list[np.ndarray], i: int, answer: dict, alone: list[Detections],
                     batched: list[Detections], conf: float) -> bool:
    """Whether the answer equals Detector's for image i in a batch of the answer's size.

    Batches of different sizes sum floats in different orders; a near-tie in NMS can then
    keep a different box. So the reference is Detector at the same batch size: alone for
    1, the batches of max_batch, else a batch of that size with the next images."""
    n = answer["batch_size"]
    if n == 1:
        return matches(answer, alone[i], conf)
    if n == detector.batch_size and matches(answer, batched[i], conf):
        return True
    with ThreadPoolExecutor(1) as pool:
        ref = pool.submit(lambda: detector([arrays[(i + k) % len(arrays)] for k in range(n)])[0]).result()
    return matches(answer, ref, conf)


def describe(answer: dict, ref: Detections) -> str:
    """A short account of how a server answer differs from Detector's."""
    got = sorted(((d["class_id"], round(d["score"], 6), *[round(v, 3) for v in d["box"]]) for d in answer["detections"]),
                 key=lambda t: -t[1])
    want = sorted(((int(c), round(float(s), 6), *[round(float(v), 3) for v in b])
                   for b, s, c in zip(ref.boxes, ref.scores, ref.class_ids)), key=lambda t: -t[1])
    only_got = [g for g in got if not any(g[0] == w[0] and abs(g[1] - w[1]) < 1e-4 and
                                          max(abs(a - b) for a, b in zip(g[2:], w[2:])) < 1e-3 for w in want)]
    only_want = [w for w in want if not any(g[0] == w[0] and abs(g[1] - w[1]) < 1e-4 and
                                            max(abs(a - b) for a, b in zip(g[2:], w[2:])) < 1e-3 for g in got)]
    return f"{len(got)} vs {len(want)} detections; only in the answer {only_got[:3]}; only in Detector's {only_want[:3]}"


class RssSampler(threading.Thread):
    """Samples a process's resident set size (MiB) every `period` seconds."""

    def __init__(self, pid: int, period: float = 0.5) -> None:
        super().__init__(daemon=True)
        self.pid, self.period, self.samples, self.stop = pid, period, [], threading.Event()

    def cpu_seconds(self) -> float:
        """utime + stime of the process so far."""
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def rss(self, key: str = "VmRSS") -> float:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024
        return float("nan")

    def run(self) -> None:
        while not self.stop.is_set():
            self.samples.append((time.time(), self.rss()))
            time.sleep(self.period)


async def load_phase(base: str, images: list[bytes], clients: int, seconds: float) -> tuple[list, list, float]:
    """`clients` concurrent loops of POST /v1/detect for `seconds` → (records, latencies, wall s)."""
    records: list[tuple[int, int, bytes]] = []  # (image index, status, body)
    latencies: list[float] = []
    counter = iter(range(10**9))
    stop_at = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=base, timeout=120, limits=limits) as client:

        async def one_client() -> None:
            while time.perf_counter() < stop_at:
                i = next(counter) % len(images)
                t = time.perf_counter()
                response = await client.post("/v1/detect", content=images[i], headers={"content-type": "image/jpeg"})
                latencies.append(time.perf_counter() - t)
                records.append((i, response.status_code, response.content))

        start = time.perf_counter()
        await asyncio.gather(*(one_client() for _ in range(clients)))
    return records, latencies, time.perf_counter() - start


def direct_rate(detector: Detector, images: list[bytes], batch: int, seconds: float, worker: bool
                ) -> tuple[float, float]:
    """(images/s, CPU s per image) of decode + `Detector` on batches of `batch` distinct images,
    after 2 warm-up batches; `worker`: called from one worker thread, as the server calls its engine."""

    def run() -> tuple[float, float]:
        chunks = [images[k : k + batch] for k in range(0, len(images) - batch + 1, batch)]
        for chunk in chunks[:2]:
            detector([decode_image(b, "x") for b in chunk])
        done, start, cpu = 0, time.perf_counter(), time.process_time()
        while time.perf_counter() - start < seconds or done < 3 * batch:
            detector([decode_image(b, "x") for b in chunks[(done // batch) % len(chunks)]])
            done += batch
        return done / (time.perf_counter() - start), (time.process_time() - cpu) / done

    if not worker:
        return run()
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(run).result()


def direct_rates(detector: Detector, images: list[bytes], batch: int, seconds: float) -> dict[str, float]:
    """Direct throughput from the main thread and from a worker thread (under CPU
    oversubscription the two differ a lot; the comparison uses the better one)."""
    rates, cpu = {}, {}
    for where in ("main", "worker"):
        rates[where], cpu[where] = direct_rate(detector, images, batch, seconds / 2, where == "worker")
    print(f"direct Detector, batch {batch}: " + ", ".join(
        f"{k} thread {v:.2f} images/s ({cpu[k] * 1e3:.0f} CPU ms/image)" for k, v in rates.items()), flush=True)
    return rates


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, nargs="+", default=[8, 32])
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--imgsz", type=int, default=320)
    parser.add_argument("--width", type=float, default=0.5)
    parser.add_argument("--max-batch", type=int, default=8)
    parser.add_argument("--max-wait-ms", type=float, default=5.0)
    parser.add_argument("--images", type=int, default=400)
    parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N (the server and the direct Detector)")
    parser.add_argument("--precision", default="fp32", help="fp32, bf16, fp16 (CUDA)")
    args = parser.parse_args()
    import json
    import socket

    tmp = Path(tempfile.mkdtemp(prefix="bench_serve_"))
    weights = tmp / "tiny.safetensors"
    make_model(weights, args.imgsz, args.width)
    images = load_images(args.images)
    detector = Detector.load(weights, threads=args.threads, batch_size=args.max_batch, device=args.device,
                             precision=args.precision)
    conf = detector.nms.conf_threshold
    arrays = [decode_image(b, f"image{i}") for i, b in enumerate(images)]
    with ThreadPoolExecutor(1) as pool:  # the reference answers: each image alone, and in batches of max_batch
        refs = pool.submit(lambda: [detector(a)[0] for a in arrays]).result()
        batched = pool.submit(lambda: detector(arrays)).result()  # Detector splits into batches of max_batch
    print(f"{len(images)} distinct images ({'BCCD' if BCCD.is_dir() else 'synthetic'}), "
          f"mean {statistics.mean(len(r) for r in refs):.1f} detections each; torch threads {args.threads}; "
          f"{detector.backend_name} {detector.precision} on {args.device}")

    before = direct_rates(detector, images, args.max_batch, min(args.seconds, 30))

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "yolo3", "serve", "--weights", str(weights), "--port", str(port),
         "--threads", str(args.threads), "--max-batch", str(args.max_batch), "--max-wait-ms", str(args.max_wait_ms),
         "--queue-size", "256", "--timeout", "120", "--device", args.device, "--precision", args.precision],
        cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    for line in server.stdout:
        if "docs:" in line:
            break
    threading.Thread(target=lambda: [None for _ in server.stdout], daemon=True).start()
    sampler = RssSampler(server.pid)
    sampler.start()
    rows = []
    try:
        for clients in args.clients:
            rss_before, server_cpu, client_cpu = sampler.rss(), sampler.cpu_seconds(), time.process_time()
            t0 = time.time()
            records, latencies, wall = asyncio.run(load_phase(base, images, clients, args.seconds))
            thirds = [max([r for t, r in sampler.samples if t0 + k * wall / 3 <= t < t0 + (k + 1) * wall / 3] or [0])
                      for k in range(3)]
            server_cpu = sampler.cpu_seconds() - server_cpu
            client_cpu = time.process_time() - client_cpu
            ok = [(i, json.loads(body)) for i, status, body in records if status == 200]
            errors = len(records) - len(ok)
            alone_differs = sum(not matches(answer, refs[i], conf) for i, answer in ok)
            bad = [(i, answer) for i, answer in ok if not same_batch_match(detector, arrays, i, answer, refs, batched, conf)]
            mismatches = len(bad)
            print(f"  {alone_differs} answers differ from the image-alone answer; {mismatches} from Detector's "
                  "answer at the same batch size", flush=True)
            for i, answer in bad[:3]:
                print(f"  mismatch on image {i} (batch of {answer['batch_size']}): {describe(answer, refs[i])}")
            batches = [a["batch_size"] for _, a in ok]
            timing = {k: statistics.mean(a["timing_ms"][k] for _, a in ok) for k in ok[0][1]["timing_ms"]} if ok else {}
            busy = sum(a["timing_ms"]["forward"] / a["batch_size"] + a["timing_ms"]["postprocess"] for _, a in ok)
            print(f"  mean timing ms {({k: round(v, 1) for k, v in timing.items()})}; "
                  f"inference thread busy {busy / 1e3 / wall:.0%} of the phase", flush=True)
            rows.append((clients, len(ok) / wall, percentile(latencies, 50), percentile(latencies, 95),
                         percentile(latencies, 99), errors, mismatches, statistics.mean(batches) if batches else 0,
                         rss_before, "/".join(f"{r:.0f}" for r in thirds), len(records)))
            print(f"{clients} clients: {rows[-1][1]:.2f} images/s over {wall:.1f} s ({len(records)} requests); "
                  f"CPU ms/image: server {server_cpu / max(1, len(ok)) * 1e3:.0f}, "
                  f"load client {client_cpu / max(1, len(ok)) * 1e3:.0f}", flush=True)
        peak = sampler.rss("VmHWM")
        metrics = httpx.get(f"{base}/metrics").text
    finally:
        sampler.stop.set()
        server.send_signal(signal.SIGTERM)
        code = server.wait(60)
    after = direct_rates(detector, images, args.max_batch, min(args.seconds, 30))
    best = {k: (before[k] + after[k]) / 2 for k in before}
    direct = max(best.values())
    samples = [rss for _, rss in sampler.samples]
    print(f"\nserver exit code after SIGTERM: {code}; RSS samples: first {samples[0]:.0f} MiB, "
          f"max {max(samples):.0f} MiB, last {samples[-1]:.0f} MiB; VmHWM {peak:.0f} MiB")
    print(f"batch-size histogram: {[l for l in metrics.splitlines() if l.startswith('yolo3_batch_size_')][-2:]}\n")
    print("| clients | images/s | × direct batched | p50 ms | p95 ms | p99 ms | errors | mismatches | "
          "mean batch | server RSS before → peak in each third of the phase (MiB) | requests |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for c, ips, p50, p95, p99, err, mis, mb, r0, r1, n in rows:
        print(f"| {c} | {ips:.2f} | {ips / direct:.2f} | {p50 * 1e3:.0f} | {p95 * 1e3:.0f} | {p99 * 1e3:.0f} | "
              f"{err} | {mis} | {mb:.1f} | {r0:.0f} → {r1} | {n} |")
    for where in best:
        print(f"| direct `Detector`, batch {args.max_batch}, {where} thread (before / after the server) | "
              f"{best[where]:.2f} ({before[where]:.2f} / {after[where]:.2f}) | {best[where] / direct:.2f} | | | | | | | | |")


if __name__ == "__main__":
    main()
