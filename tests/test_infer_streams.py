"""Streams through OpenCV: http(s) image and video URLs (served here by a loopback
HTTP server), webcam indices and rtsp URLs, with a clear error when OpenCV cannot open one."""

from __future__ import annotations

import functools
import http.server
import json
import threading
from pathlib import Path

import cv2
import numpy as np
import pytest

from yolo3 import YOLO
from yolo3.cli import main
from yolo3.inference.sources import SourceError, expand_sources, open_video, read_url_image

from _infer_utils import random_image, saved_model


@pytest.fixture()
def server(tmp_path: Path):
    """Serves tmp_path/www on 127.0.0.1 (a free port); yields the base URL."""
    www = tmp_path / "www"
    www.mkdir()
    handler = functools.partial(_QuietHandler, directory=str(www))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield www, f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


def _video(path: Path, frames: int, size=(64, 48)) -> list[np.ndarray]:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10, size)
    for i in range(frames):
        writer.write(random_image(size[1], size[0], seed=i))
    writer.release()
    capture = cv2.VideoCapture(str(path))  # what the decoder gives back (mp4v is lossy)
    out = []
    while True:
        ok, frame = capture.read()
        if not ok:
            return out
        out.append(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))


def test_sources_recognise_webcams_and_urls() -> None:
    cam, rtsp, img, vid = expand_sources(["0", "rtsp://cam.local/live", "https://x.org/a/b.JPG?s=1", "http://x.org/v"])
    assert (cam.kind, cam.url, cam.path) == ("video", "0", Path("webcam0"))
    assert (rtsp.kind, rtsp.url, rtsp.path) == ("video", "rtsp://cam.local/live", Path("live"))
    assert (img.kind, img.path) == ("image", Path("b.JPG")) and (vid.kind, vid.path) == ("video", Path("v"))


def test_image_and_video_urls_decode_like_the_files(server) -> None:
    www, base = server
    image = random_image(48, 64, 7)
    cv2.imwrite(str(www / "a.png"), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    assert np.array_equal(read_url_image(f"{base}/a.png"), image)  # png: lossless
    frames = _video(www / "v.mp4", 4)
    capture, info = open_video(f"{base}/v.mp4")
    got = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        got.append(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
    capture.release()
    assert info.size == (64, 48) and len(got) == 4 and all(np.array_equal(a, b) for a, b in zip(got, frames))


def test_detect_and_predict_on_urls(server, tmp_path: Path) -> None:
    www, base = server
    image = random_image(96, 96, 3)
    cv2.imwrite(str(www / "a.png"), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    frames = _video(www / "v.mp4", 3, (96, 96))
    weights = saved_model(tmp_path)
    model = YOLO(weights)
    from_url = model.predict([f"{base}/a.png", f"{base}/v.mp4"], conf=0.2)
    from_arrays = model.predict(image, conf=0.2) + model.predict(frames, conf=0.2)  # same batches
    assert len(from_url) == 4 and from_url[0].source == f"{base}/a.png" and from_url[3].source == f"{base}/v.mp4#2"
    for a, b in zip(from_url, from_arrays):
        assert np.array_equal(a.boxes, b.boxes) and np.array_equal(a.scores, b.scores)
    out = tmp_path / "det"
    assert main(["detect", f"{base}/a.png", f"{base}/v.mp4", "--weights", str(weights), "--out", str(out),
                 "--conf", "0.2"]) == 0
    records = json.loads((out / "predictions.json").read_text())
    assert {r["image_id"] for r in records} <= {"a", "v_000000", "v_000001", "v_000002"}
    assert len(records) == sum(len(d) for d in from_url)
    assert (out / "a.png").is_file() and (out / "v.mp4").is_file()


def test_unopenable_streams_are_one_clear_error(server, tmp_path: Path, capsys) -> None:
    _, base = server
    with pytest.raises(SourceError, match=r"webcam 97: OpenCV cannot open it \(no camera at that index"):
        open_video("97")
    with pytest.raises(SourceError, match="OpenCV cannot open this URL"):
        read_url_image(f"{base}/missing.jpg")
    with pytest.raises(SourceError, match="OpenCV cannot open this URL"):
        open_video("rtsp://127.0.0.1:1/none")
    weights = saved_model(tmp_path)
    assert main(["detect", f"{base}/missing.mp4", "--weights", str(weights), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err == (f"yolo3 detect: error: {base}/missing.mp4: OpenCV cannot open this URL (unreachable, not found, "
                   "or a format its FFmpeg lacks); check it plays in a media player, or download it and pass the file")
