"""The app in a real browser (Debian's Chromium through Playwright).

One server and one browser for the module; each test opens its own page in
a fresh context, so its own Streamlit session. The charts' drawn numbers
are read from Plotly's ``gd._fullData``: what the reader actually sees.
Screenshots of every tab go to test-output/ (gitignored).
"""

from __future__ import annotations

import base64
import re
import xml.etree.ElementTree as ET
from urllib.parse import parse_qsl, urlsplit

import numpy as np
import pytest

from app.compute import cell_spec, norms_over_time, run_cell
from app.explorer.state import Settings
from app.figures import VIEW_MODULES
from tests.browser_support import (
    ROOT,
    arm_redraw,
    chart_selector,
    chart_traces,
    charts_drawn,
    click_chart_slider,
    new_page,
    screenshot_whole_app,
    wait_for_chart,
    wait_for_redraw,
    wait_until_idle,
)

pytestmark = pytest.mark.browser

TABS = list(VIEW_MODULES)
T_SLIDER = "Sequence length T (steps)"
H_SLIDER = "Hidden size H (units)"
SCREENSHOTS = ROOT / "test-output"
TIMEOUT = 90_000  # ms; the machine may be shared with other test runs


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
    settings, ignored = Settings.from_query(query)
    assert ignored == []
    expected = norms_over_time(run_cell(cell_spec(settings, "gru")).trace.grad_hidden)
    np.testing.assert_allclose(gru, expected, rtol=1e-12)
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
        # the frames move the cells' lines; a line drawn after them (the
        # matrix's analytic reference, app.lecture) stays as drawn
        drawn = ys(chart_traces(page, "gradient_flow"))[: len(frame)]
        assert len(drawn) == len(frame)
        for line, expected in zip(drawn, frame, strict=True):
            np.testing.assert_allclose(line, decode(expected), rtol=1e-12)
    # the last frame is not what was drawn at first (the knob was elsewhere)
    assert any(not np.allclose(a, b, equal_nan=True) for a, b in zip(drawn, before, strict=False))


def test_in_chart_slider_of_a_long_run_draws_its_frames_on_their_steps(page, app_url):
    """Past 200 steps the frames draw every few steps, named once in a base
    frame: a frame shown must be drawn against those steps, not the figure's."""
    open_app(page, app_url, "?cell=rnn&T=300&H=4&seed=5")
    selector = chart_selector("gradient_flow")
    frames = page.evaluate(
        """(s) => document.querySelector(s)._transitionData._frames.map(
            f => ({name: f.name, base: f.baseframe || null, x: f.data.map(d => d.x ?? null)}))""",
        selector,
    )
    base = next(f for f in frames if f["name"] == "steps")
    steps = decode(base["x"][0])
    assert steps.size == 200 and steps[-1] == 299
    assert all(f["base"] == "steps" for f in frames if f["name"] != "steps")
    assert len(ys(chart_traces(page, "gradient_flow"))[0]) == 300  # the figure draws every step

    arm_redraw(page, selector)
    click_chart_slider(page, "gradient_flow", 0.0)
    wait_for_redraw(page, timeout=TIMEOUT)
    (drawn,) = chart_traces(page, "gradient_flow")[:1]
    np.testing.assert_array_equal(np.asarray(drawn["x"], dtype=float), steps)
    assert len(drawn["y"]) == steps.size


# ---- issue 4: a figure for slides downloads from its button ---------------------------


def test_svg_download_carries_the_settings(page, app_url):
    open_app(page, app_url, "?cell=gru&T=40&seed=3")
    button = page.locator(".st-key-download_gradient_flow_svg").get_by_role("button", name="SVG")
    with page.expect_download(timeout=TIMEOUT) as download:
        button.click()
    path = download.value.path()
    root = ET.parse(path).getroot()
    assert root.tag.endswith("svg")
    text = " ".join(root.itertext())
    assert "GRU" in text and "T = 40" in text and "seed 3" in text
    assert download.value.suggested_filename.endswith(".svg")


def test_projector_mode_and_dark_theme_restyle_the_chart(page, app_url):
    SCREENSHOTS.mkdir(exist_ok=True)
    open_app(page, app_url)
    light = page.evaluate(LAYOUT_LOOK, chart_selector("gradient_flow"))
    open_app(page, app_url, "?proj=1&theme=dark")
    dark = page.evaluate(LAYOUT_LOOK, chart_selector("gradient_flow"))
    assert dark["font"] > light["font"] and dark["font"] >= 22
    assert dark["width"] > light["width"] and dark["width"] >= 4
    assert luminance(dark["paper"]) < 0.1 < 0.9 < luminance(light["paper"])
    assert luminance(page.evaluate(PAGE_BACKGROUND)) < 0.1
    # the cells chosen (Elman RNN, LSTM) must stand out from those not chosen
    chosen, other = page.evaluate(PILL_BACKGROUNDS, ["Elman RNN", "Jordan"])
    assert abs(luminance(chosen) - luminance(other)) > 0.05, (chosen, other)
    assert_no_failure(page)
    screenshot_whole_app(page, SCREENSHOTS / "browser_projector_dark.png")


LAYOUT_LOOK = """(selector) => {
    const gd = document.querySelector(selector);
    return {font: gd._fullLayout.font.size, paper: gd._fullLayout.paper_bgcolor,
            width: Math.max(...gd._fullData.map(d => (d.line && d.line.width) || 0))};
}"""
PILL_BACKGROUNDS = """(names) => names.map((name) => getComputedStyle(
    [...document.querySelectorAll('[data-testid=stSidebar] button')]
        .find((b) => b.innerText.trim() === name)).backgroundColor)"""
PAGE_BACKGROUND = """() => getComputedStyle(
    document.querySelector('[data-testid=stMain]') || document.body).backgroundColor"""


NAMED = {"white": 1.0, "black": 0.0}


def luminance(colour: str) -> float:
    """0 for black, 1 for white: from 'white', 'black', '#rrggbb' or 'rgb(r, g, b)'."""
    if colour in NAMED:
        return NAMED[colour]
    if colour.startswith("#"):
        channels = [int(colour[i : i + 2], 16) for i in (1, 3, 5)]
    else:
        channels = [int(float(v)) for v in re.findall(r"[\d.]+", colour)[:3]]
    return sum(channels) / (3 * 255)


# ---- issue 13, item 4: what you scrub is what you save and share ------------------------


def test_scrubbed_value_is_said_and_one_click_makes_it_the_setting(page, app_url):
    """The fifty-steps-back sentence follows the in-chart slider; its button
    makes the scrubbed ρ the setting: the sidebar's slider and the link."""
    from app.compute import cell_spec, drawn_radius
    from app.explorer.state import Settings
    from app.text import sci

    default = Settings()  # the focus cell's W_hh as drawn: the number every label says
    drawn = f"{drawn_radius(cell_spec(default, default.focus)):.3f}"
    open_app(page, app_url)
    said = page.locator(".gfl-fifty-gradient_flow")
    assert f"at ρ = {drawn}" in said.inner_text()
    use = page.locator(".gfl-keys-use")
    assert use.is_hidden()

    scrub = page.locator(".gfl-keys input[type=range]")
    labels = page.evaluate(
        "(s) => document.querySelector(s)._fullLayout.sliders[0].steps.map(s => s.label)",
        chart_selector("gradient_flow"),
    )
    assert (
        labels[
            page.evaluate(
                "(s) => document.querySelector(s)._fullLayout.sliders[0].active",
                chart_selector("gradient_flow"),
            )
        ]
        == drawn
    )  # the slider starts on the drawn ρ, the sidebar's number
    scrub.fill(str(labels.index("1.65")))
    expect_text = page.wait_for_function(
        "() => document.querySelector('.gfl-fifty-gradient_flow').innerText.includes('1.65')"
    )
    assert expect_text
    frame = page.evaluate(
        """(s) => document.querySelector(s)._transitionData._frames
            .find(f => f.name === '1.65').data.map(d => d.y)""",
        chart_selector("gradient_flow"),
    )
    elman = decode(frame[0])
    assert f"Elman RNN {sci(elman[-51] / elman[-1], 5)}" in said.inner_text()
    use.scroll_into_view_if_needed()
    page.screenshot(path=SCREENSHOTS / "words_scrubbed_sentence.png")

    assert use.inner_text().startswith("Use ρ = 1.65")
    use.click()
    page.wait_for_function("() => window.location.search.includes('rho=1.65')")
    wait_until_idle(page, timeout=TIMEOUT)
    radius = page.get_by_role("slider", name="Spectral radius ρ of W_hh (largest |eigenvalue|)")
    assert float(radius.input_value()) == 1.65
    assert "at ρ = 1.65" in said.inner_text()
    assert use.is_hidden()
    # no longer the first screen's preset: its pill is not chosen
    chosen = page.locator(".st-key-preset button[data-selected=true]")
    assert chosen.count() == 0
    page.screenshot(path=SCREENSHOTS / "words_scrub_used.png")


# ---- issue 13, item 9: dark help icons and toggle tracks; the link's copy button -------

_EFFECTIVE_OPACITY = """(el) => { let o = 1; for (let e = el; e; e = e.parentElement)
    o *= Number(getComputedStyle(e).opacity); return o; }"""


def _rgb(css: str) -> str:
    r, g, b = (int(v) for v in re.findall(r"[\d.]+", css)[:3])
    return f"#{r:02X}{g:02X}{b:02X}"


def test_dark_help_icons_and_off_toggles_show_on_the_sidebar(page, app_url):
    from app.style import DARK_PANEL, contrast

    open_app(page, app_url, "?theme=dark")
    icon = page.locator("[data-testid=stSidebar] [data-testid=stTooltipIcon] svg").first
    stroke = icon.evaluate("(e) => getComputedStyle(e).stroke")
    assert "rgba" not in stroke and contrast(_rgb(stroke), DARK_PANEL) >= 3
    track = page.locator(".st-key-projector label > div:not([data-testid])").first
    fill = track.evaluate("(e) => getComputedStyle(e).backgroundColor")
    assert "rgba" not in fill and contrast(_rgb(fill), DARK_PANEL) >= 3
    page.locator("[data-testid=stSidebar]").screenshot(path=SCREENSHOTS / "words_dark_sidebar.png")


def test_copy_link_button_shows_without_hover_and_takes_the_keyboard(page, app_url):
    open_app(page, app_url)
    code = page.locator("[data-testid=stSidebar] [data-testid=stCode]")
    copy = code.get_by_role("button", name="Copy to clipboard")
    page.mouse.move(5, 5)  # the pointer far from the link
    assert copy.evaluate(_EFFECTIVE_OPACITY) == 1
    code.focus()
    page.keyboard.press("Tab")
    assert copy.evaluate("(e) => e === document.activeElement")
    code.screenshot(path=SCREENSHOTS / "words_copy_link.png")
