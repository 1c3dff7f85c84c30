"""Fixtures the browser tests share: one app server and one Chromium per test
module (a module may define its own instead)."""

from __future__ import annotations

import pytest
from playwright.sync_api import sync_playwright

from tests.browser_support import launch_chromium, streamlit_server


@pytest.fixture(scope="module")
def app_url():
    with streamlit_server() as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as playwright:
        chromium = launch_chromium(playwright)
        yield chromium
        chromium.close()
