"""The page's work and memory budget (app.budget): links beyond it show a
sentence and start no engine run; the settings it offers fit and keep every
other setting; the caches stay within their bytes."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import engine  # noqa: E402
import engine.trace  # noqa: E402
from app import budget, cached, compute  # noqa: E402
from app.explorer.presets import PRESETS  # noqa: E402
from app.explorer.state import Settings  # noqa: E402
from app.explorer.views import slider_runs  # noqa: E402
from app.figures import VIEW_MODULES  # noqa: E402
from app.sweeps import PHASE_MAX_LAG, PHASE_RADII, SENSITIVITY_MAX_T  # noqa: E402

APP = str(ROOT / "app" / "streamlit_app.py")
VIEWS = list(VIEW_MODULES)
# issue 12, item 3: 177 s of CPU and 8.7 GB before the budget
HEAVY = {
    "cell": "rnn,jordan,gru,mgu,lstm,lstm_nofg",
    "bi": "1",
    "T": "2000",
    "H": "256",
    "setup": "many_to_many",
    "k": "1",
    "clip": "1e-06",
}
# issue 12, item 5: "Why it vanishes" took 70 s and 7.3 GB
ORTHOGONAL_GRU = {
    "cell": "gru",
    "T": "2000",
    "H": "256",
    "init": "orthogonal",
    "rho": "1",
    "act": "linear",
}
CHANGEABLE = {"cells", "focus", "seq_len", "hidden_size", "bidirectional"}


def fresh(query: dict[str, str]) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    for key, value in query.items():
        at.query_params[key] = value
    return at.run()


def assert_clean(at: AppTest) -> None:
    assert not at.exception, [e.message for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def refusals(at: AppTest) -> list[str]:
    return [w.value for w in at.warning if "nothing was run" in w.value]


@pytest.fixture
def counted(monkeypatch):
    """Counts of engine runs and Jacobian norm computations started."""
    counts = {"simulate": 0, "jacobian": 0}
    simulate, norms = engine.simulate, engine.trace.state_jacobian_norms

    def counting_simulate(*args, **kwargs):
        counts["simulate"] += 1
        return simulate(*args, **kwargs)

    def counting_norms(*args, **kwargs):
        counts["jacobian"] += 1
        return norms(*args, **kwargs)

    monkeypatch.setattr(engine, "simulate", counting_simulate)
    monkeypatch.setattr(engine.trace, "state_jacobian_norms", counting_norms)
    cached.cell_run.clear()
    return counts


def test_the_heavy_link_says_so_and_runs_nothing_on_any_tab(counted):
    at = fresh(HEAVY)
    assert_clean(at)
    for view in VIEWS:
        at.session_state["view"] = view
        at.run()
        assert_clean(at)
        (text,) = refusals(at)
        assert "MB" in text or "GB" in text, text
        assert [b.label for b in at.button if b.key.startswith("budget_offer")]
    assert counted == {"simulate": 0, "jacobian": 0}
    assert not at.get("plotly_chart")
    assert at.query_params["T"] == "2000"  # the link still says what was asked


def test_the_orthogonal_gru_link_refuses_why_it_vanishes(counted):
    at = fresh(ORTHOGONAL_GRU)
    assert_clean(at)
    assert not refusals(at)  # its one run fits: the gradient flow is drawn
    at.session_state["view"] = "Why it vanishes"
    at.run()
    assert_clean(at)
    assert refusals(at)
    assert counted["jacobian"] == 0
    assert not budget.check(Settings(**_fields(ORTHOGONAL_GRU)), "Why it vanishes").fits


def _fields(query: dict[str, str]) -> dict:
    settings, ignored = Settings.from_query(query)
    assert not ignored
    return {f.name: getattr(settings, f.name) for f in dataclasses.fields(settings)}


@pytest.mark.parametrize("query", [HEAVY, ORTHOGONAL_GRU], ids=["heavy", "orthogonal-gru"])
@pytest.mark.parametrize("view", VIEWS)
def test_every_offer_fits_and_changes_one_thing(query, view):
    settings = Settings(**_fields(query))
    verdict = budget.check(settings, view)
    if verdict.fits:
        assert view_cheap_enough(settings, view)
        return
    assert verdict.offers, view
    for offer in verdict.offers:
        target = offer.view or view
        assert budget.view_cost(offer.settings, target).fits(), offer.label
        changed = {
            f.name
            for f in dataclasses.fields(settings)
            if getattr(offer.settings, f.name) != getattr(settings, f.name)
        }
        assert changed <= CHANGEABLE, (offer.label, changed)
        assert len(changed - {"focus"}) == (0 if offer.view else 1), (offer.label, changed)


def view_cheap_enough(settings: Settings, view: str) -> bool:
    return budget.view_cost(settings, view).fits()


@pytest.mark.parametrize("view", ["Gradient flow", "Phase diagram"])
def test_the_offered_length_is_the_longest_that_fits(view):
    settings = Settings(**_fields(HEAVY))
    offers = {o.label: o for o in budget.check(settings, view).offers}
    steps = next(o.settings.seq_len for o in offers.values() if o.label.startswith("T ="))
    longer = [t for t in budget._nice_steps(settings.seq_len) if t > steps]
    for t in longer:  # every longer T on the grid, below the one asked for, is refused
        assert not budget.check(settings.replace(seq_len=t), view).fits, t
    if view == "Phase diagram":
        assert len(longer) > 3  # the search went down the grid
    else:
        assert "One direction" in offers


def test_clicking_an_offer_applies_it_and_keeps_the_rest():
    query = {"cell": "rnn,lstm", "T": "2000", "H": "96", "seed": "7", "act": "relu"}
    settings = Settings(**_fields(query))
    assert not budget.check(settings, "Why it vanishes").fits
    at = fresh(query)
    at.session_state["view"] = "Why it vanishes"
    at.run()
    assert refusals(at)
    buttons = {b.label: b for b in at.button if b.key.startswith("budget_offer")}
    assert "Without the LSTM" in buttons, list(buttons)
    buttons["Without the LSTM"].click()
    at.run()
    assert_clean(at)
    assert not refusals(at)
    assert at.query_params["cell"] == "rnn"
    assert (at.query_params["T"], at.query_params["H"]) == ("2000", "96")
    assert (at.query_params["seed"], at.query_params["act"]) == ("7", "relu")
    assert at.get("plotly_chart")  # the Jacobian norms are drawn


def test_the_cheap_tab_offer_opens_it():
    query = {"cell": "lstm", "T": "1000", "H": "128"}
    at = fresh(query)
    at.session_state["view"] = "Why it vanishes"
    at.run()
    (button,) = [b for b in at.button if b.label.startswith("Open")]
    button.click()
    at.run()
    assert_clean(at)
    assert at.session_state["view"] == budget.CHEAP_VIEW
    assert not refusals(at) and at.get("plotly_chart")


@pytest.mark.parametrize("name", list(PRESETS))
def test_every_preset_fits_every_tab_with_its_extras(name):
    settings = PRESETS[name].settings
    for view in VIEWS:
        assert budget.check(settings, view).fits, view
    assert budget.slider_fits(settings)
    assert budget.downloads_fit(settings)


def test_the_worst_allowed_runs_are_estimated_within_the_budget():
    """Just under the budget's bytes: the estimate is what the runs hold."""
    settings = Settings(cells=("lstm",), hidden_size=16, seq_len=50, bidirectional=True)
    spec = compute.cell_spec(settings, "lstm")
    run = compute.run_cell(spec)
    held = cached.held_bytes(run)
    assert held <= budget.trace_bytes(spec) <= 2 * held


# ---- caches ---------------------------------------------------------------------------------


def test_the_run_store_stays_within_its_bytes(monkeypatch):
    store = cached.RunStore(budget=400_000)
    monkeypatch.setattr(cached, "_runs", store)
    monkeypatch.setattr(cached, "_newest", cached.NewestRuns(cached.NEWEST_RUNS_BYTES))
    sizes = []
    for seed in range(12):
        spec = compute.cell_spec(Settings(cells=("gru",), seq_len=60, seed=seed), "gru")
        run = cached.cell_run(spec)
        sizes.append(cached.held_bytes(run))
        assert store.bytes <= store.budget
        assert cached.cell_run(spec) is run  # the newest is kept
    assert sum(sizes) > 2 * store.budget  # the store had to let runs go
    assert 1 <= len(store) < 12


def test_the_slider_store_stays_within_its_bytes():
    kept = slider_runs.Kept(24, budget=3 * 41 * 100 * 8 * 2)
    for key in range(10):
        kept.put(key, tuple(np.zeros((41, 100)) for _ in range(3)))
        assert kept.bytes <= 3 * 41 * 100 * 8 * 2
    assert kept.get(9) is not None and kept.get(0) is None


def test_every_cache_has_a_byte_bound_within_the_stated_total():
    T = budget.MAX_T
    entries = {
        cached.jacobian_norms: (budget.JACOBIAN_NORMS_BYTES, 2 * T * 8),
        cached.sensitivity: (budget.SENSITIVITY_BYTES, SENSITIVITY_MAX_T**2 * 8),
        cached.phase_columns: (budget.PHASE_COLUMNS_BYTES, len(PHASE_RADII) * PHASE_MAX_LAG * 9),
    }
    for function, (bound, largest) in entries.items():
        max_entries = function._info.max_entries
        assert max_entries * largest <= bound, function
    assert cached._runs.budget == budget.CACHED_RUNS_BYTES
    assert cached._newest.budget == budget.NEWEST_RUNS_BYTES
    assert cached._knob_frames._budget == budget.KNOB_NORMS_BYTES
    assert slider_runs.SWEEPS._budget == budget.SLIDER_SWEEPS_BYTES
    assert slider_runs.FRAMES._budget == budget.SLIDER_FRAMES_BYTES
    assert budget.CACHE_BYTES <= 1.1 * 2**30


@pytest.mark.parametrize(
    "text, share", [(None, 1.0), ("", 1.0), ("0.5", 0.5), ("0", 1.0), ("2", 1.0), ("x", 1.0)]
)
def test_the_cache_share_is_a_number_in_zero_to_one(text, share):
    assert budget.cache_share(text) == share


def test_a_replica_keeps_its_share_of_every_cache():
    show = "import app.budget as b; print(b.CACHE_BYTES, b.CACHED_RUNS_BYTES)"
    env = dict(os.environ, GFL_CACHE_SHARE="0.25")
    quarter = subprocess.check_output([sys.executable, "-c", show], cwd=ROOT, env=env, text=True)
    total, runs = map(int, quarter.split())
    assert total <= budget.CACHE_BYTES / 4 and runs == budget.CACHED_RUNS_BYTES // 4
