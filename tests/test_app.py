"""The Gradio demo (space/app.py), served on 127.0.0.1: driven by gradio_client and by a real browser."""

from __future__ import annotations

import io
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import gradio as gr
import numpy as np
import pytest
from gradio_client import Client, handle_file
from PIL import Image
from playwright.sync_api import expect

from astro.checkpoint.io import load_checkpoint
from astro.data.galaxy10 import CLASS_NAMES
from astro.serving.classifier import Classifier
from space.app import TTA_DEFAULT, build_app, load_model, render_examples
from tests.conftest import CHROMIUM, CHROMIUM_ARGS, ROOT


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Gradio's upload cache and the rendered examples live under the test's temporary folder."""
    root = tmp_path_factory.mktemp("app")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("GRADIO_TEMP_DIR", str(root / "gradio"))
        yield root


def serve(demo: gr.Blocks) -> str:
    port = free_port()
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    return f"http://127.0.0.1:{port}/"


def client(url: str, workdir: Path) -> Client:
    return Client(url, verbose=False, analytics_enabled=False, download_files=str(workdir / "downloads"))


def classify(api: Client, path: str | Path, tta: bool) -> tuple:
    """(label, saliency file, status) for one upload through the app's public endpoint."""
    return api.predict(handle_file(str(path)), tta, api_name="/classify")


def write(path: Path, data: bytes) -> str:
    path.write_bytes(data)
    return str(path)


def encoded(image: Image.Image, fmt: str = "PNG") -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt)
    return buffer.getvalue()


def test_examples_are_synthetic_renders_one_per_class(tmp_path):
    examples = render_examples(tmp_path)
    assert [caption for _, caption in examples] == [f"synthetic: {name}" for name in CLASS_NAMES]
    assert all(Image.open(path).size == (256, 256) for path, _ in examples)


def test_without_a_model_the_app_serves_and_says_how_to_get_one(workdir, tmp_path):
    classifier, about = load_model(None, f"sqlite:///{tmp_path / 'empty.db'}")
    assert classifier is None and "No trained model found" in about and "make train" in about
    _, broken = load_model(str(tmp_path / "nope.pt"), f"sqlite:///{tmp_path / 'empty.db'}")
    assert "could not be loaded" in broken and "checkpoint not found" in broken
    demo = build_app(None, about, render_examples(workdir / "examples-empty"))
    url = serve(demo)
    try:
        galaxy = write(tmp_path / "g.png", encoded(Image.new("RGB", (64, 64), (30, 30, 30))))
        label, saliency, status = classify(client(url, workdir), galaxy, True)
        assert not label and saliency is None
        assert "No model loaded" in status and "make train" in status
    finally:
        demo.close()


@pytest.fixture(scope="module")
def served(smoke_model, workdir) -> Iterator[tuple[str, Classifier, list[tuple[Path, str]]]]:
    """The app on the smoke run's checkpoint, launched in this process."""
    classifier, about = load_model(str(smoke_model["checkpoint"]), smoke_model["uri"])
    assert classifier is not None, about
    examples = render_examples(workdir / "examples")
    demo = build_app(classifier, about, examples)
    url = serve(demo)
    yield url, classifier, examples
    demo.close()


@pytest.mark.slow
def test_client_gets_all_ten_probabilities_and_a_saliency_map(served, workdir):
    url, classifier, examples = served
    path = examples[5][0]
    label, saliency, status = classify(client(url, workdir), path, True)
    expected = classifier.predict(path, tta=True)
    top = max(expected, key=expected.__getitem__)
    confidences = {c["label"]: c["confidence"] for c in label["confidences"]}
    assert label["label"] == top and set(confidences) == set(CLASS_NAMES)
    assert confidences == pytest.approx(expected, abs=1e-6)
    assert sum(confidences.values()) == pytest.approx(1.0, abs=1e-5)
    assert Image.open(saliency).size == (256, 256)
    assert f"Top class **{top}**" in status and "8 rotations/flips" in status


@pytest.mark.slow
def test_bad_uploads_get_a_clear_message_and_the_app_keeps_serving(served, workdir, tmp_path):
    url, classifier, examples = served
    api = client(url, workdir)
    bad = {
        "garbage.png": (b"\x00\x01 definitely not pixels " * 40, "the file is not an image"),
        "dot.png": (encoded(Image.new("RGB", (1, 1))), "1x1 pixels: too small"),
        "huge.png": (encoded(Image.new("L", (10000, 10000))), "10000x10000 pixels: too large"),
    }
    for name, (data, message) in bad.items():
        label, saliency, status = classify(api, write(tmp_path / name, data), True)
        assert not label and saliency is None
        assert status.startswith("**Cannot classify this file:**") and message in status
    galaxy = Image.open(examples[2][0])
    grey16 = Image.fromarray(np.asarray(galaxy.convert("L")).astype(np.uint16) * 257)
    for name, data, mode in (
        ("sixteen.png", encoded(grey16), "I;16"),
        ("cmyk.jpg", encoded(galaxy.convert("CMYK"), "JPEG"), "CMYK"),
    ):
        path = write(tmp_path / name, data)
        label, _, status = classify(api, path, False)
        assert label["label"] == max(classifier.predict(path).items(), key=lambda kv: kv[1])[0], status
        assert f"(PIL mode {mode}) was converted to 8-bit RGB" in status
    label, _, _ = classify(api, examples[0][0], False)
    assert len(label["confidences"]) == 10


@pytest.fixture(scope="session")
def browser_type_launch_args() -> dict:
    """pytest-playwright launches Debian's chromium (CI installs it with apt-get), never a downloaded one."""
    if not CHROMIUM.exists():
        pytest.skip(
            f"no browser: {CHROMIUM} is missing; to run this test install Debian's chromium: "
            "apt-get install chromium (as root; .ci/run does this)"
        )
    return {"executable_path": str(CHROMIUM), "headless": True, "args": CHROMIUM_ARGS}


@pytest.fixture
def app_process(smoke_model, tmp_path) -> Iterator[str]:
    """`python space/app.py` as a user runs it, picking the newest finished run of the smoke store."""
    port = free_port()
    env = {
        **os.environ,
        "MLFLOW_TRACKING_URI": smoke_model["uri"],
        "GRADIO_ANALYTICS_ENABLED": "False",
        "GRADIO_TEMP_DIR": str(tmp_path / "gradio"),
        "TMPDIR": str(tmp_path),
    }
    env.pop("ASTRO_CHECKPOINT", None)
    log = open(tmp_path / "app.log", "w")  # noqa: SIM115 (closed below, after the process)
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "space" / "app.py"), "--port", str(port)],
        cwd=tmp_path,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 90
        while True:
            assert process.poll() is None, (tmp_path / "app.log").read_text()[-3000:]
            try:
                urllib.request.urlopen(url, timeout=2).close()
                break
            except OSError:
                assert time.monotonic() < deadline, (tmp_path / "app.log").read_text()[-3000:]
                time.sleep(0.5)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


@pytest.mark.slow
def test_browser_upload_classify_and_screenshot(app_process, page, smoke_model, tmp_path):
    """Chromium loads the page, uploads a synthetic galaxy, clicks Classify and reads the top class."""
    outside: list[str] = []
    page.on("request", lambda r: None if r.url.startswith(app_process) else outside.append(r.url))
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(app_process)
    run_id = load_checkpoint(smoke_model["checkpoint"]).card.training.run_id
    expect(page.locator("#provenance")).to_contain_text(run_id)
    expect(page.locator("#provenance")).to_contain_text("synthetic data, 32 px")
    galaxy = tmp_path / "upload.png"
    galaxy.write_bytes(encoded(Image.open(render_examples(tmp_path / "examples")[6][0])))
    page.locator("#galaxy-image input[type=file]").set_input_files(str(galaxy))
    page.locator("#classify").click()
    shown = page.locator("#prediction [data-testid=label-output-value]")
    expect(shown).to_have_text(re.compile(r"\w+"), timeout=60_000)
    expected = Classifier.from_checkpoint(smoke_model["checkpoint"]).predict(galaxy, tta=TTA_DEFAULT)
    assert shown.inner_text().strip() == max(expected, key=expected.__getitem__)
    expect(page.locator("#status")).to_contain_text("Top class")
    expect(page.locator("#gradcam img")).to_be_visible()
    page.screenshot(path=tmp_path / "demo.png", full_page=True)
    assert Image.open(tmp_path / "demo.png").width == 1280
    assert not outside, f"the page reached beyond the app: {outside}"
