"""REST API through the test client, and the page driven in a real headless Chromium."""

import base64
import io
import socket
import threading
import time

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("fastapi", reason="web extra not installed")
from fastapi.testclient import TestClient  # noqa: E402

from fakes import tiny_model_file  # noqa: E402
from inharmony.web.app import create_app  # noqa: E402
from inharmony.web.browser import chromium_path, launch  # noqa: E402


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    return tiny_model_file(tmp_path_factory.mktemp("m"), 64, scores={"note": "untrained test model"})


@pytest.fixture(scope="module")
def client(model_file):
    app = create_app({"tiny": model_file}, device="cpu", max_bytes=200_000, max_pixels=1_000_000)
    with TestClient(app) as c:
        yield c


def png_bytes(w=48, h=32, mode="RGB", flat=False) -> bytes:
    buf = io.BytesIO()
    arr = np.random.default_rng(0).integers(0, 255, (h, w, 3), dtype=np.uint8) * (not flat)
    Image.fromarray(arr).convert(mode).save(buf, format="PNG")
    return buf.getvalue()


def test_health_models_and_openapi(client):
    from openapi_spec_validator import validate

    assert client.get("/healthz").json()["status"] == "ok"
    models = client.get("/v1/models").json()
    assert models == [
        {
            "name": "tiny",
            "architecture": "dirl_mobilenetv2",
            "input_size": 64,
            "default": True,
            "scores": {"note": "untrained test model"},
        }
    ]
    spec = client.get("/openapi.json").json()
    validate(spec)
    assert "/v1/localize" in spec["paths"]
    assert "inharmony" in client.get("/").text


def test_localize_good_image(client):
    res = client.post(
        "/v1/localize", files={"image": ("a.png", png_bytes(48, 32), "image/png")}, data={"threshold": "0.3"}
    )
    assert res.status_code == 200, res.text
    body = res.json()
    assert (body["width"], body["height"]) == (48, 32) and body["threshold"] == 0.3 and body["model"] == "tiny"
    mask = Image.open(io.BytesIO(base64.b64decode(body["mask_png"])))
    assert mask.size == (48, 32) and set(np.unique(np.asarray(mask))) <= {0, 255}
    assert len(body["attention_png"]) == 5 and body["timing_ms"] > 0
    assert body["candidate_png"] is None  # a model without a verdict head has no candidate map
    assert 0 <= body["region_fraction"] <= 1 and 0 <= body["max_probability"] <= 1
    assert body["calibrated"] is False and body["calibration"] is None and body["pixel_threshold"] == 0.3
    assert body["score"] == body["raw_score"]
    gray = client.post(
        "/v1/localize", files={"image": ("g.png", png_bytes(mode="L"), "image/png")}, data={"attention": "false"}
    )
    assert gray.status_code == 200 and gray.json()["attention_png"] == []


def test_a_calibrated_model_answers_with_its_probability_and_the_raw_threshold(model_file, tmp_path):
    from inharmony.checkpoint import rewrite_info
    from inharmony.verdict import Calibration

    cal = Calibration(1.5, 0.8, "toy")
    calibrated = rewrite_info(model_file, tmp_path / "cal.safetensors", {"calibration": cal.to_info()})
    app = create_app({"cal": calibrated}, device="cpu")
    with TestClient(app) as c:
        body = c.post("/v1/localize", files={"image": ("a.png", png_bytes(), "image/png")}).json()
    assert body["calibrated"] is True and body["calibration"] == {"a": 1.5, "b": 0.8}
    assert body["score"] == pytest.approx(cal(body["raw_score"]), abs=1e-5)
    assert body["pixel_threshold"] == pytest.approx(cal.raw_threshold(0.5))
    assert body["inharmonious"] == (body["score"] > 0.5)


@pytest.mark.parametrize(
    "files, data, status, words",
    [
        ({"image": ("x.png", b"hello, not an image", "image/png")}, {}, 422, "x.png: not a readable image"),
        ({"image": ("x.txt", b"hello", "text/plain")}, {}, 415, "expected an image"),
        ({"image": ("x.png", b"", "image/png")}, {}, 422, "empty"),
        ({"picture": ("x.png", png_bytes(), "image/png")}, {}, 422, "image"),
        ({"image": ("x.png", png_bytes(), "image/png")}, {"model": "../../etc/passwd"}, 422, "unknown model"),
        ({"image": ("x.png", png_bytes(), "image/png")}, {"threshold": "2"}, 422, "threshold"),
        (
            {"image": ("big.png", png_bytes(1100, 1000, flat=True), "image/png")},
            {},
            413,
            "exceeds the limit of 1000000",
        ),
        ({"image": ("huge.bin", b"\0" * 300_000, "image/png")}, {}, 413, "exceeds the limit"),
    ],
)
def test_localize_refusals(client, files, data, status, words):
    res = client.post("/v1/localize", files=files, data=data)
    assert res.status_code == status, res.text
    assert words in res.text


def test_empty_and_malformed_bodies(client):
    assert client.post("/v1/localize").status_code == 422
    bad = client.post(
        "/v1/localize",
        content=b"--xx\r\nnot multipart at all",
        headers={"content-type": "multipart/form-data; boundary=xx"},
    )
    assert bad.status_code in (400, 422)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_page_in_headless_chromium(model_file, tmp_path):
    playwright = pytest.importorskip("playwright.sync_api", reason="playwright not installed")
    if chromium_path() is None:
        pytest.skip("Debian chromium is not installed (scripts/install.sh --with-browser installs it)")
    import uvicorn

    from inharmony.checkpoint import rewrite_info
    from inharmony.verdict import Calibration

    cal = Calibration(1.5, 0.8, "toy")
    calibrated = rewrite_info(model_file, tmp_path / "cal.safetensors", {"calibration": cal.to_info()})
    app = create_app({"tiny": model_file, "cal": calibrated}, device="cpu")
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.time() + 30
        while not server.started and time.time() < deadline:
            time.sleep(0.1)
        image = tmp_path / "photo.png"
        image.write_bytes(png_bytes(120, 80))
        with playwright.sync_playwright() as p:
            browser = launch(p)
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            page.goto(f"http://127.0.0.1:{port}/")
            page.wait_for_selector("#model option", state="attached")
            page.set_input_files("#file", str(image))
            page.wait_for_selector("body[data-state=done]", timeout=60_000)
            assert page.locator("#attention img").count() == 5
            assert page.locator("#candidate-figure").is_hidden()  # no verdict head, no candidate map
            assert page.eval_on_selector("#overlay", "c => [c.width, c.height]") == [120, 80]
            page.fill("#threshold", "0.9")
            page.dispatch_event("#threshold", "input")
            assert page.eval_on_selector("#overlay", "c => c.dataset.threshold") == "0.90"
            assert page.eval_on_selector("#overlay", "c => c.dataset.pixelThreshold") == "0.9000"
            with page.expect_download() as download:
                page.click("#download")
            saved = tmp_path / "mask.png"
            download.value.save_as(saved)
            assert Image.open(saved).size == (120, 80)
            # a calibrated model: the slider is on its score's scale, the pixels use the raw equivalent
            page.select_option("#model", "cal")
            page.evaluate("document.body.dataset.state = ''")
            second = tmp_path / "photo2.png"  # another file: choosing the same one again fires no change event
            second.write_bytes(png_bytes(120, 80))
            page.set_input_files("#file", str(second))
            page.wait_for_selector("body[data-state=done]", timeout=60_000)
            pixel = float(page.eval_on_selector("#overlay", "c => c.dataset.pixelThreshold"))
            assert pixel == pytest.approx(cal.raw_threshold(0.9), abs=1e-4)
            page.screenshot(path=str(tmp_path / "page.png"), full_page=True)
            browser.close()
        assert (tmp_path / "page.png").stat().st_size > 10_000
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def test_inference_timeout_gives_504(model_file):
    app = create_app({"tiny": model_file}, device="cpu", timeout_s=1e-4)
    with TestClient(app) as c:
        res = c.post("/v1/localize", files={"image": ("a.png", png_bytes(), "image/png")})
    assert res.status_code == 504 and "longer than" in res.json()["detail"]
