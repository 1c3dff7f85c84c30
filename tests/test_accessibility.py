"""WCAG 2.2 AA in the real browser: the axe-core audit of every tab in every
look, the whole path from page load with the keyboard alone, and the charts'
text alternatives as drawn.

axe-core comes bundled with ``axe-playwright-python`` (nothing is fetched);
see tests/a11y_support.py for the rules run and the findings in Streamlit's
own markup that are left out (each listed in the README).
"""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from app.alt_text import plain, values
from app.figures import VIEW_MODULES
from tests.a11y_support import audit as axe_audit
from tests.a11y_support import blocking, describe, summary
from tests.browser_support import (
    ROOT,
    chart_traces,
    new_page,
    wait_for_chart,
    wait_until_idle,
)
from tests.test_alt_text import parse_numbers

pytestmark = pytest.mark.browser

TIMEOUT = 90_000
MODES = {"light": "", "dark": "?theme=dark", "projector": "?proj=1"}
SCREENSHOTS = ROOT / "test-output"


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


def settle(page) -> None:
    """Wait for the rerun a key press asked for (and the in-chart slider's runs)."""
    page.wait_for_timeout(400)
    wait_until_idle(page, timeout=TIMEOUT, settle_ms=600)


# ---- axe-core on every tab, in every look ------------------------------------------------


@pytest.mark.parametrize("mode", list(MODES))
def test_axe_finds_nothing_serious_on_any_tab(page, app_url, mode):
    open_app(page, app_url, MODES[mode])
    found, every = {}, {}
    for title in VIEW_MODULES:
        page.get_by_role("tab", name=title, exact=True).click()
        panel = page.get_by_role("tabpanel", name=title, exact=True)
        panel.locator(".js-plotly-plot .main-svg").first.wait_for(timeout=TIMEOUT)
        settle(page)
        audited = axe_audit(page)
        every[title] = {f"{rule} ({impact})": n for (rule, impact), n in summary(audited).items()}
        violations = blocking(audited)
        if violations:
            found[title] = (dict(summary(violations)), describe(violations))
    # every finding, serious or not, per tab: the "after" beside test-output-before.json
    SCREENSHOTS.mkdir(exist_ok=True)
    (SCREENSHOTS / f"axe_{mode}.json").write_text(json.dumps(every, indent=1, ensure_ascii=False))
    assert not found, found


# ---- the keyboard alone ---------------------------------------------------------------------

FOCUSED = """() => {
    const e = document.activeElement;
    if (!e) return {};
    const label = e.labels && e.labels[0] ? e.labels[0].innerText : '';
    const group = e.closest('[role=radiogroup], [role=toolbar], [role=group], [role=tablist]');
    return {tag: e.tagName, role: e.getAttribute('role') || '', type: e.type || '',
            name: (e.getAttribute('aria-label') || label || e.innerText || '').trim(),
            group: group ? (group.getAttribute('aria-label') || '') : '',
            value: e.value ?? null, checked: e.getAttribute('aria-checked'),
            pressed: e.getAttribute('aria-pressed'), selected: e.getAttribute('aria-selected')};
}"""
RING = """() => {
    const e = document.activeElement;
    const style = getComputedStyle(e);
    return {width: parseFloat(style.outlineWidth) || 0, style: style.outlineStyle,
            colour: style.outlineColor, shadow: style.boxShadow};
}"""


def focused(page) -> dict:
    return page.evaluate(FOCUSED)


def tab_to(page, matches, *, back: bool = False, most: int = 90) -> dict:
    """Press Tab (Shift+Tab when ``back``) until the focused element satisfies
    ``matches`` (a function of ``focused``'s dict); that dict."""
    seen = []
    for _ in range(most):
        page.keyboard.press("Shift+Tab" if back else "Tab")
        now = focused(page)
        if matches(now):
            return now
        seen.append(f"{now.get('tag')} {now.get('role')} {now.get('name', '')[:30]!r}")
    raise AssertionError("Tab never reached the control; focused on the way:\n" + "\n".join(seen))


def slider_named(text: str):
    return lambda f: f["type"] == "range" and text in f["name"]


def assert_ring(page, what: str) -> None:
    ring = page.evaluate(RING)
    assert ring["width"] >= 2 and ring["style"] != "none", (what, ring)


def gd_state(page, key: str) -> dict:
    return page.evaluate(
        """(key) => { const gd = document.querySelector('.st-key-' + key + ' .js-plotly-plot');
            return {active: gd._fullLayout.sliders[0].active,
                    names: gd._transitionData._frames.map((f) => f.name)}; }""",
        key,
    )


def test_the_whole_path_with_the_keyboard_alone(page, app_url):
    """Preset, cells, H, ρ, T, the tabs, the in-chart slider and the backward
    sweep's Play / Pause: Tab, Shift+Tab, arrows, Enter and Space only."""
    open_app(page, app_url)

    # a preset: the presets are a radio group; an arrow moves, Space picks
    tab_to(page, lambda f: f["role"] == "radio" and f["name"] == "Elman against LSTM")
    assert_ring(page, "preset")
    page.keyboard.press("ArrowRight")
    assert focused(page)["name"] == "Vanishing (w = 0.9)"
    page.keyboard.press("Space")
    settle(page)
    assert focused(page)["checked"] == "true"
    assert page.get_by_text("Vanishing (w = 0.9).").count() == 1  # the preset's sentence

    # cells: the pills of the cells; the arrows move, Space adds the one reached
    cell = tab_to(page, lambda f: f["tag"] == "BUTTON" and "RNN" in f["name"])
    assert_ring(page, "cell pill")
    page.keyboard.press("ArrowRight")  # Jordan
    page.keyboard.press("ArrowRight")  # GRU
    assert focused(page)["name"] == "GRU", cell
    page.keyboard.press("Space")
    settle(page)
    assert "GRU" in [t["name"] for t in chart_traces(page, "gradient_flow")]

    # H: the single unit of the preset becomes a matrix of 2 units
    h = tab_to(page, slider_named("Hidden size H"))
    assert_ring(page, "H slider")
    page.keyboard.press("ArrowRight")
    settle(page)
    assert int(focused(page)["value"]) == int(h["value"]) + 1

    # ρ (shown once H > 1)
    rho = tab_to(page, slider_named("Spectral radius"))
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    settle(page)
    assert float(focused(page)["value"]) > float(rho["value"])

    # T
    steps = tab_to(page, slider_named("Sequence length T"))
    page.keyboard.press("ArrowLeft")
    settle(page)
    T = int(steps["value"]) - 1
    assert int(focused(page)["value"]) == T
    assert {len(t["y"]) for t in chart_traces(page, "gradient_flow")} == {T}

    # the in-chart slider, from its keyboard control under the chart
    tab_to(page, lambda f: f["type"] == "range" and "Scrub the chart" in f["name"])
    assert_ring(page, "in-chart slider's keys")
    before = gd_state(page, "gradient_flow")
    page.keyboard.press("ArrowLeft")
    page.keyboard.press("ArrowLeft")
    page.wait_for_timeout(300)
    after = gd_state(page, "gradient_flow")
    assert after["active"] == before["active"] - 2  # Plotly's own slider followed
    drawn = chart_traces(page, "gradient_flow")
    frame = page.evaluate(
        """([key, index]) => {
            const gd = document.querySelector('.st-key-' + key + ' .js-plotly-plot');
            return gd._transitionData._frames[index].data.map((d) => d.y);
        }""",
        ["gradient_flow", after["active"]],
    )
    for line, expected in zip(drawn, frame, strict=False):
        np.testing.assert_allclose(np.asarray(line["y"], float), values(expected), rtol=1e-6)

    # the tabs: back to the tab list, an arrow opens the next tab
    tab_to(page, lambda f: f["role"] == "tab", back=True)
    assert_ring(page, "tab")
    page.keyboard.press("ArrowRight")
    settle(page)
    assert focused(page)["name"] == "Backward sweep"
    assert focused(page)["selected"] == "true"
    wait_for_chart(page, "backward_sweep", timeout=TIMEOUT)

    # the backward sweep: Play with Space, Pause with Enter
    tab_to(page, lambda f: f["tag"] == "BUTTON" and f["name"].startswith("Play"))
    assert_ring(page, "Play")
    page.keyboard.press("Space")
    page.wait_for_timeout(700)
    playing = gd_state(page, "backward_sweep")["active"]
    page.keyboard.press("Tab")
    assert focused(page)["name"].startswith("Pause")
    page.keyboard.press("Enter")
    paused = gd_state(page, "backward_sweep")["active"]
    page.wait_for_timeout(600)
    still = gd_state(page, "backward_sweep")["active"]
    assert paused == still, "Pause did not stop the sweep"
    assert 0 < playing < len(gd_state(page, "backward_sweep")["names"]) - 1, playing
    assert page.locator("[data-testid=stException]").count() == 0


@pytest.mark.parametrize("mode", list(MODES))
def test_focus_ring_shows_in_every_look(page, app_url, mode):
    SCREENSHOTS.mkdir(exist_ok=True)
    open_app(page, app_url, MODES[mode])
    tab_to(page, slider_named("Sequence length T"))
    assert_ring(page, "T slider")
    page.locator(":focus").scroll_into_view_if_needed()
    page.screenshot(path=SCREENSHOTS / f"focus_{mode}_slider.png")
    tab_to(page, lambda f: f["type"] == "range" and "Scrub the chart" in f["name"])
    assert_ring(page, "in-chart slider's keys")
    page.locator(":focus").scroll_into_view_if_needed()
    page.screenshot(path=SCREENSHOTS / f"focus_{mode}_chart_keys.png")


# ---- the charts' text alternatives, as drawn -----------------------------------------------


def test_every_chart_has_its_words_and_they_match_the_drawn_lines(page, app_url):
    open_app(page, app_url, "?cell=rnn,lstm&T=80&H=4&seed=2")
    for title in VIEW_MODULES:
        page.get_by_role("tab", name=title, exact=True).click()
        panel = page.get_by_role("tabpanel", name=title, exact=True)
        panel.locator(".js-plotly-plot .main-svg").first.wait_for(timeout=TIMEOUT)
        settle(page)
        keys = panel.locator("[data-testid=stPlotlyChart]").evaluate_all(
            "(charts) => charts.map((c) => [...c.closest('[class*=st-key-]').classList]"
            ".find((n) => n.startsWith('st-key-')).slice(7))"
        )
        assert keys, title
        for key in keys:
            words = panel.locator(f"[data-alt-for={key}]")
            assert words.count() == 1, (title, key)
            text = words.inner_text()
            assert text.startswith("Chart: ") and parse_numbers(text), (key, text)
    # the gradient-flow chart's words against what Plotly drew
    page.get_by_role("tab", name="Gradient flow", exact=True).click()
    settle(page)
    text = page.locator("[data-alt-for=gradient_flow]").inner_text()
    for trace in chart_traces(page, "gradient_flow"):
        y = np.asarray(trace["y"], dtype=float)
        clause = re.search(re.escape(plain(trace["name"])) + r":[^.]*(?:\.\d[^.]*)*\.", text)
        assert clause, (trace["name"], text)
        # the numbers after the name (a name may hold some: "LSTM, ρ = 1.2")
        said = clause.group(0)[len(plain(trace["name"])) :]
        last, last_step, early, early_step = parse_numbers(said)[:4]
        assert (last_step, early_step) == (79, 29)
        assert last == pytest.approx(y[79], rel=6e-3)
        assert early == pytest.approx(y[29], rel=6e-3)
