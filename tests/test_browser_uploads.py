"""Uploads in the real server and browser: a malformed file through the sidebar
gives a sentence (no traceback) and keeps the link; files a client PUTs into
its session without any widget asking are not kept (Streamlit would hold
them all until the session shut down)."""

from __future__ import annotations

import os
import random
import sys
import uuid
from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parent.parent
for path in (ROOT, ROOT / "tests"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

import malformed_npz as bad  # noqa: E402
from browser_support import (  # noqa: E402
    launch_chromium,
    new_page,
    streamlit_server,
    wait_for_chart,
    wait_until_idle,
)

TIMEOUT = 90_000  # ms
PUTS = 10
PUT_BYTES = 4 * 2**20  # under any server.maxUploadSize the app sets (5 MB)


def server_rss_megabytes(port: int) -> float:
    """The resident memory of the streamlit process serving ``port`` (the one the
    fixture started: its command line names the port)."""
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        if b"streamlit" in command and b"run" in command and str(port).encode() in command:
            line = next(x for x in status.splitlines() if x.startswith("VmRSS"))
            return int(line.split()[1]) / 1024
    raise AssertionError(f"no streamlit process on port {port}")


@pytest.fixture(scope="module")
def served():
    with streamlit_server() as url, sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        page = new_page(browser)
        page.set_default_timeout(TIMEOUT)
        yield url, page
        browser.close()


def test_a_malformed_upload_shows_a_sentence_and_writes_no_traceback(served):
    url, page = served
    page.goto(url + "/?T=12&H=5")
    wait_for_chart(page, "gradient_flow", timeout=TIMEOUT)
    wait_until_idle(page, timeout=TIMEOUT)
    page.get_by_text("Bring your own weights").click()
    dropzone = page.locator("[data-testid=stFileUploaderDropzoneInput]")
    for name, data, expected in [
        ("polyglot.npz", bad.polyglot(random.Random(3)), "something else"),
        ("huge.npz", bad.declared_larger(random.Random(4), elements=bad.BIG), "TiB"),
    ]:
        dropzone.set_input_files(
            {"name": name, "mimeType": "application/octet-stream", "buffer": data}
        )
        alert = page.locator("[data-testid=stAlert]", has_text=name)
        alert.wait_for(timeout=TIMEOUT)
        assert expected in alert.inner_text()
        assert page.locator("[data-testid=stException]").count() == 0
        assert "T=12" in page.url and "H=5" in page.url and "npz=" not in page.url


def test_files_put_outside_the_uploader_are_not_kept(served):
    url, page = served
    port = int(url.rsplit(":", 1)[1])
    if "T=12" not in page.url:
        test_a_malformed_upload_shows_a_sentence_and_writes_no_traceback(served)
    # learn this session's upload address and XSRF header from one real upload
    with page.expect_request(lambda r: r.method == "PUT") as put:
        page.locator("[data-testid=stFileUploaderDropzoneInput]").set_input_files(
            {"name": "w.npz", "mimeType": "application/octet-stream", "buffer": b"x"}
        )
    base = put.value.url.rsplit("/", 1)[0]
    headers = {k: v for k, v in put.value.headers.items() if k.lower() == "x-xsrftoken"}
    wait_until_idle(page, timeout=TIMEOUT)
    before = server_rss_megabytes(port)
    for i in range(PUTS):  # what a client holding the cookie can do: no rerun, no widget
        reply = page.request.put(
            f"{base}/{uuid.uuid4()}",
            headers=headers,
            multipart={
                "file": {"name": f"f{i}.npz", "mimeType": "x", "buffer": os.urandom(PUT_BYTES)}
            },
        )
        assert reply.status == 204, reply.status
    grown = server_rss_megabytes(port) - before
    # Kept, they would be 40 MB; the app's bound leaves one per session.
    assert grown < PUTS * PUT_BYTES / 2**20 / 2, f"the server grew by {grown:.0f} MB"
