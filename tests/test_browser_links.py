"""Hostile links and failures in a real browser (Debian's Chromium).

- The issue's two links (a Markdown link as a key, an image as a value)
  show their text as text: no ``<a>`` or ``<img>`` to evil.example, and the
  browser asks evil.example for nothing. A screenshot goes to test-output/.
- The uploader says 5MB per file (server.maxUploadSize).
- A failing page, served with the project's .streamlit/config.toml, sends
  the visitor neither the exception's message nor its traceback; the server's
  log has both. (Streamlit itself sends the script's path on the server in
  every session's first message; no setting turns that off.)
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from urllib.parse import urlencode, urlsplit

import pytest

from tests.browser_support import (
    ROOT,
    STREAMLIT_FLAGS,
    _healthy,
    _stop,
    free_port,
    new_page,
    screenshot_whole_app,
    streamlit_server,
    wait_for_chart,
    wait_until_idle,
)

pytestmark = pytest.mark.browser

TIMEOUT = 90_000
SCREENSHOTS = ROOT / "test-output"
PHISHING = "[Upload your weights again here](https://evil.example/login)"
PIXEL = "![p](https://evil.example/pixel.png)"


@pytest.fixture
def page(browser):
    page = new_page(browser)
    page.set_default_timeout(TIMEOUT)
    yield page
    page.context.close()


def test_a_hostile_link_shows_plain_text_and_fetches_nothing(page):
    asked = []
    page.on("request", lambda request: asked.append(request.url))
    query = urlencode({PHISHING: "1", "x": PIXEL, "T": "12"})
    with streamlit_server() as url:
        page.goto(f"{url}/?{query}")
        wait_for_chart(page, "gradient_flow", timeout=TIMEOUT)
        wait_until_idle(page, timeout=TIMEOUT)
        notice = page.locator("[data-testid=stAlert]", has_text="could not be used")
        notice.wait_for()
        text = notice.inner_text()
        assert PHISHING[:30] in text and "![p](https://evil.exam" in text
        assert page.locator("a[href*='evil.example']").count() == 0
        assert page.locator("img[src*='evil.example']").count() == 0
        assert notice.locator("a, img").count() == 0
        assert notice.locator("code").count() == 2  # the key and the value, quoted
        assert not [u for u in asked if urlsplit(u).hostname == "evil.example"]
        SCREENSHOTS.mkdir(exist_ok=True)
        notice.screenshot(path=SCREENSHOTS / "hostile_link_notice.png")
        screenshot_whole_app(page, SCREENSHOTS / "hostile_link.png")

        page.get_by_text("Bring your own weights").click()
        uploader = page.locator("[data-testid=stFileUploader]")
        uploader.wait_for()
        assert "5MB per file" in uploader.inner_text()
        assert "200MB" not in uploader.inner_text()


def test_hostile_text_through_inert_renders_as_text(page):
    """Every line of tests/test_inert.py's HOSTILE list, quoted and escaped,
    as Streamlit's front end renders it: no link, image, LaTeX, emphasis,
    colour, icon, emoji or HTML element; the characters are there."""
    from tests.test_inert import HOSTILE

    with streamlit_server(ROOT / "tests" / "inert_app.py") as url:
        page.goto(url + "/")
        alerts = page.locator("[data-testid=stAlert]")
        alerts.nth(len(HOSTILE) - 1).wait_for()
        wait_until_idle(page, timeout=TIMEOUT)
        made = alerts.locator(
            "a, img, .katex, strong, em, del, b, h1, ol, ul, blockquote, "
            "[data-testid=stIconMaterial], span[style*=color], [class*=colored]"
        )
        assert made.count() == 0, made.evaluate_all("(es) => es.map((e) => e.outerHTML)")
        texts = alerts.all_inner_texts()
        assert "https://evil.example/login" in texts[0] and "![p](" in texts[1]
        assert ":smile:" in texts[2] and "😄" not in texts[2]
        assert "\\Huge" in texts[3] and "<b>bold</b>" in texts[4]
        page.screenshot(path=SCREENSHOTS / "inert_text.png", full_page=True)


def test_a_failing_page_sends_no_error_details(page):
    received = []
    page.on(
        "websocket",
        lambda ws: ws.on("framereceived", lambda payload: received.append(payload)),
    )
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "streamlit", "run", str(ROOT / "tests" / "raising_app.py")]
    command += ["--server.port", str(port), *STREAMLIT_FLAGS]
    with tempfile.TemporaryFile(mode="w+") as log:
        process = subprocess.Popen(command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 60
            while not _healthy(url):
                assert process.poll() is None and time.monotonic() < deadline, "no server"
                time.sleep(0.2)
            page.goto(url + "/")
            page.get_by_text("before the failure").wait_for()
            shown = page.locator("[data-testid=stException]")
            shown.wait_for()
            page.wait_for_timeout(500)
            body = page.locator("body").inner_text()
        finally:
            _stop(process)
        log.seek(0)
        server_log = log.read()
    assert "SECRET-DETAIL" not in body and "Traceback" not in body and "RuntimeError" not in body
    assert "raising_app.py" not in body
    sent = b"".join(p if isinstance(p, bytes) else p.encode() for p in received)
    assert b"SECRET-DETAIL" not in sent and b"RuntimeError" not in sent
    # the script's own path still goes out: Streamlit puts it in every new
    # session's first message (NewSession.main_script_path), whatever the config;
    # the traceback's lines (raise …) do not
    assert b"raise RuntimeError" not in sent and sent.count(b"raising_app.py") == 1
    assert "SECRET-DETAIL" in server_log and "Traceback" in server_log
