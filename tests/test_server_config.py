"""The server's own settings (.streamlit/config.toml, issue 12 item 6): stated
for a classroom server, and the ones the app depends on are the app's."""

from __future__ import annotations

import sys
import tomllib
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from app import upload  # noqa: E402
from tests.browser_support import streamlit_server  # noqa: E402

CONFIG = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
APP = str(ROOT / "app" / "streamlit_app.py")
# bench/message_size.py: the largest message of the largest allowed link (MB)
LARGEST_MESSAGE_MB = 1.05


def test_xsrf_and_cors_protection_are_stated_on():
    server = CONFIG["server"]
    assert server["enableXsrfProtection"] is True
    assert server["enableCORS"] is True


def test_streamlit_refuses_uploads_larger_than_the_app_reads():
    # Streamlit's megabytes are 2**20 bytes (starlette_routes: * 1024 * 1024)
    assert CONFIG["server"]["maxUploadSize"] * 2**20 == upload.MAX_BYTES


def test_messages_fit_the_largest_chart_with_margin_and_no_more():
    size = CONFIG["server"]["maxMessageSize"]
    assert 10 * LARGEST_MESSAGE_MB <= size < 200  # 200 is Streamlit's default


def test_visitors_see_no_error_details():
    # "none": a generic message only; type, message and traceback go to the log
    assert CONFIG["client"]["showErrorDetails"] == "none"


def test_the_uploader_states_the_apps_limit():
    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params["T"] = "8"
    at.run()
    uploader = next(u for u in at.file_uploader if u.key.startswith("weights_file_"))
    assert uploader.proto.max_upload_size_mb * 2**20 == upload.MAX_BYTES


def test_the_running_server_refuses_an_upload_without_the_token_and_other_origins():
    """Served with the project's config: an upload with no XSRF token is
    refused (403) before any of it is kept, and a page of another origin is
    not told it may read the server's answers."""
    with streamlit_server() as url:
        put = urllib.request.Request(
            url + "/_stcore/upload_file/some-session/some-file",
            data=b"x" * 1000,
            method="PUT",
            headers={"Origin": "https://evil.example"},
        )
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(put, timeout=10)
        refused.value.close()
        assert refused.value.code == 403
        health = urllib.request.Request(
            url + "/_stcore/health", headers={"Origin": "https://evil.example"}
        )
        with urllib.request.urlopen(health, timeout=10) as reply:
            allowed = reply.headers.get("Access-Control-Allow-Origin")
        assert allowed not in ("*", "https://evil.example")


def test_no_full_garbage_collection_after_every_rerun():
    # a fifth of a loaded classroom server's busy time (bench/classroom.py --profile)
    assert CONFIG["runner"]["postScriptGC"] is False
