"""The app's pure parts: models built from the settings, derived quantities,
checked by independent routes; the chart helpers' axes and masks."""

from __future__ import annotations

import base64
import json
import sys
from pathlib import Path

import numpy as np
import plotly.io
import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import engine  # noqa: E402
from app import charts, compute, flow_chart, sweeps  # noqa: E402
from app.compute import GATE_BLOCKS, build_model, cell_spec  # noqa: E402
from app.explorer.state import Settings  # noqa: E402
from app.links import CELL_KINDS  # noqa: E402

SMALL = Settings(hidden_size=3, seq_len=8)


def blocks(model, kind, suffix=""):
    H = model.hidden_size
    w = model.params["weight_hh" + suffix]
    return [w[g * H : (g + 1) * H] for g in range(len(GATE_BLOCKS[kind]))]


@pytest.mark.parametrize("kind", [k for k in CELL_KINDS if k != "jordan"])
@pytest.mark.parametrize("init", ["uniform", "orthogonal", "identity", "gaussian"])
def test_spectral_radius_rescales_every_gate_block(kind, init):
    spec = cell_spec(SMALL.replace(init=init, spectral_radius=1.7, bidirectional=True), kind)
    model = build_model(spec)
    for suffix in ("", "_reverse"):
        for block in blocks(model, kind, suffix):
            assert np.max(np.abs(np.linalg.eigvals(block))) == pytest.approx(1.7, rel=1e-9)


def test_jordan_loop_is_rescaled():
    model = build_model(cell_spec(SMALL.replace(spectral_radius=0.8), "jordan"))
    loop = model.params["weight_out"] @ model.params["weight_hh"]
    assert np.max(np.abs(np.linalg.eigvals(loop))) == pytest.approx(0.8, rel=1e-9)


def test_initialisations_as_drawn():
    identity = build_model(cell_spec(SMALL.replace(init="identity"), "rnn"))
    assert np.array_equal(identity.params["weight_hh"], np.eye(3))
    orthogonal = build_model(cell_spec(SMALL.replace(init="orthogonal", hidden_size=5), "rnn"))
    w = orthogonal.params["weight_hh"]
    assert np.allclose(w @ w.T, np.eye(5), atol=1e-12)
    uniform = build_model(cell_spec(SMALL, "gru"))
    pytorch = engine.build("gru", 1, 3, seed=0)
    assert np.array_equal(uniform.params["weight_hh"], pytorch.params["weight_hh"])


def test_hand_typed_matrix_replaces_the_main_block():
    matrix = ((0.1, 0.2), (0.3, 0.4))
    s = Settings(hidden_size=2, recurrent_matrix=matrix, spectral_radius=2.0)
    rnn = build_model(cell_spec(s, "rnn"))
    assert np.array_equal(rnn.params["weight_hh"], np.array(matrix))
    lstm = build_model(cell_spec(s, "lstm"))
    main = GATE_BLOCKS["lstm"].index("main")
    assert np.array_equal(blocks(lstm, "lstm")[main], np.array(matrix))


def test_single_unit_is_the_notes_cell():
    s = Settings(
        hidden_size=1,
        input_weight=0.5,
        recurrent_weight=1.1,
        bias=-0.25,
        gates_by_hand=True,
        gate_input_weight=0.1,
        gate_recurrent_weight=0.2,
        gate_bias=0.3,
        forget_bias=4.0,
    )
    rnn = build_model(cell_spec(s, "rnn")).params
    assert rnn["weight_hh"][0, 0] == 1.1 and rnn["weight_ih"][0, 0] == 0.5
    assert rnn["bias_ih"][0] + rnn["bias_hh"][0] == -0.25
    assert rnn["weight_out"][0, 0] == 1.0 and rnn["bias_out"][0] == 0.0
    lstm = build_model(cell_spec(s, "lstm")).params
    # gates i, f, g, o: the candidate g is the notes' unit, the rest set by hand
    assert list(lstm["weight_hh"][:, 0]) == [0.2, 0.2, 1.1, 0.2]
    assert list(lstm["bias_ih"] + lstm["bias_hh"]) == [0.3, 4.0, -0.25, 0.3]


def test_forget_bias_sets_the_whole_forget_bias():
    model = build_model(cell_spec(Settings(hidden_size=4, forget_bias=2.5), "lstm"))
    total = model.params["bias_ih"] + model.params["bias_hh"]
    assert np.all(total[4:8] == 2.5)


def test_cell_spec_ignores_what_a_kind_cannot_use():
    a = Settings(reset_after=True, forget_bias=7.0, bidirectional=True)
    b = Settings(reset_after=False, forget_bias=0.0, bidirectional=True)
    assert cell_spec(a, "rnn") == cell_spec(b, "rnn")
    assert cell_spec(a, "gru") != cell_spec(b, "gru")
    assert not cell_spec(a, "jordan").bidirectional


@pytest.mark.parametrize("signal", ["noise", "impulse", "sine", "constant", "impulse_zeros"])
def test_signals(signal):
    spec = cell_spec(SMALL.replace(signal=signal), "rnn")
    x = compute.make_inputs(spec)
    assert x.shape == (8, 1) and np.all(np.isfinite(x))
    assert compute.make_inputs(spec, batch=3).shape == (8, 3, 1)
    if signal == "impulse_zeros":
        assert x[0, 0] == 1 and not x[1:].any()
    if signal == "constant":
        assert np.all(x == 1)


def test_norms_survive_values_whose_squares_overflow():
    grad = np.array([[1e200, 1e200], [3.0, 4.0], [np.inf, 1.0]])
    norms = compute.norms_over_time(grad)
    assert norms[0] == pytest.approx(np.sqrt(2) * 1e200)
    assert norms[1] == 5.0 and np.isnan(norms[2])


@pytest.mark.parametrize("kind", ["rnn", "gru", "lstm", "jordan"])
@pytest.mark.parametrize("truncation", [None, 3])
def test_sensitivity_matrix_matches_one_run_per_prefix(kind, truncation):
    """Row t, by another route: run the first t + 1 steps, loss on the last."""
    spec = cell_spec(SMALL.replace(truncation=truncation), kind)
    matrix = sweeps.sensitivity_matrix(spec)
    model = build_model(spec)
    x, targets = compute.make_inputs(spec), compute.make_targets(spec)
    for t in range(spec.steps):
        trace = engine.simulate(
            model, x[: t + 1], targets[: t + 1], scored="last", truncate=truncation
        )
        expected = np.linalg.norm(trace.grad_hidden, axis=1)
        assert np.allclose(matrix[t, : t + 1], expected, rtol=1e-10, atol=1e-300), t
        assert np.all(matrix[t, t + 1 :] == 0)  # the past cannot see the future


def test_sensitivity_matrix_of_a_bidirectional_network_fills_both_triangles():
    spec = cell_spec(SMALL.replace(bidirectional=True), "gru")
    matrix = sweeps.sensitivity_matrix(spec)
    assert np.all(matrix > 0)


def test_sensitivity_matrix_is_skipped_when_too_large():
    assert sweeps.sensitivity_matrix(cell_spec(Settings(seq_len=301), "rnn")) is None


@pytest.mark.parametrize("kind", ["rnn", "gru", "lstm"])
def test_product_of_step_norms_bounds_the_gradient(kind):
    spec = cell_spec(Settings(hidden_size=4, seq_len=30, spectral_radius=1.3), kind)
    trace = compute.run_cell(spec).trace
    actual = np.linalg.norm(trace.grad_hidden, axis=1)
    bound = compute.product_bound(trace.state_jacobian_norm, actual[-1])
    assert bound[-1] == actual[-1]
    assert np.all(actual <= bound * (1 + 1e-6))


def test_phase_column_of_a_linear_unit_is_w_to_the_k():
    spec = cell_spec(
        Settings(cells=("rnn",), hidden_size=1, activation="linear", seq_len=20), "rnn"
    )
    for w in (0.5, 1.0, 1.5):
        logs, overflow = sweeps.phase_column(spec, w)
        run = compute.run_cell(spec.replace(recurrent_weight=w))
        assert not overflow.any()
        # row k is k steps back: each draw of the batch gains log10 w per step
        assert np.allclose(np.diff(logs), np.log10(w), atol=1e-9)
        assert run.trace is not None


def test_phase_column_marks_overflow():
    spec = cell_spec(Settings(hidden_size=1, activation="linear", seq_len=700), "rnn")
    logs, overflow = sweeps.phase_column(spec, 3.0)
    assert overflow.any() and not np.isinf(logs).any()


def test_refused_settings_become_a_message(monkeypatch):
    def refuse(*args, **kwargs):
        raise ValueError("truncate must be at least 1, got 0")

    monkeypatch.setattr(engine, "simulate", refuse)
    run = compute.run_cell(cell_spec(SMALL, "rnn"))
    assert run.trace is None and "truncate" in run.error


def test_drawn_radius_matches_the_model():
    spec = cell_spec(Settings(hidden_size=6, init="gaussian", seed=4), "lstm")
    model = build_model(spec)
    main = GATE_BLOCKS["lstm"].index("main")
    expected = np.max(np.abs(np.linalg.eigvals(blocks(model, "lstm")[main])))
    assert compute.drawn_radius(spec) == pytest.approx(expected, rel=1e-12)


def test_finite_mean_ignores_what_is_not_finite():
    values = np.array([[1.0, np.nan, 3.0], [np.inf, np.nan, np.nan]])
    assert np.allclose(compute.finite_mean(values, axis=1), [2.0, np.nan], equal_nan=True)


# ---- chart helpers ----------------------------------------------------------------------


def test_log_axis_hides_what_it_cannot_show():
    assert np.isnan(charts.masked(np.array([0.0, -1.0, np.inf, np.nan]))).all()
    assert charts.masked(np.array([2.0]))[0] == 2.0


@pytest.mark.parametrize(
    ("low", "high", "expected"),
    [
        (-2.0, 0.3, ["0.01", "0.02", "0.05", "0.1", "0.2", "0.5", "1"]),
        (-25.0, 1.0, ["10<sup>−24</sup>", "10<sup>−21</sup>"]),
        (5.0, 9.0, ["10<sup>5</sup>", "10<sup>6</sup>"]),
        (-400.0, 400.0, ["10<sup>−267</sup>", "10<sup>−178</sup>"]),  # floats end at 10^±308
    ],
)
def test_log_ticks_are_powers_of_ten(low, high, expected):
    values, labels = charts.log_ticks(low, high)
    assert labels[: len(expected)] == expected
    assert all(np.isfinite(values)) and all(v > 0 for v in values) and len(labels) <= 10


def test_scrub_frames_animate_in_the_browser():
    steps = np.arange(5)
    lines = [charts.Line("a", "#000", steps, np.ones(5))]
    scrub = flow_chart.Scrub(
        "w", np.array([0.9, 1.0, 1.1]), [[np.full(5, v)] for v in (1, 2, 3)], 2
    )
    spec = json.loads(
        plotly.io.to_json(flow_chart.gradient_flow_figure(lines, steps=5, scrub=scrub))
    )
    assert [f["name"] for f in spec["frames"]] == ["0.90", "1.00", "1.10"]
    frame_values = [
        np.frombuffer(base64.b64decode(y["bdata"]), y["dtype"])
        for y in (f["data"][0]["y"] for f in spec["frames"])
    ]
    assert [v[0] for v in frame_values] == [1.0, 2.0, 3.0]
    slider = spec["layout"]["sliders"][0]
    assert slider["active"] == 2
    args = slider["steps"][0]["args"][1]
    assert slider["steps"][0]["method"] == "animate" and args["mode"] == "immediate"
    assert args["frame"] == {"duration": 0, "redraw": False}
    # the same parts, started elsewhere: only the slider's position changes
    parts = flow_chart.scrub_parts(scrub)
    again = flow_chart.gradient_flow_figure(lines, steps=5, scrub=parts, active=0).to_dict()
    assert again["layout"]["sliders"][0]["active"] == 0 and again["frames"] == parts.frames


@pytest.mark.parametrize("log", [True, False])
def test_line_labels_sit_on_their_line(log):
    # plotly.js reads an annotation's y on a log axis as log10 of the value
    _, label = charts.hline_parts(100.0, "here", line={}, log=log)
    assert label["y"] == pytest.approx(2.0 if log else 100.0)
    # lines_figure names its reference line in the legend, off the lines (issue 13)
    line = charts.Line("a", "#000000", np.arange(3), np.array([1e-3, 1.0, 1e3]))
    fig = charts.lines_figure(
        [line], title="t", y_title="y", log=log, reference=100.0, reference_text="here"
    )
    assert fig.layout.shapes[0].y0 == 100.0
    assert [t.name for t in fig.data] == ["a", "here"]


def test_a_new_T_hands_the_engine_the_run_it_shares_steps_with(monkeypatch):
    from app import cached

    given = []
    simulate = engine.simulate

    def spy(*args, reuse=None, **kwargs):
        given.append(reuse)
        return simulate(*args, reuse=reuse, **kwargs)

    monkeypatch.setattr(engine, "simulate", spy)
    cached.cell_run.clear()
    monkeypatch.setattr(cached, "_newest", cached.NewestRuns(cached.NEWEST_RUNS_BYTES))
    settings = Settings(cells=("lstm",), hidden_size=3, seq_len=40, seed=11)
    first = cached.cell_run(cell_spec(settings, "lstm"))
    longer = cell_spec(settings.replace(seq_len=41, truncation=5, clip=0.5), "lstm")
    second = cached.cell_run(longer)
    other_seed = cached.cell_run(cell_spec(settings.replace(seed=12), "lstm"))
    assert given[0] is None
    assert given[1] is first.trace  # T, truncation and clipping do not touch the forward sweep
    assert given[2] is None  # another seed draws other weights and inputs
    assert other_seed.trace is not None
    np.testing.assert_array_equal(
        second.trace.grad_hidden, compute.run_cell(longer).trace.grad_hidden
    )


def test_newest_runs_drop_the_key_an_owner_moved_away_from():
    from app import cached

    store = cached.NewestRuns(budget=10**9)
    run = {key: [np.zeros(10)] for key in ("rho 1", "rho 2", "rho 3", "shared")}
    store.put("rho 1", run["rho 1"], owner="ann")
    store.put("rho 2", run["rho 2"], owner="ann")  # ann moved ρ: no one will ask for rho 1
    assert store.get("rho 1") is None and store.get("rho 2") is run["rho 2"]
    store.put("shared", run["shared"], owner="bob")
    store.put("shared", run["shared"], owner="cat")
    store.put("rho 3", run["rho 3"], owner="bob")
    assert store.get("shared") is run["shared"]  # cat still holds it
    store.put("rho 3", run["rho 3"], owner="cat")
    assert store.get("shared") is None
    assert len(store) == 2 and store.bytes == 160


def test_frames_drawing_fewer_steps_share_them_in_one_base_frame():
    steps = np.arange(0, 1000, 5)
    lines = [charts.Line(n, "#000", np.arange(1000), np.ones(1000)) for n in "ab"]
    scrub = flow_chart.Scrub(
        "ρ",
        np.array([0.5, 1.0]),
        [[np.full(200, v), np.full(200, 2 * v)] for v in (1, 2)],
        0,
        steps,
    )
    spec = json.loads(
        plotly.io.to_json(flow_chart.gradient_flow_figure(lines, steps=1000, scrub=scrub))
    )
    *frames, base = spec["frames"]
    assert base["name"] == flow_chart.STEPS_FRAME and base["traces"] == [0, 1]
    for trace in base["data"]:
        x = trace["x"]
        np.testing.assert_array_equal(
            np.frombuffer(base64.b64decode(x["bdata"]), x["dtype"]), steps
        )
    assert [f["name"] for f in frames] == ["0.50", "1.00"]
    for frame in frames:
        assert frame["baseframe"] == flow_chart.STEPS_FRAME
        assert all("x" not in trace and "y" in trace for trace in frame["data"])
    # the slider steps through the value frames only
    assert [step["args"][0] for step in spec["layout"]["sliders"][0]["steps"]] == [
        ["0.50"],
        ["1.00"],
    ]


def test_held_bytes_counts_each_buffer_once():
    from app import cached

    a = np.zeros(1000)
    views = {"a": a, "view": a[10:], "rows": [a[::2], (a.reshape(10, 100),)]}
    assert cached.held_bytes(views) == 8000
    assert cached.held_bytes([a, np.ones(3)]) == 8024


def test_newest_runs_drop_the_oldest_past_their_byte_budget():
    from app import cached

    store = cached.NewestRuns(budget=3 * 8000)
    run = {key: [np.zeros(1000)] for key in "abcde"}  # 8000 bytes each
    for key in "abc":
        store.put(key, run[key])
    assert len(store) == 3 and store.bytes == 24_000
    store.put("d", run["d"])
    assert store.get("a") is None and store.get("b") is run["b"]
    store.put("b", run["b"])  # used again: now the newest
    store.put("e", run["e"])
    assert store.get("c") is None and store.get("b") is run["b"]
    assert store.bytes == 24_000
    store.put("huge", [np.zeros(10_000)])  # over the budget alone: kept, the rest dropped
    assert len(store) == 1 and store.get("huge") is not None


@pytest.mark.parametrize(
    ("values", "dtype"),
    [
        ([1e-30, 0.5, 3e30, np.nan, 0.0], "f4"),  # nan and 0 are not drawn on a log axis
        ([1e-39, 0.5], "f8"),  # below float32's normal range
        ([0.5, 1e39], "f8"),  # above it
        ([np.nan, np.nan], "f4"),
    ],
)
def test_frames_go_as_float32_only_when_every_value_survives(values, dtype):
    values = np.array(values)
    spec = charts.typed_for_drawing(values)
    assert spec["dtype"] == dtype
    back = np.frombuffer(base64.b64decode(spec["bdata"]), dtype).astype(float)
    np.testing.assert_allclose(back, values, rtol=1e-7, equal_nan=True)
