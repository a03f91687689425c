"""Keeping freed tensor memory in the process (glibc), so big CPU tensors do not page-fault.

glibc's malloc serves every allocation over its mmap threshold (at most 32 MiB) with a
fresh `mmap` and returns it to the kernel on `free`. A training batch's activations are
larger than that (yolov3-tiny ×0.5 at 416, batch 16: the first layer's output is 44 MiB
in bf16), so every layer of every step maps new pages and the kernel zeroes each 4 KiB
page on first touch. Measured on a 2-core AMD EPYC (benchmarks/RESULTS.md, "The
allocator", `benchmarks/bench_allocator.py`): the BCCD recipe's whole training loop
went from 28.0 to 34.8 images/s when freed memory was kept instead, and batch-1
inference's read + letterbox + post-processing from 3.06-3.38 to 2.21-3.00 ms
(`benchmarks/bench_backends.py`, 4 rounds each; there the freed blocks are small, and
what the setting spares is, as far as we can tell, glibc trimming the heap between
calls). `mallopt(M_MMAP_MAX, 0)` makes malloc take big blocks from the heap and
`M_TRIM_THRESHOLD` keeps freed heap memory for the next step.
The cost is memory: the process keeps its peak until it exits, and glibc's aligned
blocks leave holes, so the heap settles above the peak (training: +14 % peak RSS,
985 → 1,125 MiB; a lone 64 MiB tensor reallocated in a loop: 512 MiB of heap).
Set `YOLO3_KEEP_ALLOCATIONS=0` to leave glibc's defaults alone.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import platform

M_TRIM_THRESHOLD = -1  # glibc <malloc.h>
M_MMAP_MAX = -4
KEEP_TRIM_THRESHOLD = 2**31 - 1  # bytes of free heap top kept before trimming (an int for mallopt)
ENV_SWITCH = "YOLO3_KEEP_ALLOCATIONS"

_applied: bool | None = None


def keep_freed_memory() -> bool:
    """Tells glibc's malloc to serve big blocks from the heap and keep them when freed.

    Returns whether the setting is in force: False off Linux/glibc (macOS, Windows, musl
    have other allocators), when `YOLO3_KEEP_ALLOCATIONS=0`, or if mallopt refuses.
    Idempotent; forked DataLoader workers inherit it.
    """
    global _applied
    if _applied is not None:
        return _applied
    _applied = False
    if os.environ.get(ENV_SWITCH, "1") == "0" or platform.system() != "Linux":
        return False
    if platform.libc_ver()[0] != "glibc":
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    # mallopt returns 1 on success, 0 on error
    _applied = bool(mallopt(M_MMAP_MAX, 0)) and bool(mallopt(M_TRIM_THRESHOLD, KEEP_TRIM_THRESHOLD))
    return _applied
