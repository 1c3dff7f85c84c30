"""The app through its widgets (streamlit.testing.v1.AppTest, no browser).

Every preset, every cell kind, each signal, set-up, loss and initialisation,
and the extremes run without an exception; the charts' data, decoded from the
figures Streamlit would send, carry the numbers the issue names (the notes'
117 and 0.005 fifty steps back).
"""

from __future__ import annotations

import base64
import json
import random
import sys
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from app.explorer.page import REDRAW_COUNT_KEY  # noqa: E402
from app.explorer.presets import PRESETS  # noqa: E402
from app.explorer.state import FIELDS, LOSSES, SETUPS, SIGNALS, Settings  # noqa: E402
from app.links import CELL_KINDS, CELL_NAMES, INITS  # noqa: E402

APP = str(ROOT / "app" / "streamlit_app.py")
VIEWS = ["Gradient flow", "Inside the cell", "Why it vanishes", "Clipping", "Phase diagram"]


# ---- helpers -------------------------------------------------------------------------


def fresh(query: dict[str, str] | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    for key, value in (query or {}).items():
        at.query_params[key] = value
    return at.run()


def assert_clean(at: AppTest) -> None:
    """No exception element, no view that failed, no stack trace."""
    assert not at.exception, [e.message for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def decode(value):
    """Plotly's typed arrays ({"dtype", "bdata"}) → numpy; lists → numpy."""
    if isinstance(value, dict) and "bdata" in value:
        return np.frombuffer(base64.b64decode(value["bdata"]), np.dtype(value["dtype"]))
    return np.asarray(value, dtype=float)


def figures(at: AppTest) -> dict[str, dict]:
    """Every Plotly chart's figure JSON by its key."""
    out = {}
    for element in at.get("plotly_chart"):
        key = element.proto.id.split("-")[-1]
        out[key] = json.loads(element.proto.spec)
    return out


def lines(fig: dict) -> dict[str, np.ndarray]:
    """Trace name → y values (float, nan where masked)."""
    return {t.get("name"): decode(t["y"]).astype(float) for t in fig["data"] if "y" in t}


def open_view(at: AppTest, view: str) -> AppTest:
    at.session_state["view"] = view
    return at.run()


def click_preset(at: AppTest, name: str) -> AppTest:
    return at.pills(key="preset").set_value(name).run()


def ratio_back(values: np.ndarray, n: int = 50) -> float:
    return float(values[-1 - n] / values[-1])


# ---- first screen ------------------------------------------------------------------------


def test_first_screen_contrasts_elman_and_lstm():
    at = fresh()
    assert_clean(at)
    assert at.pills(key="preset").value == "Elman against LSTM"
    assert any("Elman against LSTM" in i.value for i in at.info)
    fig = figures(at)["gradient_flow"]
    curves = lines(fig)
    elman, lstm = curves["Elman RNN"], curves["LSTM"]
    assert elman.size == lstm.size == Settings().seq_len
    # the Elman gradient fades by many orders of magnitude, the LSTM's does not
    assert elman[0] / elman[-1] < 1e-10
    assert lstm[0] / lstm[-1] > 1e-4
    # the chart carries its own slider, one frame per value
    assert 40 <= len(fig["frames"]) <= 60
    assert fig["layout"]["sliders"][0]["steps"][0]["method"] == "animate"
    assert fig["layout"]["yaxis"]["type"] == "log"


def test_chart_theme_is_readable_on_a_projector():
    fig = figures(fresh())["gradient_flow"]
    layout = fig["layout"]
    assert layout["font"]["size"] >= 16
    assert layout["xaxis"]["tickfont"]["size"] >= 16
    assert layout["yaxis"]["tickfont"]["size"] >= 16
    assert layout["legend"]["font"]["size"] >= 16
    assert all(t["line"]["width"] >= 2 for t in fig["data"])
    colours = {t["name"]: t["line"]["color"] for t in fig["data"]}
    assert colours["Elman RNN"] != colours["LSTM"]


# ---- the notes' worked figure ------------------------------------------------------------


@pytest.mark.parametrize(
    ("preset", "w"), [("Exploding (w = 1.1)", 1.1), ("Vanishing (w = 0.9)", 0.9)]
)
def test_notes_figure_fifty_steps_back(preset, w):
    at = click_preset(fresh(), preset)
    assert_clean(at)
    fig = figures(at)["gradient_flow"]
    elman = lines(fig)["Elman RNN"]
    assert ratio_back(elman) == pytest.approx(w**50, rel=1e-6)
    # the in-chart slider has a frame at exactly this w, with the same ratio
    frame = next(f for f in fig["frames"] if f["name"] == f"{w:.2f}")
    assert ratio_back(decode(frame["data"][0]["y"])) == pytest.approx(w**50, rel=1e-6)
    # and the text beside the chart says the number
    text = " ".join(m.value for m in at.markdown)
    assert ("117" in text) if w > 1 else ("0.00515" in text)
    assert "tanh" in text


def test_moving_the_scrub_knob_reproduces_other_weights():
    """Each frame of the single-unit slider is that w's exact w⁵⁰."""
    at = click_preset(fresh(), "Exploding (w = 1.1)")
    fig = figures(at)["gradient_flow"]
    for frame in fig["frames"][::10]:
        w = float(frame["name"])
        assert ratio_back(decode(frame["data"][0]["y"])) == pytest.approx(w**50, rel=1e-6)


# ---- presets, cells, options --------------------------------------------------------------


@pytest.mark.parametrize("preset", list(PRESETS))
def test_every_preset_runs_and_says_what_to_look_at(preset):
    at = click_preset(fresh(), preset)
    assert_clean(at)
    assert any(i.value.startswith(f"**{preset}.**") for i in at.info)
    expected = PRESETS[preset].settings
    assert at.slider(key="hidden_size").value == expected.hidden_size
    assert tuple(at.pills(key="cells").value) == expected.cells
    names = set(lines(figures(at)["gradient_flow"]))
    assert {CELL_NAMES[c] for c in expected.cells} <= names


def test_every_view_of_a_bidirectional_preset():
    at = click_preset(fresh(), "Bidirectional: gradient from both ends")
    names = set(lines(figures(at)["gradient_flow"]))
    assert "LSTM, backward direction" in names
    for view in VIEWS[1:]:
        at = open_view(at, view)
        assert_clean(at)
    at = open_view(at, "Why it vanishes")
    matrix = decode_heatmap(figures(at)["sensitivity"])
    # the loss at step t depends on later states too: both triangles are filled
    assert np.isfinite(matrix[10, 50]) and np.isfinite(matrix[50, 10])


def decode_heatmap(fig: dict) -> np.ndarray:
    z = fig["data"][0]["z"]
    if isinstance(z, dict):
        return decode(z).reshape([int(n) for n in str(z.get("shape")).split(",")])
    return np.array([[np.nan if v is None else v for v in row] for row in z], dtype=float)


@pytest.mark.parametrize("kind", CELL_KINDS)
def test_every_cell_kind_alone_on_every_view(kind):
    at = fresh({"cell": kind, "T": "30", "H": "3"})
    assert_clean(at)
    assert next(iter(lines(figures(at)["gradient_flow"]))) == CELL_NAMES[kind]
    for view in VIEWS[1:]:
        assert_clean(open_view(at, view))


def test_all_cells_side_by_side_share_colours_across_charts():
    at = fresh({"cell": ",".join(CELL_KINDS), "T": "40", "bi": "1"})
    assert_clean(at)
    assert any("Jordan" in c.value for c in at.caption)  # shown one-way
    flow = {t["name"]: t["line"]["color"] for t in figures(at)["gradient_flow"]["data"]}
    at = open_view(at, "Why it vanishes")
    jac = {t["name"]: t["line"]["color"] for t in figures(at)["jacobian_norms"]["data"]}
    for kind in CELL_KINDS:
        assert flow[CELL_NAMES[kind]] == jac[CELL_NAMES[kind]]
    assert len({jac[CELL_NAMES[k]] for k in CELL_KINDS}) == len(CELL_KINDS)


@pytest.mark.parametrize(
    ("key", "values"),
    [("x", SIGNALS), ("setup", SETUPS), ("loss", LOSSES), ("init", INITS)],
)
def test_each_signal_setup_loss_and_initialisation(key, values):
    for value in values:
        at = fresh({key: value, "T": "25", "H": "4", "cell": "rnn,gru"})
        assert_clean(at)
        curves = lines(figures(at)["gradient_flow"])
        assert np.isfinite(curves["GRU"]).any()
        if value == "one_to_one":
            assert curves["GRU"].size == 1


# ---- extremes -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "query",
    [
        {"T": "2000", "cell": "rnn,lstm"},
        {"H": "256", "cell": "rnn,lstm"},
        {"rho": "3", "act": "relu", "cell": "rnn,gru"},
        {"act": "relu", "init": "identity", "cell": "rnn,mgu"},
        {"clip": "1e-06", "cell": "rnn,lstm"},
        {"k": "1", "cell": "rnn,lstm_nofg"},
        {"act": "linear", "rho": "3", "T": "2000", "cell": "rnn,jordan"},
    ],
    ids=["T2000", "H256", "radius3", "relu", "clip_tiny", "truncation1", "overflow"],
)
def test_extremes_run_on_the_first_view(query):
    at = fresh(query)
    assert_clean(at)
    for name, values in lines(figures(at)["gradient_flow"]).items():
        assert not np.isinf(values).any(), name  # inf cannot sit on a log axis


def test_extremes_on_every_view():
    at = fresh({"H": "256", "T": "60", "rho": "3", "act": "relu", "clip": "1e-06", "k": "1"})
    for view in VIEWS:
        assert_clean(open_view(at, view))
    at = fresh({"T": "2000", "cell": "lstm", "H": "4"})
    for view in VIEWS:
        assert_clean(open_view(at, view))


def test_overflow_is_reported_and_only_the_finite_part_drawn():
    # 3^599 ≈ 10^285 still fits a float; the gradient, 3^k times the error, does not
    at = fresh({"cell": "rnn", "H": "1", "act": "linear", "wh": "3", "T": "600"})
    assert_clean(at)
    warnings = " ".join(w.value for w in at.warning)
    assert "gradient overflowed at step" in warnings and "showing the finite part" in warnings
    step = int(warnings.split("overflowed at step ")[1].split()[0])
    elman = lines(figures(at)["gradient_flow"])["Elman RNN"]
    assert np.isnan(elman[: step + 1]).all() and np.isfinite(elman[step + 1 :]).all()


def test_forward_overflow_is_explained():
    at = fresh({"cell": "rnn", "H": "1", "act": "linear", "wh": "3", "T": "2000"})
    assert_clean(at)
    assert any("hidden state overflowed at step" in w.value for w in at.warning)
    for view in VIEWS[1:]:
        assert_clean(open_view(at, view))


def test_clipping_view_shows_theta_and_the_scale():
    at = open_view(click_preset(fresh(), "Clipping tames an explosion"), "Clipping")
    assert_clean(at)
    fig = figures(at)["clipping_global"]
    before, after = (decode(t["y"]) for t in fig["data"][:2])
    assert before[0] > 1e3  # exploded
    assert after[0] == pytest.approx(1.0, rel=1e-4)  # scaled to θ = 1
    bars = figures(at)["clipping_parameters"]["data"]
    ratios = decode(bars[1]["y"]) / decode(bars[0]["y"])
    assert np.allclose(ratios, ratios[0])  # one factor for every parameter
    assert any("min" in x.value for x in at.latex)


def test_phase_diagram_vanishes_below_and_explodes_above_one():
    at = open_view(fresh({"cell": "rnn", "act": "linear", "T": "60"}), "Phase diagram")
    assert_clean(at)
    fig = figures(at)["phase_diagram"]
    z = decode_heatmap(fig)
    radii = decode(fig["data"][0]["x"])
    far = z[-1]  # the longest lag (at ρ = 0 the gradient is exactly 0: blank)
    one = far[np.argmin(np.abs(radii - 1.0))]
    assert np.nanmax(far[radii < 0.8]) < one < np.nanmin(far[radii > 1.2])
    assert np.nanmax(far[radii < 0.8]) < -5 and np.nanmin(far[radii > 1.2]) > 2


# ---- controls, links, bad input -------------------------------------------------------


def test_moving_a_slider_changes_the_chart_and_the_link():
    at = fresh()
    before = lines(figures(at)["gradient_flow"])["Elman RNN"]
    at.slider(key="spectral_radius").set_value(1.5).run()
    assert_clean(at)
    after = lines(figures(at)["gradient_flow"])["Elman RNN"]
    assert not np.allclose(before, after, equal_nan=True)
    assert after[0] / after[-1] > before[0] / before[-1]  # a larger radius reaches further
    assert at.query_params["rho"] == "1.5"
    assert at.pills(key="preset").value is None  # no longer the preset


@pytest.mark.parametrize(
    ("preset", "knob", "value"),
    [(None, "spectral_radius", 0.85), ("Exploding (w = 1.1)", "recurrent_weight", 1.05)],
)
def test_a_knob_on_the_in_chart_grid_redraws_from_its_frames(monkeypatch, preset, knob, value):
    """Moving ρ (or w) in the sidebar onto the in-chart slider's grid draws the
    chart from that slider's kept runs, before the engine runs the new
    settings; the figure must be the one the engine's own run draws."""
    from app.explorer.views import gradient_flow

    at = fresh() if preset is None else click_preset(fresh(), preset)
    kept = []
    real_kept_frame = gradient_flow.kept_frame

    def spy(settings, runs):
        frame = real_kept_frame(settings, runs)
        kept.append(frame is not None)
        return frame

    monkeypatch.setattr(gradient_flow, "kept_frame", spy)
    at.slider(key=knob).set_value(value).run()
    assert_clean(at)
    assert kept == [True]
    from_frames = figures(at)["gradient_flow"]

    monkeypatch.setattr(gradient_flow, "kept_frame", lambda settings, runs: None)
    at.run()
    from_run = figures(at)["gradient_flow"]
    assert from_frames == from_run
    assert len(from_frames["frames"]) == 41


def test_the_chart_comes_before_its_slider_which_replaces_it_in_the_same_run(monkeypatch):
    """New settings: the chart is drawn, then the in-chart slider's runs are
    made and the chart alone is drawn again in its place, with the slider: the
    page is drawn once (``app.in_place``). Were the runs lost from the cache,
    the chart stays as first drawn, without slider."""
    from app.explorer import page
    from app.explorer.views import slider_runs

    at = fresh({"T": "30", "seed": "91"})
    passes = []
    real_draw_views = page.draw_views

    def counted(settings, runs):
        passes.append(settings.steps)
        return real_draw_views(settings, runs)

    monkeypatch.setattr(page, "draw_views", counted)
    at.slider(key="seq_len").set_value(33).run()
    assert_clean(at)
    assert passes == [33]
    flow_charts = [c for c in at.get("plotly_chart") if c.proto.id.endswith("-gradient_flow")]
    assert len(flow_charts) == 1
    frames = json.loads(flow_charts[0].proto.spec)["frames"]
    assert len([f for f in frames if f["name"] != "setting"]) == 41

    monkeypatch.setattr(slider_runs.SWEEPS, "put", lambda key, value: None)
    at = fresh({"T": "31", "seed": "92"})
    assert_clean(at)
    fig = figures(at)["gradient_flow"]
    assert not fig.get("frames")
    assert lines(fig)["Elman RNN"].size == 31


def redraws(at: AppTest) -> int:
    state = at.session_state
    return state[REDRAW_COUNT_KEY] if REDRAW_COUNT_KEY in state else 0  # noqa: SIM401 (no .get)


def test_charts_are_drawn_from_the_widgets_before_the_sidebar_is():
    """The page draws its charts from ``session.expected`` before the sidebar
    exists; every kind of control must give the Settings the sidebar then
    returns, with no second run to correct it."""
    at = fresh()
    changes = [
        lambda: at.slider(key="spectral_radius").set_value(1.3),
        lambda: at.slider(key="seq_len").set_value(40),
        lambda: at.pills(key="cells").set_value(["gru", "lstm", "rnn"]),
        lambda: at.selectbox(key="focus").set_value("rnn"),
        lambda: at.radio(key="reset_after").set_value(True),
        lambda: at.slider(key="forget_bias").set_value(1.0),
        lambda: at.toggle(key="bidirectional").set_value(True),
        lambda: at.selectbox(key="init").set_value("orthogonal"),
        lambda: at.selectbox(key="activation").set_value("relu"),
        lambda: at.toggle(key="clip_on").set_value(True),
        lambda: at.number_input(key="clip").set_value(0.5),
        lambda: at.toggle(key="truncation_on").set_value(True),
        lambda: at.number_input(key="seed").set_value(3),
        lambda: at.pills(key="cells").set_value(["mgu"]),
        lambda: at.slider(key="hidden_size").set_value(1),
        lambda: at.slider(key="recurrent_weight").set_value(1.1),
        lambda: at.toggle(key="gates_by_hand").set_value(True),
        lambda: at.slider(key="gate_bias").set_value(2.0),
        lambda: at.toggle(key="projector").set_value(True),
        lambda: at.pills(key="preset").set_value("GRU against Elman"),
    ]
    for change in changes:
        change().run()
        assert_clean(at)
        assert redraws(at) == 0
    assert at.query_params["cell"] == "rnn,gru"  # the preset took effect


def test_single_unit_weight_slider_sets_the_slope():
    at = click_preset(fresh(), "Vanishing (w = 0.9)")
    at.slider(key="recurrent_weight").set_value(1.05).run()
    assert_clean(at)
    elman = lines(figures(at)["gradient_flow"])["Elman RNN"]
    assert ratio_back(elman) == pytest.approx(1.05**50, rel=1e-6)
    assert at.query_params["wh"] == "1.05"


def test_link_round_trip():
    query = {"cell": "gru,lstm", "T": "50", "clip": "0.5", "seed": "7", "bi": "1"}
    at = fresh(query)
    assert_clean(at)
    assert tuple(at.pills(key="cells").value) == ("gru", "lstm")
    assert at.slider(key="seq_len").value == 50
    assert at.number_input(key="clip").value == 0.5
    assert at.toggle(key="bidirectional").value is True
    assert at.query_params == query  # the URL says the same
    at.slider(key="seq_len").set_value(80).run()
    assert at.query_params == {**query, "T": "80"}
    # a pasted link reproduces the run exactly
    again = fresh(dict(at.query_params))
    assert np.array_equal(
        lines(figures(again)["gradient_flow"])["GRU"],
        lines(figures(at)["gradient_flow"])["GRU"],
        equal_nan=True,
    )


def test_bad_link_values_warn_and_keep_the_rest():
    at = fresh({"T": "abc", "H": "8", "act": "swish", "nonsense": "1"})
    assert_clean(at)
    warning = " ".join(w.value for w in at.warning)
    assert "T=abc" in warning and "act=swish" in warning and "nonsense" in warning
    assert at.slider(key="hidden_size").value == 8  # the good value is kept
    assert at.slider(key="seq_len").value == Settings().seq_len
    assert "T" not in at.query_params and at.query_params["H"] == "8"


def test_emptying_the_cell_choice_warns_and_keeps_the_cells():
    at = fresh()
    at.pills(key="cells").set_value([]).run()
    assert_clean(at)
    assert any("at least one cell" in w.value for w in at.warning)
    assert tuple(at.pills(key="cells").value) == Settings().cells
    assert set(lines(figures(at)["gradient_flow"])) >= {"Elman RNN", "LSTM"}


def test_hand_typed_recurrent_matrix():
    at = fresh({"cell": "rnn", "H": "2", "Whh": "0.5,0;0,0.5", "act": "linear", "T": "30"})
    assert_clean(at)
    elman = lines(figures(at)["gradient_flow"])["Elman RNN"]
    # W_hh = 0.5·I and a linear unit: the gradient halves at every step
    assert ratio_back(elman, 10) == pytest.approx(0.5**10, rel=1e-9)
    assert any("0.500" in c.value for c in at.sidebar.caption)  # its spectral radius


def _random_settings(seed: int) -> Settings:
    """Small random Settings: every field drawn, sizes kept small."""
    rng = random.Random(seed)
    values = {}
    for f in FIELDS:
        if f.name == "present":  # the presenter view has no tabs to open (test_presenter)
            continue
        if f.kind == "choice":
            values[f.name] = rng.choice(f.choices)
        elif f.kind == "choices":
            values[f.name] = tuple(rng.sample(f.choices, rng.randint(1, 3)))
        elif f.kind == "bool":
            values[f.name] = rng.random() < 0.5
        elif f.name == "seq_len":
            values[f.name] = rng.choice([2, 3, 17, 60])
        elif f.name == "hidden_size":
            values[f.name] = rng.choice([1, 2, 3, 5])
        elif f.name == "truncation":
            values[f.name] = rng.choice([None, 1, 4, 2000])
        elif f.name == "clip":
            values[f.name] = rng.choice([None, 1e-6, 0.5, 1e6])
        elif f.name == "seed":
            values[f.name] = rng.randint(0, 99)
        elif f.kind == "float":
            value = round(rng.uniform(f.low, f.high), 2)
            values[f.name] = None if f.optional and rng.random() < 0.3 else value
    return Settings(**values)


@pytest.mark.parametrize("seed", range(6))
def test_random_settings_never_fail_on_any_view(seed):
    at = fresh(_random_settings(seed).to_query())
    assert_clean(at)
    for view in VIEWS[1:]:
        assert_clean(open_view(at, view))
