"""The serve page in a real browser (Debian's chromium driven by Playwright): upload
images, the drawn boxes equal the API's answer; the slider, a class checkbox and a drawn
ROI change what is drawn exactly as the API says; the JSON download holds the answers.

`make test` installs chromium where it can (root + apt-get); elsewhere this test skips
and says why. YOLO3_SCREENSHOT=docs/serve.png saves the page for the README.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
import time
from pathlib import Path

import httpx
import pytest
import uvicorn

from _serve_utils import encode, scene, serve_model
from yolo3.inference.detector import Detector
from yolo3.inference.postprocess import NMSConfig
from yolo3.serve import ServeConfig, create_app
from yolo3.serve.run import bind

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = os.environ.get("YOLO3_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"


def _browser_or_skip():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("browser test skipped: playwright is not installed (pip install -e '.[dev]')")
    if not Path(CHROMIUM).is_file():
        pytest.skip(f"browser test skipped: no chromium at {CHROMIUM} (apt-get install chromium, as root)")
    return sync_playwright


@pytest.fixture
def sync_playwright():
    """Playwright's sync API, or a skip that says what is missing (before any server starts)."""
    return _browser_or_skip()


@pytest.fixture
def server(tmp_path: Path):
    """A real uvicorn server on 127.0.0.1 (free port) in a thread; yields its base URL."""
    detector = Detector.load(serve_model(tmp_path, imgsz=128), nms=NMSConfig(conf_threshold=0.25), threads=1,
                             backend="torch")
    config = ServeConfig(port=0)
    sock = bind("127.0.0.1", 0)
    server = uvicorn.Server(uvicorn.Config(create_app(detector, config), log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.time() + 30
    while not server.started and time.time() < deadline:
        time.sleep(0.02)
    assert server.started, "uvicorn did not start"
    yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    server.should_exit = True
    thread.join(15)
    sock.close()


def api(base: str, path: Path, **fields: str) -> list[dict]:
    response = httpx.post(f"{base}/v1/detect", files={"image": (path.name, path.read_bytes())}, data=fields)
    assert response.status_code == 200, response.text
    return response.json()["detections"]


def shown(dets: list[dict], conf: float, hidden: set[str] = frozenset()) -> list[dict]:
    """What the page should draw: score ≥ the slider, class not unchecked."""
    return [d for d in dets if d["score"] >= conf and d["class_name"] not in hidden]


def assert_same(got: list[dict], expected: list[dict]) -> None:
    """Same detections in the same order: classes, scores within 1e-5 (the page's two uploads
    share a forward pass, the API check runs alone), boxes within 1e-3 px."""
    assert len(got) == len(expected)
    for d, e in zip(got, expected):
        assert d["class_id"] == e["class_id"] and abs(d["score"] - e["score"]) < 1e-5
        assert max(abs(a - b) for a, b in zip(d["box"], e["box"])) < 1e-3


def assert_drawn(page, index: int, expected: list[dict]) -> None:
    drawn = page.evaluate(f"window.yolo3State.items[{index}].drawn")
    assert len(drawn) == int(page.locator("canvas").nth(index).get_attribute("data-drawn"))
    assert_same(drawn, expected)


def idle(page) -> None:
    page.wait_for_function("window.yolo3State.pending === 0 && window.yolo3State.items.length > 0 && "
                           "window.yolo3State.items.every(i => (i.result || i.error) && i.image)", timeout=30_000)


def test_page_draws_the_api_answer_and_filters(sync_playwright, server: str, tmp_path: Path) -> None:
    paths = []
    for i, (h, w) in enumerate([(240, 320), (200, 260)]):
        paths.append(tmp_path / f"scene{i}.png")
        paths[-1].write_bytes(encode(scene(h, w, seed=20 + i)))
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM)
        try:
            page = browser.new_page(viewport={"width": 1000, "height": 480})
            errors: list[str] = []
            page.on("pageerror", lambda err: errors.append(str(err)))
            page.goto(server + "/")
            page.wait_for_selector("#classes input[type=checkbox]")
            page.set_input_files("#files", [str(x) for x in paths])
            idle(page)
            request_conf = page.evaluate("window.yolo3State.requestConf")
            answers = [api(server, x, conf=str(request_conf)) for x in paths]
            conf = float(page.input_value("#conf"))
            assert conf == 0.25  # the server's default threshold
            for i, answer in enumerate(answers):
                assert_drawn(page, i, shown(answer, conf))
            assert len(shown(answers[0], conf)) >= 3

            page.focus("#conf")  # the slider, moved with the keyboard: 0.25 → 0.40
            for _ in range(15):
                page.keyboard.press("ArrowRight")
            assert abs(float(page.input_value("#conf")) - 0.40) < 1e-9
            for i, answer in enumerate(answers):
                assert_drawn(page, i, shown(answer, 0.40))
            assert len(shown(answers[0], 0.40)) < len(shown(answers[0], conf))

            page.uncheck("#classes input[name=car]")
            for i, answer in enumerate(answers):
                assert_drawn(page, i, shown(answer, 0.40, {"car"}))
            assert len(shown(answers[0], 0.40, {"car"})) < len(shown(answers[0], 0.40))
            page.check("#classes input[name=car]")
            for _ in range(15):
                page.focus("#conf")
                page.keyboard.press("ArrowLeft")

            # draw a rectangle ROI on the first image (left half) and re-run with it
            page.click("#roi-rect")
            canvas = page.locator("canvas").first.bounding_box()
            scale = canvas["width"] / 320
            page.mouse.move(canvas["x"] + 5 * scale, canvas["y"] + 5 * scale)
            page.mouse.down()
            page.mouse.move(canvas["x"] + 100 * scale, canvas["y"] + 120 * scale, steps=5)
            page.mouse.move(canvas["x"] + 160 * scale, canvas["y"] + 230 * scale, steps=5)
            page.mouse.up()
            roi = page.evaluate("window.yolo3State.items[0].roi")
            assert len(roi) == 4 and abs(roi[2][0] - 160) < 2 and abs(roi[2][1] - 230) < 2
            page.click("#rerun")
            page.wait_for_function("window.yolo3State.items[0].result && window.yolo3State.items[0].result"
                                   ".detections.length !== " + str(len(answers[0])), timeout=30_000)
            idle(page)
            with_roi = api(server, paths[0], conf=str(request_conf), roi=json.dumps(roi))
            assert 0 < len(shown(with_roi, conf)) < len(shown(answers[0], conf))
            assert_drawn(page, 0, shown(with_roi, conf))
            assert_drawn(page, 1, shown(answers[1], conf))  # the other image keeps its answer

            # a polygon ROI on the second image: three clicks, a double-click closes it
            page.click("#roi-poly")
            box = page.locator("canvas").nth(1).bounding_box()
            scale = box["width"] / 260
            vertices = [(130, 5), (255, 60), (200, 195), (20, 150)]
            for x, y in vertices[:-1]:
                page.mouse.click(box["x"] + x * scale, box["y"] + y * scale)
            page.mouse.dblclick(box["x"] + vertices[-1][0] * scale, box["y"] + vertices[-1][1] * scale)
            polygon = page.evaluate("window.yolo3State.items[1].roi")
            assert len(polygon) == 4 and all(abs(a - b) < 2 for v, w in zip(polygon, vertices) for a, b in zip(v, w))
            page.click("#rerun")
            page.wait_for_function("window.yolo3State.items[1].result.detections.length !== "
                                   + str(len(answers[1])), timeout=30_000)
            idle(page)
            with_polygon = api(server, paths[1], conf=str(request_conf), roi=json.dumps(polygon))
            assert 0 < len(shown(with_polygon, conf)) < len(shown(answers[1], conf))
            assert_drawn(page, 1, shown(with_polygon, conf))
            assert_drawn(page, 0, shown(with_roi, conf))
            answers[1] = with_polygon

            with page.expect_download() as info:
                page.click("#download")
            saved = json.loads(Path(info.value.path()).read_text())
            assert [s["name"] for s in saved] == ["scene0.png", "scene1.png"]
            assert_same(saved[0]["detections"], with_roi)
            assert_same(saved[1]["detections"], answers[1])
            assert saved[0]["roi"] == roi and saved[0]["image"] == {"width": 320, "height": 240}
            page.focus("#conf")
            for _ in range(20):  # 0.45: a readable screenshot
                page.keyboard.press("ArrowRight")
            assert_drawn(page, 0, shown(with_roi, 0.45))
            assert_drawn(page, 1, shown(answers[1], 0.45))
            assert errors == []
            if os.environ.get("YOLO3_SCREENSHOT"):
                page.screenshot(path=str(REPO / os.environ["YOLO3_SCREENSHOT"]), full_page=True)

            # a file that is not an image: its card shows the server's one-line error
            (tmp_path / "notes.txt").write_text("not an image")
            page.set_input_files("#files", str(tmp_path / "notes.txt"))
            page.wait_for_function("window.yolo3State.items.length === 3 && window.yolo3State.items[2].error",
                                   timeout=30_000)
            card = page.locator(".card").nth(2).inner_text()
            assert "notes.txt: 400: uploaded image: not a decodable image" in card
            assert errors == []
        finally:
            browser.close()


def test_an_image_dropped_on_the_drop_zone_is_added_once(sync_playwright, server: str, tmp_path: Path) -> None:
    # the drop zone's handler added the files, then the event bubbled to <body>, whose
    # handler (for drops anywhere else on the page) added them again: two cards, two requests
    data = list(encode(scene(60, 80, seed=3)))
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM)
        try:
            page = browser.new_page()
            page.goto(server + "/")
            page.wait_for_selector("#classes input[type=checkbox]")
            page.evaluate("""(bytes) => {
                const dt = new DataTransfer();
                dt.items.add(new File([new Uint8Array(bytes)], "dropped.png", { type: "image/png" }));
                document.getElementById("drop").dispatchEvent(
                    new DragEvent("drop", { dataTransfer: dt, bubbles: true, cancelable: true }));
            }""", data)
            idle(page)
            assert page.evaluate("window.yolo3State.items.map((i) => i.name)") == ["dropped.png"]
            assert page.locator(".card").count() == 1
        finally:
            browser.close()
