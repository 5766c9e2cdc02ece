"""The README's picture of ``unival serve``: the captioning and grounding tabs with answers.

    python benchmarks/serve_screenshot.py --demo-dir outputs/demo --out docs/figures/serve_page.png

Starts ``unival serve`` on a free loopback port with the experts of a ``make demo`` run,
clicks the first toy-world example of each tab in headless Chromium (Debian's ``chromium``),
presses the button, and writes both tabs side by side into one PNG.
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from PIL import Image

CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def shoot(page, method: str) -> Image.Image:
    page.click(f"#tab-{method}-button")
    # one-input examples are a gallery, several-input ones a table
    page.locator(f"#tab-{method} .gallery-item, #tab-{method} .tr-body").first.click()
    page.wait_for_selector(f"#{method}-input img")  # the example has reached the upload box
    time.sleep(0.5)
    page.click(f"#{method}-run")
    page.wait_for_function(
        f"document.querySelector('#{method}-details').innerText.includes('Request')",
        timeout=120_000,
    )
    time.sleep(1.0)  # let the output image finish drawing
    return Image.open(io.BytesIO(page.screenshot(full_page=True)))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--demo-dir", default="outputs/demo")
    parser.add_argument("--out", default="docs/figures/serve_page.png")
    args = parser.parse_args(argv)
    from playwright.sync_api import sync_playwright

    port = free_port()
    unival = Path(sys.executable).parent / "unival"
    log = tempfile.NamedTemporaryFile("w", suffix=".log", delete=False)
    server = subprocess.Popen(
        [str(unival), "serve", "--demo-dir", args.demo_dir, "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}/"
    try:
        for _ in range(600):
            if server.poll() is not None:
                raise SystemExit(f"unival serve exited; see {log.name}")
            try:
                urllib.request.urlopen(url + "api/info", timeout=5).close()
                break
            except (urllib.error.URLError, ConnectionError):
                time.sleep(0.5)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=shutil.which("chromium"), headless=True, args=CHROMIUM_FLAGS
            )
            page = browser.new_page(viewport={"width": 1100, "height": 760})
            page.goto(url)
            page.wait_for_selector("#caption-run")
            shots = [shoot(page, "caption"), shoot(page, "ground")]
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=60)
    width = sum(s.width for s in shots)
    sheet = Image.new("RGB", (width, max(s.height for s in shots)), "white")
    x = 0
    for shot in shots:
        sheet.paste(shot.convert("RGB"), (x, 0))
        x += shot.width
    os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)
    sheet.save(args.out, optimize=True)
    print(f"wrote {args.out} ({sheet.width}x{sheet.height})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
