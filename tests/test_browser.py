"""The app in a real browser (Debian's Chromium through Playwright).

One server and one browser for the module; each test opens its own page in
a fresh context, so its own Streamlit session. The charts' drawn numbers
are read from Plotly's ``gd._fullData``: what the reader actually sees.
Screenshots of every tab go to test-output/ (gitignored).
"""

from __future__ import annotations

import base64
import re
from urllib.parse import parse_qsl, urlsplit

import numpy as np
import pytest
from playwright.sync_api import sync_playwright

from tests.browser_support import (
    ROOT,
    arm_redraw,
    chart_selector,
    chart_traces,
    charts_drawn,
    click_chart_slider,
    launch_chromium,
    new_page,
    screenshot_whole_app,
    streamlit_server,
    wait_for_chart,
    wait_for_redraw,
    wait_until_idle,
)

pytestmark = pytest.mark.browser

TABS = ["Gradient flow", "Inside the cell", "Why it vanishes", "Clipping", "Phase diagram"]
T_SLIDER = "Sequence length T (steps)"
H_SLIDER = "Hidden size H (units)"
SCREENSHOTS = ROOT / "test-output"
TIMEOUT = 90_000  # ms; the machine may be shared with other test runs


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


@pytest.fixture
def page(browser):
    page = new_page(browser)
    page.set_default_timeout(TIMEOUT)
    yield page
    page.context.close()


def open_app(page, url: str, query: str = "") -> None:
    page.goto(url + "/" + query)
    wait_for_chart(page, "gradient_flow", timeout=TIMEOUT)
    wait_until_idle(page, timeout=TIMEOUT)


def assert_no_failure(page) -> None:
    exceptions = page.locator("[data-testid=stException]")
    assert exceptions.count() == 0, exceptions.all_inner_texts()
    assert page.get_by_text("could not be drawn").count() == 0


def ys(traces: list[dict]) -> list[np.ndarray]:
    return [np.asarray(t["y"], dtype=float) for t in traces]


def decode(value) -> np.ndarray:
    """A frame's y as Plotly holds it: a list, or {"dtype", "bdata"} (base64)."""
    if isinstance(value, dict) and "bdata" in value:
        return np.frombuffer(base64.b64decode(value["bdata"]), np.dtype(value["dtype"]))
    return np.asarray(value, dtype=float)


# ---- (a) a sidebar slider, moved from the keyboard, redraws the chart ------------------


def test_sidebar_slider_redraws_gradient_flow(page, app_url):
    open_app(page, app_url)
    assert_no_failure(page)
    slider = page.get_by_role("slider", name=T_SLIDER)
    steps_before = int(slider.input_value())
    before = chart_traces(page, "gradient_flow")
    assert all(len(t["y"]) == steps_before for t in before)

    # While the in-chart slider's frames are computed the chart is drawn under
    # another key; the probe waits for "gradient_flow" to come back changed.
    arm_redraw(page, chart_selector("gradient_flow"))
    slider.focus()
    slider.press("ArrowRight")
    wait_for_redraw(page, timeout=TIMEOUT)
    wait_until_idle(page, timeout=TIMEOUT)

    assert int(slider.input_value()) == steps_before + 1
    after = chart_traces(page, "gradient_flow")
    assert [t["name"] for t in after] == [t["name"] for t in before]
    assert all(len(t["y"]) == steps_before + 1 for t in after)
    # not just one more point: the loss now sits one step later, so the numbers move
    changed = [
        not np.allclose(a[:steps_before], b, equal_nan=True)
        for a, b in zip(ys(after), ys(before), strict=True)
    ]
    assert any(changed)
    assert_no_failure(page)


# ---- (b) a link with settings opens those settings ------------------------------------


def test_link_sets_the_charts_and_the_sidebar(page, app_url):
    query = {"cell": "gru", "T": "40", "H": "4", "seed": "3"}
    open_app(page, app_url, "?" + "&".join(f"{k}={v}" for k, v in query.items()))
    assert_no_failure(page)

    traces = chart_traces(page, "gradient_flow")
    assert [t["name"] for t in traces] == ["GRU"]
    (gru,) = ys(traces)
    assert gru.size == 40
    assert np.isfinite(gru).all() and (gru > 0).all()
    assert page.get_by_role("slider", name=T_SLIDER).input_value() == "40"
    assert page.get_by_role("slider", name=H_SLIDER).input_value() == "4"
    # the address bar still carries these settings (the app rewrites it from the
    # sidebar; it may add fields the link implied, such as the focus cell)
    in_address_bar = dict(parse_qsl(urlsplit(page.url).query))
    assert {k: in_address_bar.get(k) for k in query} == query


# ---- (c) every tab draws its charts ------------------------------------------------------


def test_every_tab_draws_and_saves_a_screenshot(page, app_url):
    SCREENSHOTS.mkdir(exist_ok=True)
    open_app(page, app_url)
    for title in TABS:
        page.get_by_role("tab", name=title, exact=True).click()
        panel = page.get_by_role("tabpanel", name=title, exact=True)
        panel.locator(".js-plotly-plot .main-svg").first.wait_for(timeout=TIMEOUT)
        wait_until_idle(page, timeout=TIMEOUT)
        tab = page.get_by_role("tab", name=title, exact=True)
        assert tab.get_attribute("aria-selected") == "true"
        drawn = charts_drawn(page, "[role=tabpanel]")
        assert drawn >= 1, f"{title}: no chart drawn"
        assert_no_failure(page)
        slug = re.sub(r"\W+", "_", title.lower())
        path = SCREENSHOTS / f"browser_{slug}.png"
        screenshot_whole_app(page, path)
        assert path.stat().st_size > 10_000


# ---- (d) the in-chart slider redraws in the browser --------------------------------------


def test_in_chart_slider_shows_each_frame(page, app_url):
    open_app(page, app_url)
    selector = chart_selector("gradient_flow")
    frames = page.evaluate(
        "(s) => document.querySelector(s)._transitionData._frames.map(f => f.data.map(d => d.y))",
        selector,
    )
    assert len(frames) >= 2
    before = ys(chart_traces(page, "gradient_flow"))

    for fraction, frame in ((0.0, frames[0]), (1.0, frames[-1])):
        arm_redraw(page, selector)
        click_chart_slider(page, "gradient_flow", fraction)
        wait_for_redraw(page, timeout=TIMEOUT)
        drawn = ys(chart_traces(page, "gradient_flow"))
        assert len(drawn) == len(frame)
        for line, expected in zip(drawn, frame, strict=True):
            np.testing.assert_allclose(line, decode(expected), rtol=1e-12)
    # the last frame is not what was drawn at first (the knob was elsewhere)
    assert any(not np.allclose(a, b, equal_nan=True) for a, b in zip(drawn, before, strict=True))
