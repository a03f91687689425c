"""ops/allocator.py: freed big tensors stay in the process, so reusing them does not page-fault.

Each case runs in a fresh interpreter (the malloc setting lasts for the process) and
counts the kernel's minor page faults (getrusage) while a 64 MiB tensor is allocated,
filled and freed, step after step: 16,384 fresh 4 KiB pages per step when glibc returns
the block to the kernel, next to none in the twelfth step when it keeps it (the first
steps grow the heap: glibc's aligned blocks leave holes a little too small to reuse
until a few freed neighbours merge).
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys

import pytest

PROBE = """
import resource, sys, torch
from yolo3.ops.allocator import keep_freed_memory
applied = keep_freed_memory()
n = 64 * 2**20 // 4
for step in range(12):  # like training steps: the same big tensor allocated, touched, freed
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    torch.empty(n).fill_(float(step))
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
print(int(applied), faults)
"""
PAGES = 64 * 2**20 // 4096

glibc_linux = pytest.mark.skipif(platform.system() != "Linux" or platform.libc_ver()[0] != "glibc",
                                 reason="mallopt is glibc's")


def probe(**env: str) -> tuple[bool, int]:
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True,
                         env={**os.environ, **env}).stdout.split()
    return bool(int(out[0])), int(out[1])


@glibc_linux
def test_a_freed_big_tensor_is_reused_without_page_faults():
    applied, faults = probe(YOLO3_KEEP_ALLOCATIONS="1")
    assert applied
    assert faults < PAGES // 20, f"{faults} page faults refilling a 64 MiB tensor (of {PAGES} pages)"


@glibc_linux
def test_the_switch_leaves_glibc_defaults():
    applied, _ = probe(YOLO3_KEEP_ALLOCATIONS="0")
    assert not applied  # the fault count then depends on the kernel (transparent huge pages), not asserted


def test_the_switch_is_read_once_per_process(monkeypatch):
    import yolo3.ops.allocator as allocator

    monkeypatch.setattr(allocator, "_applied", None)
    monkeypatch.setenv(allocator.ENV_SWITCH, "0")
    assert allocator.keep_freed_memory() is False
    monkeypatch.setenv(allocator.ENV_SWITCH, "1")
    assert allocator.keep_freed_memory() is False  # decided once per process: a setting never half-applies
