"""Micro-batching: concurrent requests share one forward pass, each keeps its own answer.

Requests put a `Job` (one decoded image + its own post-processing settings) into a
bounded queue. One worker task takes the oldest job, waits at most `max_wait_s` (from
that job's arrival) for others to join, up to `max_batch`, and runs
`Detector.forward` once on all their images in a worker thread (the event loop keeps
serving). Then each job's predictions go through `Detector.finish` with that job's own
thresholds, class subset and ROI — exactly what a single `Detector` call would do — and
its future gets its own `Detections`. Under load the queue fills while a batch runs, so
the next batch is full at once.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import math
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from yolo3.inference.detector import Detector
from yolo3.inference.postprocess import NMSConfig
from yolo3.inference.results import Detections
from yolo3.serve.metrics import Metrics


class QueueFullError(RuntimeError):
    """The queue is at its bound; `retry_after_s` estimates when there is room again."""

    def __init__(self, retry_after_s: int) -> None:
        super().__init__(f"server busy: the queue is full; retry after {retry_after_s} s")
        self.retry_after_s = retry_after_s


@dataclasses.dataclass
class Job:
    """One image waiting for a forward pass.

    image: (h, w, 3) uint8 RGB; cfg / roi: this request's post-processing;
    future: resolved with (Detections, timing dict in ms).
    """

    image: np.ndarray
    cfg: NMSConfig
    roi: Any
    future: asyncio.Future
    enqueued: float = dataclasses.field(default_factory=time.perf_counter)


class MicroBatcher:
    """Groups concurrent jobs into batches of at most `max_batch` for one `Detector`."""

    def __init__(self, detector: Detector, max_batch: int = 8, max_wait_s: float = 0.005, queue_size: int = 64,
                 metrics: Metrics | None = None) -> None:
        self.detector = detector
        self.max_batch = max_batch
        self.max_wait_s = max_wait_s
        self.queue_size = queue_size
        self.metrics = metrics or Metrics()
        self._pending: collections.deque[Job] = collections.deque()
        self._wakeup = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._task: asyncio.Task | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._batch_seconds = 0.1  # running estimate of one forward pass, for Retry-After

    async def start(self) -> None:
        """Starts the worker task and its inference thread (one: forward passes never overlap)."""
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="yolo3-infer")
        self._task = asyncio.create_task(self._run(), name="yolo3-batcher")

    async def stop(self) -> None:
        """Finishes every queued and running job (drain), then stops the worker."""
        while self._pending or not self._idle.is_set():
            await asyncio.sleep(0.005)
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None

    async def warmup(self, images: list[np.ndarray]) -> None:
        """One forward pass outside the queue, on the inference thread (first-call costs)."""
        def run() -> None:
            preds, infos = self.detector.forward(images)
            for pred, info, image in zip(preds, infos, images):
                self.detector.finish(pred, info, "warmup", self.detector.nms, image=image)

        await asyncio.get_running_loop().run_in_executor(self._executor, run)

    async def submit(self, image: np.ndarray, cfg: NMSConfig, roi: Any, timeout_s: float) -> tuple[Detections, dict]:
        """Queues one image; returns its (Detections, timing_ms). QueueFullError when the
        queue is at its bound; TimeoutError after `timeout_s` (the job is then dropped)."""
        if self._task is None:
            raise RuntimeError("the batcher is not running")
        if len(self._pending) >= self.queue_size:
            batches_ahead = math.ceil(len(self._pending) / self.max_batch) + 1
            raise QueueFullError(max(1, math.ceil(batches_ahead * self._batch_seconds)))
        job = Job(image, cfg, roi, asyncio.get_running_loop().create_future())
        self._pending.append(job)
        self.metrics.queue_depth.set(len(self._pending))
        self._wakeup.set()
        return await asyncio.wait_for(job.future, timeout_s)

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            while not self._pending:
                self._wakeup.clear()
                await self._wakeup.wait()
            deadline = self._pending[0].enqueued + self.max_wait_s
            while len(self._pending) < self.max_batch and (remaining := deadline - time.perf_counter()) > 0:
                self._wakeup.clear()
                try:
                    await asyncio.wait_for(self._wakeup.wait(), remaining)
                except TimeoutError:
                    break
            batch = [self._pending.popleft() for _ in range(min(self.max_batch, len(self._pending)))]
            self.metrics.queue_depth.set(len(self._pending))
            live = [job for job in batch if not job.future.done()]  # timed-out jobs are dropped
            if not live:
                continue
            self._idle.clear()
            try:
                results = await loop.run_in_executor(self._executor, self._infer, live)
            except Exception as err:  # the whole batch failed: every request gets the error
                for job in live:
                    if not job.future.done():
                        job.future.set_exception(err)
            else:
                for job, result in zip(live, results):
                    if not job.future.done():
                        job.future.set_result(result)
            finally:
                self._idle.set()

    def _infer(self, jobs: list[Job]) -> list[tuple[Detections, dict]]:
        """Runs on the inference thread: one forward for all jobs, then each job's own controls."""
        start = time.perf_counter()
        preds, infos = self.detector.forward([job.image for job in jobs])
        forward_end = time.perf_counter()
        out = []
        for job, pred, info in zip(jobs, preds, infos):
            t0 = time.perf_counter()
            dets = self.detector.finish(pred, info, "request", job.cfg, job.roi, image=job.image)
            timing = {"queue": (start - job.enqueued) * 1e3, "forward": (forward_end - start) * 1e3,
                      "postprocess": (time.perf_counter() - t0) * 1e3, "batch_size": len(jobs)}
            out.append((dets, timing))
        seconds = time.perf_counter() - start
        self._batch_seconds = 0.8 * self._batch_seconds + 0.2 * seconds
        self.metrics.batch_size.observe(len(jobs))
        self.metrics.inference.observe(seconds)
        return out
