"""`yolo3 serve` as a real process on 127.0.0.1: prints its URLs, needs the key from the
environment (never logging it), drains an in-flight request on SIGTERM/SIGINT, exits 0;
and the CLI's one-line errors."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from _serve_utils import encode, free_port, scene, serve_model
from yolo3.cli import main

REPO = Path(__file__).resolve().parents[1]


def start(weights: Path, port: int, *extra: str, env: dict[str, str] | None = None) -> tuple[subprocess.Popen, list[str]]:
    """Starts the server and waits (≤ 60 s) until it printed its docs URL; returns (process, output lines)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "yolo3", "serve", "--weights", str(weights), "--port", str(port), "--threads", "1",
         "--access-log", *extra],
        cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO), **(env or {})},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    lines: list[str] = []
    threading.Thread(target=lambda: lines.extend(iter(proc.stdout.readline, "")), daemon=True).start()
    deadline = time.time() + 60
    while not any("docs:" in line for line in lines):
        if proc.poll() is not None or time.time() > deadline:
            proc.kill()
            pytest.fail(f"server did not start (exit {proc.poll()}):\n{''.join(lines)}")
        time.sleep(0.05)
    return proc, lines


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_drains_in_flight_request_then_exits_0(tmp_path: Path, sig: signal.Signals) -> None:
    port = free_port()
    # a lone request waits up to 1.5 s for batch partners: it is in flight when the signal comes
    proc, lines = start(serve_model(tmp_path), port, "--max-wait-ms", "1500", env={"YOLO3_API_KEY": "k3y-123"})
    try:
        text = "".join(lines)
        assert f"page: http://127.0.0.1:{port}/" in text and f"docs: http://127.0.0.1:{port}/docs" in text
        base = f"http://127.0.0.1:{port}"
        assert httpx.get(f"{base}/readyz").json() == {"status": "ready"}
        assert httpx.post(f"{base}/v1/detect", content=encode(scene(64, 64, 1))).status_code == 401  # key from env
        result: dict[str, httpx.Response] = {}
        request = threading.Thread(target=lambda: result.setdefault("r", httpx.post(
            f"{base}/v1/detect", content=encode(scene(64, 64, 2)), headers={"Authorization": "Bearer k3y-123"},
            timeout=30)))
        request.start()
        time.sleep(0.6)
        assert "r" not in result  # still waiting in the batcher
        proc.send_signal(sig)
        request.join(30)
        assert proc.wait(30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    assert result["r"].status_code == 200 and result["r"].json()["image"] == {"width": 64, "height": 64}
    text = "".join(lines)
    assert f"stopped by {sig.name}" in text and "POST /v1/detect" in text  # the access log ran…
    assert "k3y-123" not in text  # …and never printed the key
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{port}/healthz")


def test_cli_errors_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    weights = serve_model(tmp_path)
    cases = [
        (["--weights", str(tmp_path / "missing.safetensors")], "missing.safetensors"),
        (["--weights", str(weights), "--backend", "onnxruntime"], "--backend onnxruntime cannot run a checkpoint"),
        (["--weights", str(weights), "--precision", "int8"], "int8 needs a quantised model"),
        (["--weights", str(weights), "--device", "cuda:7"], "--device 'cuda:7'"),
        (["--weights", str(weights), "--port", "70000"], "port=70000 is out of range"),
    ]
    for args, words in cases:
        assert main(["serve", *args]) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("yolo3 serve: error: ") and words in err and "\n" not in err, err
    with socket_in_use() as port:
        assert main(["serve", "--weights", str(weights), "--port", str(port)]) == 2
        assert f"cannot listen on 127.0.0.1:{port}" in capsys.readouterr().err


class socket_in_use:
    """A port some other socket is listening on."""

    def __enter__(self) -> int:
        import socket

        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        return self.sock.getsockname()[1]

    def __exit__(self, *exc) -> None:
        self.sock.close()


def test_serve_takes_preprocess_as_detect_does(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`yolo3 serve` had no --preprocess: converted official darknet weights could be served
    only with yolo3's letterbox, so the server's boxes differed from `detect --preprocess
    darknet`'s. The option reaches the served Detector (and the default stays yolo3's)."""
    import yolo3.serve.run as serve_run

    served: list = []
    monkeypatch.setattr(serve_run, "create_app", lambda detector, config: served.append(detector) or "app")
    monkeypatch.setattr(serve_run, "run_app", lambda app, config, *args, **kwargs: 0)
    weights = serve_model(tmp_path)
    assert main(["serve", "--weights", str(weights), "--backend", "torch", "--preprocess", "darknet"]) == 0
    assert main(["serve", "--weights", str(weights), "--backend", "torch"]) == 0
    assert [d.preprocess for d in served] == ["darknet", "yolo3"]
