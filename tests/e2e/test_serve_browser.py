"""``unival serve`` driven in headless Chromium: what a person sees on the page equals the
Python API.

The server runs the installed console script with toy checkpoints (serve_fixtures.py); the
browser is Debian's ``chromium`` driven by Playwright (``make test`` installs it). The page
must load and work with no request leaving the loopback address.
"""

import io
import json
import os
import shutil
import urllib.parse
import urllib.request

import pytest
from PIL import Image
from serve_fixtures import write_toy_images, write_toy_sound

# with test_serve_*.py: one worker starts the session's toy server (e2e/conftest.py) for both files
pytestmark = pytest.mark.xdist_group("toy_server")

CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TIMEOUT_MS = 90_000


def leaves_loopback(url: str) -> bool:
    """True for a request to another host (``blob:``/``data:`` URLs stay in the browser)."""
    if url.startswith("data:"):
        return False
    host = urllib.parse.urlparse(url.removeprefix("blob:")).hostname
    return host not in ("127.0.0.1", "localhost")


def chromium_or_skip() -> str:
    """Chromium's path; without it the test skips, except under CI where it must run."""
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        path = None
    if path is None:
        reason = (
            "chromium or the playwright package is missing "
            "(apt-get install chromium; pip install playwright)"
        )
        if os.environ.get("CI") == "true":
            pytest.fail(reason + ": CI must run the browser test")
        pytest.skip(reason)
    return path


@pytest.fixture(scope="module")
def server(toy_server):
    return toy_server


@pytest.fixture(scope="module")
def python_api(toy_server_api):
    return toy_server_api


@pytest.fixture(scope="module")
def browser_page(server):
    """A fresh headless Chromium page; ``page.external`` collects requests that left loopback."""
    from playwright.sync_api import sync_playwright

    executable = chromium_or_skip()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=executable, headless=True, args=CHROMIUM_FLAGS
        )
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        page = context.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        external = []
        page.on("request", lambda r: external.append(r.url) if leaves_loopback(r.url) else None)
        page.goto(server.url + "/")
        page.wait_for_selector("#caption-run")
        yield page, external
        context.close()
        browser.close()


def run_and_wait(page, method: str) -> str:
    """Press the task's button and wait for a new answer (the details show a new request number)."""
    details = page.locator(f"#{method}-details")
    before = details.inner_text()
    page.click(f"#{method}-run")
    page.wait_for_function(
        "([sel, before]) => { const t = document.querySelector(sel).innerText;"
        " return t !== before && t.includes('Request'); }",
        arg=[f"#{method}-details", before],
        timeout=TIMEOUT_MS,
    )
    return page.locator(f"#{method}-result textarea").input_value()


def open_tab(page, method: str) -> None:
    page.click(f"#tab-{method}-button")


def test_page_answers_equal_the_python_api(server, python_api, browser_page, tmp_path):
    page, external = browser_page
    image = write_toy_images(tmp_path / "images", 1)[0]
    sound = write_toy_sound(tmp_path / "tone.wav")

    # captioning: upload, press, read the caption off the page
    page.set_input_files("#caption-input input[type=file]", str(image))
    caption = run_and_wait(page, "caption")
    expected = python_api["caption"].caption(str(image), beam=2)
    assert caption == expected
    details = page.locator("#caption-details").inner_text()
    assert "beam=2" in details and "max_len_b=22" in details and "batch of 1" in details
    assert str(server.checkpoints["caption"]) in page.locator("#caption-model").inner_text()

    # grounding: the box as text, and drawn on the image shown beside it
    open_tab(page, "ground")
    page.set_input_files("#ground-input input[type=file]", str(image))
    page.locator("#ground-text textarea").fill("the red circle")
    box = json.loads(run_and_wait(page, "ground"))
    expected_box = python_api["refcoco"].ground(str(image), "the red circle", beam=2)
    assert box == [round(c, 2) for c in expected_box]
    drawn_src = page.locator("#ground-drawn img").get_attribute("src")
    with urllib.request.urlopen(
        drawn_src if drawn_src.startswith("http") else server.url + drawn_src
    ) as answer:
        drawn = Image.open(io.BytesIO(answer.read())).convert("RGB")
    x0 = min(max(round(min(box[0], box[2])), 0), drawn.width - 1)
    y0 = min(max(round(min(box[1], box[3])), 0), drawn.height - 1)
    assert drawn.size == Image.open(image).size
    assert drawn.getpixel((x0, y0)) == (255, 0, 0)  # the box's top-left corner is outlined
    page.screenshot(path=str(tmp_path / "serve_grounding.png"), full_page=True)

    # a media task: audio captioning
    open_tab(page, "caption_audio")
    page.set_input_files("#caption_audio-input input[type=file]", str(sound))
    audio_caption = run_and_wait(page, "caption_audio")
    assert audio_caption == python_api["audio_caption"].caption_audio(
        str(sound), beam=2, max_len_b=8
    )
    assert "max_len_b=8" in page.locator("#caption_audio-details").inner_text()

    # a task without a model says so
    open_tab(page, "vqa")
    assert "No model serves vqa" in page.locator("#vqa-missing").inner_text()

    screenshot_dir = os.environ.get("UNIVAL_SCREENSHOT_DIR")
    if screenshot_dir:
        shutil.copy(tmp_path / "serve_grounding.png", screenshot_dir)
    assert external == [], f"the page reached beyond the server: {external}"


def test_a_corrupt_upload_fails_alone_and_the_next_request_works(
    server, python_api, browser_page, tmp_path
):
    page, external = browser_page
    image = write_toy_images(tmp_path / "images", 1)[0]
    broken = tmp_path / "broken.png"
    broken.write_bytes(image.read_bytes()[:60])  # a PNG header whose pixel data is cut off

    garbage = tmp_path / "garbage.png"
    garbage.write_bytes(b"not an image at all")

    open_tab(page, "caption")
    for upload, reason in (
        (broken, "image file is truncated"),
        (garbage, "cannot identify image file"),
    ):
        page.set_input_files("#caption-input input[type=file]", str(upload))
        page.click("#caption-run")
        toast = page.locator("[data-testid=toast-text]").filter(has_text=upload.name)
        toast.first.wait_for(timeout=TIMEOUT_MS)
        message = toast.first.inner_text()
        assert message.startswith(f"{upload.name} is not a readable image (") and reason in message
        assert "/tmp" not in message and "Traceback" not in message

    page.set_input_files("#caption-input input[type=file]", str(image))
    caption = run_and_wait(page, "caption")
    assert caption == python_api["caption"].caption(str(image), beam=2)
    assert external == []
