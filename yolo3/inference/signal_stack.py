"""Keep each thread's alternate signal stack valid around OpenVINO (Linux).

OpenVINO's CPU plugin (2025–2026 releases) gives the thread that compiles a model a
fresh alternate signal stack (an ~11 KiB mmap, sized for AMX state) and, when the
plugin is destroyed, puts back the stack it saw at compile time and unmaps its own.
When two compiled models are destroyed in another order than they were made (what
Python's garbage collector does freely), or on another thread, the thread is left
pointing at an unmapped stack. The next signal that has a handler (Python installs
every handler with SA_ONSTACK: SIGCHLD of a DataLoader worker, SIGTERM, SIGINT, …)
cannot be delivered and the kernel kills the process with SIGSEGV, far from the cause.

`pinned_signal_stack()` wraps every OpenVINO/NNCF call that compiles: before, it
installs a stack that yolo3 owns and never frees (one per thread), so that is what
OpenVINO saves and later restores; after, it collects garbage (destroying the compiled models NNCF made
internally, in whatever order) and installs that stack again. Whatever order models
are destroyed in afterwards, the stack they restore is always the pinned one (or
"none" on a thread that had none) — always valid. Elsewhere than Linux it does nothing.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import os
import sys
import threading
from collections.abc import Iterator

PINNED_BYTES = 64 * 1024
"""Size of a pinned stack: well over a signal frame with every x86 state (AMX: ~ 11 KiB)."""


class _StackT(ctypes.Structure):
    """`stack_t` of <signal.h> on Linux."""

    _fields_ = [("ss_sp", ctypes.c_void_p), ("ss_flags", ctypes.c_int), ("ss_size", ctypes.c_size_t)]


_LIBC = ctypes.CDLL(None, use_errno=True) if sys.platform.startswith("linux") else None
_PINNED: dict[int, ctypes.Array] = {}
"""Pinned stack per thread id, never freed (a reused id reuses its buffer: that thread is gone)."""
_LOCK = threading.Lock()


def current_signal_stack() -> tuple[int, int, int]:
    """(address, size in bytes, flags) of the calling thread's alternate signal stack; (0, 0, 0) off Linux."""
    if _LIBC is None:
        return 0, 0, 0
    old = _StackT()
    if _LIBC.sigaltstack(None, ctypes.byref(old)) != 0:
        raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()))
    return old.ss_sp or 0, old.ss_size, old.ss_flags


def pinned_address() -> int:
    """Address of the stack yolo3 pins on the calling thread (0 off Linux)."""
    if _LIBC is None:
        return 0
    with _LOCK:
        ident = threading.get_ident()
        if ident not in _PINNED:
            _PINNED[ident] = ctypes.create_string_buffer(PINNED_BYTES)
        return ctypes.addressof(_PINNED[ident])


def pin_signal_stack() -> None:
    """Make the pinned stack the calling thread's alternate signal stack (no-op off Linux).

    Skipped while the thread is running on its alternate stack (inside a signal handler),
    where the kernel refuses the change.
    """
    if _LIBC is None:
        return
    pinned = pinned_address()
    address, _, flags = current_signal_stack()
    if address == pinned or flags & 1:  # SS_ONSTACK
        return
    new = _StackT(pinned, 0, PINNED_BYTES)
    if _LIBC.sigaltstack(ctypes.byref(new), None) != 0:
        raise OSError(ctypes.get_errno(), f"sigaltstack: {os.strerror(ctypes.get_errno())}")


@contextlib.contextmanager
def pinned_signal_stack() -> Iterator[None]:
    """Run OpenVINO work so that no thread is left with an unmapped signal stack (see module doc)."""
    pin_signal_stack()
    try:
        yield
    finally:
        gc.collect()
        pin_signal_stack()
