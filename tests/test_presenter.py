"""The lecture itself (issue 13): the presenter view, opened by a link or a
sidebar button, shows one chart and its numbers, and leads back."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from app.compute import (  # noqa: E402
    cell_spec,
    drawn_radius,
    gradient_ratio,
    norms_over_time,
    run_cell,
)
from app.explorer.state import Settings  # noqa: E402
from app.text import sci  # noqa: E402
from tests.test_app import assert_clean, fresh  # noqa: E402


def chart_keys(at: AppTest) -> list[str]:
    return [element.proto.id.split("-")[-1] for element in at.get("plotly_chart")]


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def test_a_link_opens_one_chart_with_its_numbers_and_a_way_back():
    query = {"cell": "rnn,gru", "T": "80", "seed": "4", "show": "flow"}
    at = fresh(query)
    assert_clean(at)
    assert chart_keys(at) == ["gradient_flow"]  # one chart, no tabs, no heatmap
    assert len(at.tabs) == 0 and len(at.sidebar.slider) == 0
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert spec["layout"].get("sliders"), "the in-chart slider is there to step"
    assert at.query_params == query
    shown = metrics(at)
    settings = Settings(cells=("rnn", "gru"), seq_len=80, seed=4)
    for kind, label in (("rnn", "Elman RNN"), ("gru", "GRU")):
        norms = norms_over_time(run_cell(cell_spec(settings, kind)).trace.grad_hidden)
        assert shown[label] == sci(gradient_ratio(norms, 50))  # from the run shown
    # ρ as the sidebar and the slider's read-out say it: W_hh's drawn ρ, one number
    assert shown["ρ"] == f"{drawn_radius(cell_spec(settings, settings.focus_cell)):.3f}"
    at.button(key="present_back").click().run()
    assert_clean(at)
    assert "show" not in at.query_params
    assert {"gradient_flow", "gradient_heatmap"} <= set(chart_keys(at))
    assert at.slider(key="seq_len").value == 80  # the same settings


def test_the_sidebar_opens_the_backward_sweep_full_screen():
    at = fresh({"T": "40"})
    at.button(key="present_sweep").click().run()
    assert_clean(at)
    assert chart_keys(at) == ["backward_sweep"]
    assert at.query_params["show"] == "sweep"
    shown = metrics(at)
    assert set(shown) == {"Elman RNN", "LSTM"}
    settings = Settings(seq_len=40)
    norms = norms_over_time(run_cell(cell_spec(settings, "lstm")).trace.grad_hidden)
    assert shown["LSTM"] == sci(gradient_ratio(norms, 39))  # all the way back to t = 0


# ---- in a real browser: a clicker's keys step the chart ------------------------------

PRESENTED_INDEX = """(key) => {
    const input = document.querySelector('.gfl-keys[data-chart="' + key + '"] input');
    const gd = document.querySelector('.st-key-' + key + ' .js-plotly-plot');
    return input && gd && gd._fullLayout.sliders && gd._fullLayout.sliders.length
        ? Number(input.value) : null;
}"""


def _drawn_index(page, key: str, index: int) -> None:
    page.wait_for_function(f"(k) => ({PRESENTED_INDEX})(k) === {index}", arg=key)


@pytest.mark.browser
@pytest.mark.parametrize(("show", "key"), [("flow", "gradient_flow"), ("sweep", "backward_sweep")])
def test_a_clickers_keys_step_the_presented_chart_frame_by_frame(show, key):
    from playwright.sync_api import sync_playwright

    from tests.browser_support import (
        chart_traces,
        launch_chromium,
        streamlit_server,
        wait_for_chart,
        wait_until_idle,
    )

    with streamlit_server() as url, sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        page = browser.new_context(viewport={"width": 1024, "height": 768}).new_page()
        page.set_default_timeout(90_000)
        page.goto(f"{url}/?show={show}&T=120&seed=2")
        wait_for_chart(page, key, timeout=90_000)
        page.wait_for_function(f"(k) => ({PRESENTED_INDEX})(k) !== null", arg=key)
        wait_until_idle(page, timeout=90_000)
        start = page.evaluate(PRESENTED_INDEX, key)
        first = chart_traces(page, key)
        page.mouse.click(5, 700)  # the clicker's keys reach the page, not a widget
        page.keyboard.press("PageUp" if start > 0 else "PageDown")
        moved = start - 1 if start > 0 else start + 1
        _drawn_index(page, key, moved)
        page.wait_for_timeout(300)
        after = chart_traces(page, key)
        assert any(
            not np.array_equal(np.asarray(a["y"], float), np.asarray(b["y"], float), equal_nan=True)
            for a, b in zip(first, after, strict=True)
            if a["y"] is not None
        ), "the drawn frame changed"
        page.keyboard.press("ArrowRight")
        _drawn_index(page, key, moved + 1)
        page.keyboard.press("ArrowLeft")
        _drawn_index(page, key, moved)
        twice = "PageUp" if moved >= 2 else "PageDown"  # one frame each, not a tenth
        page.keyboard.press(twice)
        page.keyboard.press(twice)
        _drawn_index(page, key, moved - 2 if twice == "PageUp" else moved + 2)
        page.wait_for_timeout(500)
        assert page.locator("[data-testid=stException]").count() == 0
        assert page.locator("[data-testid=stSidebar]").is_hidden()
        page.screenshot(path=str(ROOT / "test-output" / f"presenter_{show}.png"))
        browser.close()


def test_the_presenter_names_the_second_settings_numbers_too():
    at = fresh({"cell": "rnn", "H": "8", "T": "70", "rho2": "1.2", "show": "flow"})
    assert_clean(at)
    other = Settings(cells=("rnn",), hidden_size=8, seq_len=70, spectral_radius=1.2)
    norms = norms_over_time(run_cell(cell_spec(other, "rnn")).trace.grad_hidden)
    assert metrics(at)["Elman RNN, ρ = 1.2"] == sci(gradient_ratio(norms, 50))
