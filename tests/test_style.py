"""app.style: projector mode and the dark theme, on every kind of chart the app draws."""

from __future__ import annotations

import copy
import re

import numpy as np
import plotly.graph_objects as go
import pytest

from app import charts, flow_chart, panels
from app.explorer.state import Settings
from app.explorer.views.backward_sweep import SweepLine, sweep_figure
from app.style import (
    FONT_SCALE,
    PROJECTOR_AXIS_TITLE,
    contrast,
    page_css,
    parse_colour,
    relative_luminance,
    styled,
)

T = 30
STEPS = np.arange(T)
RNG = np.random.default_rng(0)
DECAY = 0.8 ** (T - 1 - STEPS)
GROWTH = 1.1 ** (T - 1 - STEPS)


def _lines() -> list[charts.Line]:
    return [
        charts.Line("Elman RNN", charts.CELL_COLOURS["rnn"], STEPS, DECAY),
        charts.Line("LSTM", charts.CELL_COLOURS["lstm"], STEPS, GROWTH, dash="dot"),
        charts.Line("reference", charts.OKABE_ITO["black"], STEPS, DECAY * 2, "dash", 2),
    ]


def _scrub() -> flow_chart.Scrub:
    values = np.array([0.8, 0.9, 1.0])
    return flow_chart.Scrub("w", values, [[DECAY * v, GROWTH * v, DECAY] for v in values], 1)


FIGURES = {
    "gradient_flow": lambda: flow_chart.gradient_flow_figure(
        _lines(), steps=T, threshold=1.0, threshold_text="θ", chunk=10
    ),
    "gradient_flow_scrub": lambda: flow_chart.gradient_flow_figure(
        _lines(), steps=T, scrub=_scrub()
    ),
    "log_heatmap": lambda: panels.log_heatmap_figure(
        np.abs(RNG.standard_normal((4, T))), STEPS, title="heat", colour_title="|g|"
    ),
    "stacked_heatmaps": lambda: panels.stacked_heatmaps_figure(
        [
            panels.Panel("h", RNG.standard_normal((3, T)), diverging=True),
            panels.Panel("gate", RNG.uniform(size=(3, T)), diverging=False),
        ],
        STEPS,
        title="inside",
    ),
    "lines_log_reference": lambda: charts.lines_figure(
        _lines(), title="J", y_title="‖J‖", log=True, reference=1.0, reference_text="1"
    ),
    "lines_linear": lambda: charts.lines_figure(
        _lines(), title="gates", y_title="mean", y_range=[0, 1]
    ),
    "eigenvalues": lambda: panels.eigenvalues_figure(
        {"main": np.array([0.5 + 0.5j, 0.9]), "forget": np.array([0.2])},
        colour=charts.CELL_COLOURS["lstm"],
        title="eig",
        block_names={"main": "candidate", "forget": "forget"},
    ),
    "clipping_bars": lambda: panels.clipping_bars_figure(
        ["W_hh", "W_ih"], np.array([3.0, 0.5]), np.array([1.0, 0.2]), colour="#0072B2", title="c"
    ),
    "global_norm": lambda: panels.global_norm_figure(
        ["Elman RNN", "LSTM"],
        np.array([5.0, 0.5]),
        np.array([1.0, 0.5]),
        [charts.CELL_COLOURS["rnn"], charts.CELL_COLOURS["lstm"]],
        threshold=1.0,
    ),
    "phase": lambda: panels.phase_figure(
        RNG.uniform(-5, 5, size=(6, 4)),
        np.linspace(0, 3, 4),
        np.arange(6),
        np.eye(6, 4, dtype=bool),
        x_title="ρ",
        current=1.0,
        title="phase",
    ),
    "backward_sweep": lambda: sweep_figure(
        [
            SweepLine("Elman RNN", charts.CELL_COLOURS["rnn"], DECAY),
            SweepLine("LSTM", charts.CELL_COLOURS["lstm"], GROWTH),
        ],
        steps=T,
        chunk=10,
    ),
}
LIGHT = Settings()
PROJECTOR = Settings(projector=True)
DARK = Settings(theme="dark")
BOTH = Settings(theme="dark", projector=True)


# ---- walking a figure's specification ------------------------------------------


def _walk(node, path=()):
    """(path, key, value) of every dict entry under ``node``, typed arrays skipped."""
    if isinstance(node, list):
        for i, item in enumerate(node):
            yield from _walk(item, (*path, i))
    elif isinstance(node, dict) and "bdata" not in node:
        for key, value in node.items():
            yield path, key, value
            yield from _walk(value, (*path, key))


def _get(spec, path):
    for part in path:
        spec = spec[part]
    return spec


def _fonts(spec):
    """(path, font dict) of every font in the figure (frames included)."""
    for path, key, value in _walk(spec):
        if key.endswith("font") and isinstance(value, dict):
            yield (*path, key), value


def _visible(font) -> bool:
    parsed = parse_colour(font.get("color"))
    return parsed is None or parsed[3] > 0


def _spec(fig) -> dict:
    return fig.to_dict()


@pytest.fixture(params=sorted(FIGURES))
def kind(request):
    return request.param


_BUILT: dict = {}
# sizes are rounded to 0.1 px
AXIS_TITLE_ONCE_ENLARGED = max(PROJECTOR_AXIS_TITLE, (charts.FONT + 2) * FONT_SCALE) + 0.1


def _figure(kind: str) -> go.Figure:
    """Each figure built once per session (styled must not change it: tested below)."""
    if kind not in _BUILT:
        _BUILT[kind] = FIGURES[kind]()
    return _BUILT[kind]


# ---- projector mode -----------------------------------------------------------------


@pytest.mark.parametrize("settings", [PROJECTOR, BOTH], ids=["light", "dark"])
def test_projector_text_is_at_least_22px_and_titles_larger(kind, settings):
    spec = _spec(styled(_figure(kind), settings))
    layout = spec["layout"]
    assert layout["font"]["size"] >= 22
    sizes = [
        (path, font["size"]) for path, font in _fonts(spec) if "size" in font and _visible(font)
    ]
    assert sizes, "no sized font at all: the walk is broken"
    too_small = [(p, s) for p, s in sizes if np.min(s) < 22]
    assert not too_small
    assert layout["title"]["font"]["size"] > layout["font"]["size"]
    for name in [k for k in layout if re.match(r"^[xy]axis\d*$", k)]:
        title = layout[name].get("title")
        if isinstance(title, dict) and title.get("text"):
            assert title["font"]["size"] > layout["font"]["size"]
            # enlarged once: a title scaled twice ran into the slider under the plot
            assert title["font"]["size"] <= AXIS_TITLE_ONCE_ENLARGED


@pytest.mark.parametrize("settings", [PROJECTOR, BOTH], ids=["light", "dark"])
def test_projector_lines_are_at_least_4px(kind, settings):
    spec = _spec(styled(_figure(kind), settings))
    widths = []
    for trace in spec["data"]:
        drawn = trace.get("type", "scatter") == "scatter" and "lines" in trace.get("mode", "lines")
        if drawn and trace.get("line", {}).get("width", None) != 0:
            widths.append(trace["line"]["width"])
    widths += [shape["line"]["width"] for shape in spec["layout"].get("shapes", [])]
    if kind in ("log_heatmap", "stacked_heatmaps", "clipping_bars"):
        assert not widths  # nothing drawn as a line there
    else:
        assert widths
    assert all(w >= 4 for w in widths), widths


def test_projector_markers_grow():
    before = _spec(_figure("eigenvalues"))
    after = _spec(styled(_figure("eigenvalues"), PROJECTOR))
    pairs = [
        (b["marker"]["size"], a["marker"]["size"])
        for b, a in zip(before["data"], after["data"], strict=True)
        if "size" in b.get("marker", {})
    ]
    assert pairs
    assert all(a >= 1.4 * b for b, a in pairs)


def test_projector_grid_is_stronger_and_text_black(kind):
    light = _spec(_figure(kind))["layout"]
    spec = _spec(styled(_figure(kind), PROJECTOR))
    layout = spec["layout"]
    assert layout["font"]["color"] == "#000000"
    for name in [k for k in layout if re.match(r"^[xy]axis\d*$", k)]:
        old_grid = light.get(name, {}).get("gridcolor", "#E6E6E6")
        assert contrast(layout[name]["gridcolor"], "#FFFFFF") > contrast(old_grid, "#FFFFFF")
        assert layout[name]["linecolor"] == "#000000"
    # no pale grey left for text or lines: greys are black or near it
    for path, key, value in _walk(spec):
        parsed = parse_colour(value) if key.endswith("color") else None
        if parsed is None or parsed[3] == 0 or "bgcolor" in key or key == "fillcolor":
            continue
        r, g, b, _ = parsed
        grey = max(r, g, b) - min(r, g, b) <= 12
        if grey and "grid" not in key and r < 250 and not _inside_menu(path):
            assert contrast(value, "#FFFFFF") >= 7, (path, key, value)


def _inside_menu(path) -> bool:
    return "updatemenus" in path or "sliders" in path


# ---- the dark theme -------------------------------------------------------------------


@pytest.mark.parametrize("settings", [DARK, BOTH], ids=["dark", "dark_projector"])
def test_dark_has_no_dark_text_or_lines_on_the_dark_background(kind, settings):
    spec = _spec(styled(_figure(kind), settings))
    layout = spec["layout"]
    background = layout["paper_bgcolor"]
    assert relative_luminance(background) < 0.02
    assert relative_luminance(layout["plot_bgcolor"]) < 0.02
    assert relative_luminance(layout["font"]["color"]) > 0.8
    checked = 0
    for path, key, value in _walk(spec):
        if not key.endswith("color") or "bgcolor" in key or key in ("fillcolor", "gridcolor"):
            continue  # backgrounds, and grid lines, faint on purpose
        for colour in value if isinstance(value, list) else [value]:
            parsed = parse_colour(colour)
            if parsed is None or parsed[3] == 0:
                continue
            assert colour.upper() not in ("#000000", "#000", "BLACK"), (path, key)
            if colour == background and _cut_out(spec, path, key):
                continue
            # on its own background (a button), else on the chart's
            holder = _get(spec, path)
            own = holder.get("bgcolor") if isinstance(holder, dict) else None
            behind = own if key == "color" and own else background
            if _inside_menu(path) and path[-1] == "font":
                behind = _get(spec, path[:-1]).get("bgcolor", background)
            needed = 4.5 if path and path[-1] in ("font", "tickfont", "textfont") else 3.0
            assert contrast(colour, behind) >= needed, (path, key, colour, behind)
            checked += 1
    assert checked >= 5


def _cut_out(spec, path, key) -> bool:
    """A marker's outline or a bar's fill in the background's colour: a cut-out
    on purpose (the hatched "after clipping" bars keep their coloured edge)."""
    if path[-2:] == ("marker", "line"):
        return True
    trace = _get(spec, path[:2]) if path[:1] == ("data",) else {}
    return trace.get("type") == "bar" and path[-1] == "marker" and key == "color"


def test_dark_maps_the_black_reference_and_threshold_lines_to_light():
    spec = _spec(styled(_figure("gradient_flow"), DARK))
    reference = next(t for t in spec["data"] if t["name"] == "reference")
    assert relative_luminance(reference["line"]["color"]) > 0.7
    threshold = spec["layout"]["shapes"][0]["line"]["color"]
    assert relative_luminance(threshold) > 0.7
    # the palette's colours are kept
    lines = {t["name"]: t["line"]["color"] for t in spec["data"]}
    assert lines["Elman RNN"] == charts.CELL_COLOURS["rnn"]
    assert lines["LSTM"] == charts.CELL_COLOURS["lstm"]


def test_dark_heatmap_colourbar_and_legend_background():
    spec = _spec(styled(_figure("log_heatmap"), DARK))
    colorbar = spec["data"][0]["colorbar"]
    assert relative_luminance(colorbar["outlinecolor"]) > 0.4
    assert relative_luminance(colorbar["tickcolor"]) > 0.4
    legend_bg = _spec(styled(_figure("gradient_flow"), DARK))["layout"]["legend"]["bgcolor"]
    r, g, b, alpha = parse_colour(legend_bg)
    assert max(r, g, b) < 40 and alpha > 0


def test_dark_curtain_of_the_sweep_takes_the_background_colour():
    spec = _spec(styled(_figure("backward_sweep"), DARK))
    curtain = next(t for t in spec["data"] if t.get("fill") == "toself")
    r, g, b, alpha = parse_colour(curtain["fillcolor"])
    assert (r, g, b) == parse_colour(spec["layout"]["plot_bgcolor"])[:3]
    assert 0.5 < alpha < 1


# ---- copies, not changes ---------------------------------------------------------------


@pytest.mark.parametrize("settings", [PROJECTOR, DARK, BOTH], ids=["projector", "dark", "both"])
def test_the_input_figure_is_not_changed(kind, settings):
    fig = FIGURES[kind]()  # a fresh one: this test is about changes
    before = copy.deepcopy(fig.to_dict())
    out = styled(fig, settings)
    assert out is not fig
    assert fig.to_dict() == before
    assert out.to_dict() != before


def test_light_without_projector_leaves_the_figure_equal(kind):
    fig = _figure(kind)
    before = copy.deepcopy(fig.to_dict())
    assert styled(fig, LIGHT).to_dict() == before
    # display fields alone decide: other settings do not matter
    assert styled(fig, Settings(seq_len=7, cells=("gru",))).to_dict() == before


def test_frames_and_sliders_survive_styling():
    fig = _figure("gradient_flow_scrub")
    before = fig.to_dict()
    spec = _spec(styled(fig, BOTH))
    assert len(spec["frames"]) == len(before["frames"]) == 3
    assert spec["frames"] == before["frames"]  # only y values there: nothing to restyle
    slider, old = spec["layout"]["sliders"][0], before["layout"]["sliders"][0]
    assert slider["steps"] == old["steps"]
    assert slider["font"] == old["font"]  # the hidden labels stay hidden
    assert isinstance(styled(fig, BOTH), flow_chart.AssembledFigure)


def test_a_plain_figure_comes_back_a_plain_figure():
    fig = _figure("eigenvalues")
    out = styled(fig, BOTH)
    assert type(out) is go.Figure
    assert out.layout.paper_bgcolor == BOTH_BACKGROUND


BOTH_BACKGROUND = "#0E1117"


# ---- the page ---------------------------------------------------------------------------


def test_projector_mode_enlarges_the_text_beside_the_charts():
    assert page_css(LIGHT) is None
    css = page_css(PROJECTOR)
    sizes = [float(v) for v in re.findall(r"font-size:\s*([\d.]+)rem", css)]
    assert sizes and min(sizes) >= 1.3
    assert "stSidebar" not in css  # the controls keep their size; the lesson grows
    assert "background-color" not in css


def test_page_css_only_in_the_dark_theme():
    assert page_css(LIGHT) is None
    css = page_css(DARK)
    assert css.startswith("<style>") and css.endswith("</style>")
    for selector in ('[data-testid="stApp"]', '[data-testid="stSidebar"]'):
        assert selector in css
    rules = re.findall(r"([^{}]+)\{([^{}]*)\}", css)
    pairs = []
    for selector, body in rules:
        background = re.search(r"background-color:\s*(#[0-9A-Fa-f]{6})", body)
        text = re.search(r"(?<!-)color:\s*(#[0-9A-Fa-f]{6})", body)
        if background and text:
            pairs.append((selector, background.group(1), text.group(1)))
    assert any("stApp" in selector for selector, _, _ in pairs)
    assert any("stSidebar" in selector for selector, _, _ in pairs)
    for selector, background, text in pairs:  # dark panels, light text on them
        assert relative_luminance(background) < 0.05, selector
        assert contrast(text, background) >= 7, selector
    assert css.count("{") == css.count("}")
