"""The lecture's additions to the gradient-flow chart (issue 13): a locked y
axis, two settings on one chart, the analytic reference (ρ·f̄′)ⁿ."""

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

from app.explorer.state import Settings  # noqa: E402
from app.explorer.views import gradient_flow  # noqa: E402
from app.figures import view_figures  # noqa: E402
from app.style import relative_luminance  # noqa: E402
from tests.test_app import assert_clean, fresh  # noqa: E402


def flow_spec(at: AppTest) -> dict:
    for element in at.get("plotly_chart"):
        if element.proto.id.split("-")[-1] == "gradient_flow":
            return json.loads(element.proto.spec)
    raise LookupError("no gradient-flow chart")


def y_range(spec: dict) -> list[float]:
    return spec["layout"]["yaxis"]["range"]


def exported_range(settings: Settings) -> list[float]:
    fig = view_figures(gradient_flow, settings)["gradient_flow"]
    return fig.to_dict()["layout"]["yaxis"]["range"]


# ---- a locked y axis -------------------------------------------------------------------


def test_a_locked_y_axis_stays_put_while_rho_and_t_change():
    first = Settings(cells=("rnn",), hidden_size=8, spectral_radius=0.5, seq_len=60)
    second = first.replace(spectral_radius=1.4, seq_len=90)
    assert exported_range(first) != exported_range(second)  # unlocked, the axis follows
    locked = {"y_low": -25, "y_high": 10}
    assert exported_range(first.replace(**locked)) == [-25.0, 10.0]
    assert exported_range(second.replace(**locked)) == [-25.0, 10.0]


def test_the_lock_is_in_the_link_and_holds_on_the_page():
    query = {"cell": "rnn", "H": "8", "rho": "0.5", "T": "60", "ylo": "-25", "yhi": "10"}
    at = fresh(query)
    assert_clean(at)
    assert y_range(flow_spec(at)) == [-25, 10]
    assert at.query_params == query
    at.slider(key="seq_len").set_value(150).run()
    assert_clean(at)
    assert y_range(flow_spec(at)) == [-25, 10]


def test_the_toggle_locks_the_axis_where_it_is():
    at = fresh({"cell": "rnn", "H": "8", "rho": "0.5", "T": "60"})
    shown = y_range(flow_spec(at))
    at.toggle(key="y_lock_on").set_value(True).run()
    assert_clean(at)
    low, high = int(at.query_params["ylo"]), int(at.query_params["yhi"])
    assert low == np.floor(shown[0]) and high == np.ceil(shown[1])
    at.slider(key="seq_len").set_value(150).run()
    assert y_range(flow_spec(at)) == [low, high]
    unlocked = fresh({"cell": "rnn", "H": "8", "rho": "0.5", "T": "150"})
    assert y_range(flow_spec(unlocked)) != [low, high]  # without the lock it would move
    at.toggle(key="y_lock_on").set_value(False).run()
    assert "ylo" not in at.query_params and y_range(flow_spec(at)) != [low, high]


@pytest.mark.parametrize(("low", "high"), [(5, 5), (3, -3), (None, 4)])
def test_a_lock_without_two_ordered_ends_follows_the_lines(low, high):
    settings = Settings(cells=("rnn",), y_low=low, y_high=high)
    assert settings.y_lock is None
    assert exported_range(settings) == exported_range(Settings(cells=("rnn",)))


# ---- the analytic reference (ρ·f̄′)ⁿ of a matrix ------------------------------------------


def decoded(value) -> np.ndarray:
    import base64

    if isinstance(value, dict) and "bdata" in value:
        return np.frombuffer(base64.b64decode(value["bdata"]), np.dtype(value["dtype"]))
    return np.asarray(value, dtype=float)


def reference_trace(spec: dict) -> dict:
    found = [t for t in spec["data"] if str(t.get("name", "")).startswith("(ρ·f̄′)")]
    assert len(found) == 1, [t.get("name") for t in spec["data"]]
    return found[0]


@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_the_matrix_reference_is_rho_times_the_mean_slope_to_the_n(activation):
    from app.compute import cell_spec, run_cell

    settings = Settings(
        cells=("rnn", "lstm"),
        hidden_size=8,
        seq_len=60,
        seed=3,
        activation=activation,
        spectral_radius=1.1,
    )
    spec = view_figures(gradient_flow, settings)["gradient_flow"].to_dict()
    trace = reference_trace(spec)
    # the same quantities, computed here from the Elman RNN's run
    run = run_cell(cell_spec(settings, "rnn"))
    rho = np.max(np.abs(np.linalg.eigvals(run.params["weight_hh"])))
    h = run.trace.hidden[1:]  # a_1 … a_{T−1}: the steps the product multiplies
    slope = np.mean(1 - h**2) if activation == "tanh" else np.mean(h > 0)
    assert 0 < slope < 1
    anchor = np.linalg.norm(run.trace.grad_hidden[-1])
    t = decoded(trace["x"]).astype(int)
    np.testing.assert_allclose(decoded(trace["y"]), anchor * (rho * slope) ** (59 - t), rtol=1e-9)
    assert f"ρ = {rho:.3g}" in trace["name"] and f"{slope:.3g}" in trace["name"]
    assert f"mean {activation}′" in trace["name"]  # what f̄′ is, said in the legend


def test_the_page_defines_the_slope_and_the_single_unit_keeps_its_own():
    at = fresh({"H": "8", "T": "60", "rho": "1.1"})
    assert_clean(at)
    reference_trace(flow_spec(at))
    assert any("mean of tanh′(a_t)" in m.value for m in at.markdown)
    single = fresh({"H": "1", "T": "60"})
    names = [t.get("name", "") for t in flow_spec(single)["data"]]
    assert not any(n.startswith("(ρ·f̄′)") for n in names)
    assert any(n.startswith("|w|<sup>") for n in names)


@pytest.mark.parametrize(("theme", "colour"), [("light", "black"), ("dark", "white")])
def test_the_slope_sentence_names_the_colour_the_theme_draws(theme, colour):
    at = fresh({"H": "8", "T": "60", "theme": theme})
    assert_clean(at)
    line = next(t for t in flow_spec(at)["data"] if t.get("name", "").startswith("(ρ·f̄′)"))
    luminance = relative_luminance(line["line"]["color"])
    assert luminance < 0.05 if colour == "black" else luminance > 0.9
    assert any(m.value.startswith(f"Dashed {colour}:") for m in at.markdown)


# ---- two settings side by side on one chart -----------------------------------------------


def traces_by_name(spec: dict) -> dict[str, dict]:
    return {t["name"]: t for t in spec["data"]}


def engine_norms(settings: Settings, kind: str) -> np.ndarray:
    from app.compute import cell_spec, norms_over_time, run_cell

    return norms_over_time(run_cell(cell_spec(settings, kind)).trace.grad_hidden)


@pytest.mark.parametrize(
    ("changes", "other", "words"),
    [
        ({"compare_radius": 1.2}, {"spectral_radius": 1.2}, "ρ = 1.2"),
        ({"compare_seed": 5}, {"seed": 5}, "seed = 5"),
        (
            {"compare_seed": 5, "compare_radius": 1.2},
            {"seed": 5, "spectral_radius": 1.2},
            "seed = 5, ρ = 1.2",
        ),
    ],
)
def test_the_second_setting_is_drawn_dashed_beside_the_first(changes, other, words):
    first = Settings(cells=("rnn", "lstm"), hidden_size=8, seq_len=70, spectral_radius=0.8)
    spec = view_figures(gradient_flow, first.replace(**changes))["gradient_flow"].to_dict()
    traces = traces_by_name(spec)
    for kind, label in (("rnn", "Elman RNN"), ("lstm", "LSTM")):
        mine, theirs = traces[label], traces[f"{label}, {words}"]
        assert theirs["line"]["color"] == mine["line"]["color"]  # the cell's colour
        assert mine["line"]["dash"] == "solid" and theirs["line"]["dash"] == "longdash"
        assert theirs["marker"]["symbol"] == mine["marker"]["symbol"] + "-open"
        t = decoded(theirs["x"]).astype(int)
        np.testing.assert_array_equal(decoded(mine["y"]), engine_norms(first, kind)[t])
        np.testing.assert_array_equal(
            decoded(theirs["y"]), engine_norms(first.replace(**other), kind)[t]
        )


def test_a_single_unit_compares_another_w():
    first = Settings(cells=("rnn",), hidden_size=1, seq_len=40, recurrent_weight=0.9)
    spec = view_figures(gradient_flow, first.replace(compare_radius=1.1))["gradient_flow"]
    theirs = traces_by_name(spec.to_dict())["Elman RNN, w = 1.1"]
    t = decoded(theirs["x"]).astype(int)
    other = first.replace(recurrent_weight=1.1)
    np.testing.assert_array_equal(decoded(theirs["y"]), engine_norms(other, "rnn")[t])


def test_the_comparison_round_trips_through_the_link_and_the_sidebar():
    query = {"cell": "rnn", "H": "8", "T": "70", "rho": "0.8", "rho2": "1.2", "seed2": "5"}
    at = fresh(query)
    assert_clean(at)
    assert at.query_params == query
    assert at.number_input(key="compare_radius").value == 1.2
    assert at.number_input(key="compare_seed").value == 5
    assert at.toggle(key="compare_seed_on").value is True
    assert "Elman RNN, seed = 5, ρ = 1.2" in traces_by_name(flow_spec(at))
    assert any("Long-dashed" in m.value for m in at.markdown)
    at.toggle(key="compare_seed_on").set_value(False).run()
    at.number_input(key="compare_radius").set_value(1.5).run()
    assert_clean(at)
    assert at.query_params == {**{k: v for k, v in query.items() if k != "seed2"}, "rho2": "1.5"}
    names = set(traces_by_name(flow_spec(at)))
    assert "Elman RNN, ρ = 1.5" in names and not any("seed = 5" in n for n in names)
    again = fresh(dict(at.query_params))
    assert traces_by_name(flow_spec(again)).keys() == traces_by_name(flow_spec(at)).keys()


def test_the_budget_counts_the_second_settings_runs():
    from app import budget

    alone = Settings(cells=tuple(budget.FIELDS), hidden_size=256, seq_len=2000)
    both = alone.replace(compare_radius=1.2)
    cost = budget.view_cost(both, budget.FLOW)
    assert cost == budget.runs_cost(alone) + budget.runs_cost(alone.replace(spectral_radius=1.2))
    assert budget.check(alone, budget.FLOW).fits
    verdict = budget.check(both, budget.FLOW)
    assert not verdict.fits  # twice the runs no longer fit in memory
    offer = next(o for o in verdict.offers if o.label == "Without the comparison")
    assert offer.settings == alone
    assert budget.check(both, "Backward sweep").fits  # only the chart that draws it pays


def test_turning_a_comparison_on_in_the_sidebar_draws_it():
    at = fresh({"cell": "lstm", "H": "8", "T": "40"})
    at.toggle(key="compare_radius_on").set_value(True).run()
    assert_clean(at)
    assert at.query_params["rho2"] == "1.0"
    assert "LSTM, ρ = 1" in traces_by_name(flow_spec(at))


def test_a_preset_keeps_the_lock_and_still_says_what_to_look_at():
    at = fresh({"ylo": "-40", "yhi": "10"})
    name = "Exploding (w = 1.1)"
    at.pills(key="preset").set_value(name).run()
    assert_clean(at)
    assert (at.query_params["ylo"], at.query_params["yhi"]) == ("-40", "10")
    assert y_range(flow_spec(at)) == [-40, 10]
    assert any(i.value.startswith(f"**{name}.**") for i in at.info)  # the preset still matches
    assert at.pills(key="preset").value == name
