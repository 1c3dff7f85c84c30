"""The training lab in Chromium: start the default preset, watch the loss
chart grow while it trains, stop it, and keep a screenshot of each chart."""

from __future__ import annotations

import pytest
from playwright.sync_api import sync_playwright

from tests.browser_support import (
    ROOT,
    chart_traces,
    launch_chromium,
    new_page,
    streamlit_server,
    wait_for_chart,
    wait_until_idle,
)

pytestmark = pytest.mark.browser
TIMEOUT = 120_000
SCREENSHOTS = ROOT / "test-output"
CHARTS = ["lab_loss", "lab_grad_norm", "lab_radius", "lab_lags", "lab_example"]


def _points(page) -> int:
    """Points drawn in the loss chart; waits out the moment a live redraw
    replaces the chart's element."""
    return (
        page.wait_for_function(
            """selector => {
            const gd = document.querySelector(selector);
            return gd && gd._fullData
                ? 1 + gd._fullData.reduce((n, t) => n + (t.x ? t.x.length : 0), 0)
                : null;
        }""",
            arg=".st-key-lab_loss .js-plotly-plot",
            timeout=TIMEOUT,
        ).json_value()
        - 1
    )


def test_the_loss_chart_grows_while_it_trains_and_stops_when_stopped():
    SCREENSHOTS.mkdir(exist_ok=True)
    with streamlit_server() as url, sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            page = new_page(browser)
            page.goto(url + "/training_lab?T=20&H=8")
            wait_until_idle(page, timeout=TIMEOUT)
            page.get_by_role("button", name="▶ Start").click()
            wait_for_chart(page, "lab_loss", timeout=TIMEOUT)
            first = _points(page)
            page.wait_for_function(
                """([selector, count]) => {
                    const gd = document.querySelector(selector);
                    return gd && gd._fullData.reduce((n, t) => n + (t.x ? t.x.length : 0), 0)
                        > count;
                }""",
                arg=[".st-key-lab_loss .js-plotly-plot", first],
                timeout=TIMEOUT,
            )
            page.get_by_role("button", name="⏹ Stop").click()
            wait_until_idle(page, timeout=TIMEOUT)
            stopped = _points(page)
            page.wait_for_timeout(1500)
            assert _points(page) == stopped > first
            for key in CHARTS:
                chart = page.locator(f".st-key-{key}")
                chart.scroll_into_view_if_needed()
                chart.screenshot(path=str(SCREENSHOTS / f"browser_{key}.png"))
            page.get_by_role("tab", name="The cliff").click()
            wait_for_chart(page, "lab_cliff", timeout=TIMEOUT)
            traces = chart_traces(page, "lab_cliff")
            assert [t["type"] for t in traces] == ["heatmap", "scatter", "scatter"]
            page.locator(".st-key-lab_cliff").screenshot(
                path=str(SCREENSHOTS / "browser_lab_cliff.png")
            )
        finally:
            browser.close()
