"""What each chart says must be what it shows (issue 13): every line in a
legend is visible or named in words where it leaves the axis; θ only on the
chart of the quantity it bounds; the phase diagram's border where its text
says; axes over the data they hold.

Figure-level: each view's ``figures`` on a ``Runs`` of the settings, as the
app draws and exports them."""

from __future__ import annotations

import re

import numpy as np
import pytest

from app import alt_text
from app.explorer.presets import PRESETS
from app.explorer.state import Settings
from app.explorer.views import clipping, gradient_flow, why_vanishes
from app.explorer.views.common import Runs


def _figures(view, settings: Settings) -> dict[str, dict]:
    return {key: fig.to_dict() for key, fig in view.figures(settings, Runs(settings)).items()}


def _titles(figs: dict[str, dict]) -> list[str]:
    return [alt_text.plain(fig["layout"]["title"]["text"]) for fig in figs.values()]


# ---- clipping's θ ---------------------------------------------------------------------------


def test_theta_is_not_drawn_on_the_gradient_over_time():
    """θ bounds the parameters' global norm, not ‖∂L/∂h_t‖: a θ line on the
    gradient-flow chart reads as if the curves were capped there."""
    settings = PRESETS["Clipping tames an explosion"].settings
    flow = _figures(gradient_flow, settings)["gradient_flow"]
    texts = [a.get("text", "") for a in flow["layout"].get("annotations", [])]
    assert not any("θ" in text for text in texts), texts
    assert not flow["layout"].get("shapes"), flow["layout"].get("shapes")
    global_norm = _figures(clipping, settings)["clipping_global"]
    assert any("θ" in a.get("text", "") for a in global_norm["layout"]["annotations"])


def test_clipping_titles_say_no_theta_when_clipping_is_off():
    titles = _titles(_figures(clipping, Settings()))
    assert titles and not any("θ" in t or "before and after" in t for t in titles), titles
    clipped = _titles(_figures(clipping, Settings(clip=1.0)))
    assert any("against θ" in t for t in clipped) and any("before and after" in t for t in clipped)


# ---- lines that leave a log axis ----------------------------------------------------------


def _off_axis_report(fig: dict, key: str) -> list[str]:
    """What is wrong with ``fig``'s log y axis: a legend line with no point in
    the range, or a line that leaves the range with no sentence naming it (the
    words ``chart`` writes under the figure, from its meta) and in its text
    alternative, or no arrow on the chart where it leaves."""
    layout = fig["layout"]
    low, high = layout["yaxis"]["range"]
    words = " ".join((layout.get("meta") or {}).get("off_axis", []))
    alt = alt_text.describe(key, fig)
    arrows = [a for a in layout.get("annotations", []) if a.get("showarrow")]
    sentences = (layout.get("meta") or {}).get("off_axis", [])
    steps = {re.search(r"at step (\S+)$", s).group(1) for s in sentences}
    if {a["text"].split("step ")[-1] for a in arrows} != steps:
        problems = [f"arrows {[a['text'] for a in arrows]} for the sentences {words!r}"]
    else:
        problems = []
    problems = []
    for trace in fig["data"]:
        if trace.get("showlegend") is False:
            continue
        name = alt_text.plain(trace["name"])
        y = alt_text.values(trace["y"])
        with np.errstate(all="ignore"):
            logs = np.log10(y)
        inside = np.isfinite(logs) & (logs >= low) & (logs <= high)
        if not inside.any():
            problems.append(f"{name}: no point in 10^{low:.1f} … 10^{high:.1f}")
        if not inside.all():
            said = [f"{name} falls below", f"{name} rises past", f"{name} drops to 0"]
            if not any(s in words for s in said):
                problems.append(f"{name} leaves the axis with no word under the chart")
            if not any(s in alt for s in said):
                problems.append(f"{name} leaves the axis with no word in the alt text")
    return problems


@pytest.mark.parametrize("T", [600, 2000])
def test_all_the_way_back_keeps_every_line_or_says_where_it_left(T):
    settings = Settings(seq_len=T)
    fig = _figures(why_vanishes, settings)["product_bound"]
    assert _off_axis_report(fig, "product_bound") == []


@pytest.mark.parametrize(
    "settings",
    [
        Settings(seq_len=2000),
        PRESETS["GRU against Elman"].settings,
        Settings(hidden_size=1),
    ],
    ids=["T=2000", "GRU against Elman", "H=1"],
)
def test_gradient_flow_says_where_each_line_leaves_the_axis(settings):
    fig = _figures(gradient_flow, settings)["gradient_flow"]
    assert _off_axis_report(fig, "gradient_flow") == []


def test_the_exit_sentence_names_the_step_and_the_edge():
    """ "falls below 10⁻⁴² at step t": t the last drawn step (read back from
    the end) below the axis, and every later step drawn above it."""
    settings = PRESETS["GRU against Elman"].settings
    fig = _figures(gradient_flow, settings)["gradient_flow"]
    sentence = next(s for s in fig["layout"]["meta"]["off_axis"] if s.startswith("Elman RNN"))
    exponent, step = re.fullmatch(r"Elman RNN falls below 10(\S+) at step (\d+)", sentence).groups()
    exponent = int(exponent.translate(str.maketrans("⁻⁰¹²³⁴⁵⁶⁷⁸⁹", "-0123456789")))
    elman = next(t for t in fig["data"] if t["name"] == "Elman RNN")
    x, y = alt_text.values(elman["x"]), alt_text.values(elman["y"])
    at = int(np.flatnonzero(x == int(step))[0])
    bottom = fig["layout"]["yaxis"]["range"][0]  # off the axis there, on it after
    assert y[at] < 10.0**bottom and np.all(y[at + 1 :] >= 10.0**bottom)
    assert bottom <= exponent < bottom + 1  # the power just inside the axis


def test_the_page_writes_the_exits_under_the_chart():
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file("../app/streamlit_app.py", default_timeout=120)
    for key, value in {"cell": "rnn,gru", "H": "1", "T": "200"}.items():
        at.query_params[key] = value
    at.run()
    assert not at.exception
    captions = [c.value for c in at.markdown if c.value.startswith("Off the chart:")]
    assert any("Elman RNN falls below 10" in c for c in captions), captions


# ---- the last N steps -----------------------------------------------------------------------


def _app(query: dict[str, str]):
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file("../app/streamlit_app.py", default_timeout=120)
    for key, value in query.items():
        at.query_params[key] = value
    return at.run()


def _chart(at, key: str) -> dict:
    import json

    return next(
        json.loads(e.proto.spec) for e in at.get("plotly_chart") if e.proto.id.endswith(key)
    )


def test_the_last_steps_of_a_long_run_are_drawn_step_by_step():
    """At T = 2000 the steps where the Elman gradient vanishes were a stroke at
    the right edge (600 points over 2000 steps); the last 100, each drawn,
    fill the chart, and the link keeps the choice."""
    at = _app({"T": "2000", "last": "100"})
    assert not at.exception
    fig = _chart(at, "gradient_flow")
    assert fig["layout"]["xaxis"]["range"] == [1899.5, 1999.5]
    for trace in fig["data"]:
        assert np.array_equal(alt_text.values(trace["x"]), np.arange(1900, 2000)), trace["name"]
    assert _off_axis_report(fig, "gradient_flow") == []
    assert at.query_params["last"] == "100"
    heatmap = _chart(at, "gradient_heatmap")["data"][0]
    assert np.array_equal(alt_text.values(heatmap["x"]), np.arange(1900, 2000))


def test_the_sidebar_turns_the_last_steps_on_and_into_the_link():
    at = _app({"T": "2000"})
    at.toggle(key="last_steps_on").set_value(True).run()
    at.number_input(key="last_steps").set_value(50).run()
    assert not at.exception
    assert Settings.from_query(dict(at.query_params))[0].last_steps == 50
    x = alt_text.values(_chart(at, "gradient_flow")["data"][0]["x"])
    assert x.min() == 1950 and x.size == 50


# ---- the phase diagram --------------------------------------------------------------------


def _colour_at(scale: list, position: float) -> np.ndarray:
    """The RGB a Plotly colour scale gives at ``position`` (0 … 1), interpolated."""
    stops = np.array([p for p, _ in scale])
    rgb = np.array([[int(c[i : i + 2], 16) for i in (1, 3, 5)] for _, c in scale], float)
    return np.array([np.interp(position, stops, rgb[:, j]) for j in range(3)])


def _heatmap(fig: dict) -> tuple[np.ndarray, np.ndarray, dict]:
    trace = fig["data"][0]
    z = alt_text.values(trace["z"])
    return z, alt_text.values(trace["x"]), trace


@pytest.fixture(scope="module")
def phase_page():
    at = _app({})
    at.session_state["view"] = "Phase diagram"
    return at.run()


def test_the_phase_diagram_is_white_only_where_the_ratio_is_one(phase_page):
    """The map was white from ρ ≈ 0.8 to 2.2: ±2 decades of a ±40-decade
    RdBu scale are near-white. Now each column is over its own last step
    (row k = 0 is exactly 1) and half a decade off 1 is a visible tint."""
    fig = _chart(phase_page, "phase_diagram")
    z, _, trace = _heatmap(fig)
    assert np.all(z[0][np.isfinite(z[0])] == 0)
    low, high = trace["zmin"], trace["zmax"]
    scale = trace["colorscale"]
    white = _colour_at(scale, (0 - low) / (high - low))
    assert np.all(white == 255)
    for decades in (-0.5, 0.5):
        tint = _colour_at(scale, (decades - low) / (high - low))
        assert np.max(255 - tint) >= 40, (decades, tint)
    assert 0 in trace["colorbar"]["tickvals"] and len(trace["colorbar"]["tickvals"]) >= 3


def test_the_default_phase_diagram_has_a_border_and_the_text_says_where(phase_page):
    """The default detail cell is the Elman RNN (an LSTM's map is all blue),
    and the text's border is where the map's last row first reaches 1."""
    assert Settings().focus == "rnn"
    fig = _chart(phase_page, "phase_diagram")
    z, radii, _ = _heatmap(fig)
    last = z[-1]
    first = int(np.flatnonzero(last >= 0)[0])
    assert np.all(last[:first][np.isfinite(last[:first])] < 0) and (last < 0).any()
    text = " ".join(m.value for m in phase_page.markdown)
    found = re.search(rf"{z.shape[0] - 1} steps back at ρ ≈ (\d+(?:\.\d+)?)", text)
    assert found, text
    assert float(found.group(1)) == pytest.approx(radii[first])
    assert "sits near 1" not in text


def test_the_phase_diagram_greys_exact_zeros_and_says_so(phase_page):
    """At ρ = 0 the gradient is exactly 0 beyond one step: left blank, the
    column looked white, like ratio 1."""
    fig = _chart(phase_page, "phase_diagram")
    z, radii, _ = _heatmap(fig)
    grey = next(t for t in fig["data"][1:] if t.get("name") == "exactly 0")
    marked = np.isfinite(alt_text.values(grey["z"]))
    assert np.array_equal(marked[1:, radii == 0], ~np.isfinite(z[1:, radii == 0]))
    assert marked[1:, radii == 0].all()
    assert any("Grey" in c.value and "ρ = 0" in c.value for c in phase_page.markdown)


def test_the_phase_diagram_says_where_its_rows_stop():
    at = _app({"T": "2000", "H": "4", "cell": "rnn"})
    at.session_state["view"] = "Phase diagram"
    at.run()
    assert not at.exception
    z, _, _ = _heatmap(_chart(at, "phase_diagram"))
    assert z.shape[0] == 300
    assert any("rows stop at k = 299" in c.value and "2000" in c.value for c in at.markdown)


def test_an_axis_reaching_past_a_floats_range_still_names_its_exits():
    """A linear unit with w = 3 overflows: its axis reaches 10³⁰⁸ and more,
    where 10.0 ** 310 itself raised OverflowError."""
    from app.axis_exits import axis_exits
    from app.charts import Line

    line = Line("x", "#000000", np.arange(3), np.array([np.inf, 1e300, 1e-5]))
    exits = axis_exits([line], [-2.0, 310.4])
    assert [e.sentence() for e in exits] == ["x falls below 10⁻² at step 2"]


# ---- cosmetics: labels, axes, colour bars --------------------------------------------------


def test_the_reference_lines_words_are_in_the_legend_not_on_the_lines():
    """ "1: neither shrinks nor grows" sat over the plot at y = 1, where the
    step norms run."""
    fig = _figures(why_vanishes, Settings())["jacobian_norms"]
    texts = [a.get("text", "") for a in fig["layout"].get("annotations", [])]
    assert not any("neither shrinks" in t for t in texts), texts
    assert any("neither shrinks" in (t.get("name") or "") for t in fig["data"])
    assert "neither shrinks" not in alt_text.describe("jacobian_norms", fig)


def test_the_t_by_t_map_spans_its_steps_with_round_ticks():
    """The square map's axes ran from −20 to 120 with ticks at 0 and 50 only."""
    fig = _figures(why_vanishes, Settings())["sensitivity"]
    T = Settings().steps
    xaxis, yaxis = fig["layout"]["xaxis"], fig["layout"]["yaxis"]
    assert xaxis["range"] == [-0.5, T - 0.5] and yaxis["range"] == [T - 0.5, -0.5]
    assert xaxis["dtick"] == yaxis["dtick"] and T / xaxis["dtick"] >= 4


def test_a_narrow_colour_bar_still_has_three_ticks():
    """The ReLU preset's gradient barely changes: its colour bar had one tick."""
    settings = PRESETS["ReLU with an identity start"].settings
    trace = _figures(gradient_flow, settings)["gradient_heatmap"]["data"][0]
    ticks = [t for t in trace["colorbar"]["tickvals"] if trace["zmin"] <= t <= trace["zmax"]]
    assert len(ticks) >= 3, (trace["zmin"], trace["zmax"], trace["colorbar"])


def test_your_setting_is_labelled_above_the_map_not_on_its_line(phase_page):
    fig = _chart(phase_page, "phase_diagram")
    (label,) = [a for a in fig["layout"]["annotations"] if a["text"] == "your setting"]
    assert label["yanchor"] == "bottom" and label["y"] >= 1 and label["xanchor"] == "center"
    _, radii, _ = _heatmap(fig)
    assert fig["layout"]["xaxis"]["range"] == pytest.approx([radii[0] - 0.05, radii[-1] + 0.05])


def test_lines_cut_at_one_truncation_boundary_share_one_arrow():
    settings = PRESETS["Truncation cuts the long path"].settings
    fig = _figures(gradient_flow, settings)["gradient_flow"]
    sentences = fig["layout"]["meta"]["off_axis"]
    assert len(sentences) >= 2 and all("drops to 0" in s for s in sentences), sentences
    arrows = [a for a in fig["layout"]["annotations"] if a.get("showarrow")]
    assert len(arrows) == 1 and arrows[0]["text"] == "0 at step 74"
    assert _off_axis_report(fig, "gradient_flow") == []
