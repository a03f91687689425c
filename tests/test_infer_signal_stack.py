"""OpenVINO must not leave a thread with an unmapped alternate signal stack.

Found by a core dump of a crashed test worker: OpenVINO's CPU plugin swaps in its own
signal stack at compile time and, when destroyed, puts back the one it saw then; two
models destroyed first-in-first-out (or on another thread) leave the thread on an
unmapped stack, and the next handled signal (a DataLoader worker's SIGCHLD) kills the
process with SIGSEGV. Without `pinned_signal_stack` the checks below fail: the stack
is unmapped and the child process dies with -11.
"""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import pytest

pytest.importorskip("openvino")
if not sys.platform.startswith("linux"):
    pytest.skip("alternate signal stacks are managed here on Linux only", allow_module_level=True)

import openvino as ov  # noqa: E402
import torch  # noqa: E402

from yolo3.inference.openvino_backend import OpenVINOBackend  # noqa: E402
from yolo3.inference.signal_stack import current_signal_stack  # noqa: E402

def tiny():
    """A one-convolution OpenVINO model: compiling it is all the tests need."""
    return ov.convert_model(torch.nn.Conv2d(3, 4, 3), example_input=torch.zeros(1, 3, 8, 8))


def _mapped(address: int) -> bool:
    with open("/proc/self/maps", encoding="ascii") as maps:
        for line in maps:
            start, end = (int(x, 16) for x in line.split()[0].split("-"))
            if start <= address < end:
                return True
    return False


def test_models_destroyed_first_in_first_out_leave_a_mapped_stack() -> None:
    first, second = OpenVINOBackend(tiny()), OpenVINOBackend(tiny())
    del first
    del second
    address, size, flags = current_signal_stack()
    assert flags & 2 or (_mapped(address) and _mapped(address + size - 1)), (hex(address), size, flags)


def test_a_model_compiled_on_another_thread_and_destroyed_here_leaves_a_mapped_stack() -> None:
    made = []
    worker = threading.Thread(target=lambda: made.append(OpenVINOBackend(tiny())))
    worker.start()
    worker.join()
    kept = OpenVINOBackend(tiny())
    made.clear()
    del kept
    address, size, flags = current_signal_stack()
    assert flags & 2 or (_mapped(address) and _mapped(address + size - 1)), (hex(address), size, flags)


def test_a_handled_signal_after_out_of_order_destruction_is_delivered() -> None:
    """The crash itself, in a child process: SIGUSR1 with a Python handler after FIFO destruction."""
    script = f"""
import faulthandler, os, signal, sys
sys.path.insert(0, {str(Path(__file__).parent)!r})
from test_infer_signal_stack import OpenVINOBackend, tiny
faulthandler.enable()
first, second = OpenVINOBackend(tiny()), OpenVINOBackend(tiny())
del first
del second
got = []
signal.signal(signal.SIGUSR1, lambda s, f: got.append(s))
os.kill(os.getpid(), signal.SIGUSR1)
print("delivered", got == [signal.SIGUSR1])
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, (done.returncode, done.stderr[-2000:])
    assert "delivered True" in done.stdout
