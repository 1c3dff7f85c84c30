"""The training lab: its settings and link, its runs, the cliff, the page, the CLI."""

from __future__ import annotations

import contextvars
import json
import subprocess
import sys
import threading

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from streamlit.testing.v1 import AppTest

from app.lab import cliff
from app.lab.presets import LAB_PRESETS
from app.lab.state import LAB_FIELDS, LabSettings
from app.lab.training import Line, Training, lines_of
from tests.browser_support import ROOT

TRAIN = [sys.executable, "-m", "app.train"]
TINY = LabSettings(steps=6, hidden_size=3, batch=4, updates=12, cells=("rnn", "gru"))


# ---- settings and links ---------------------------------------------------------


def _field_values(field):
    if field.kind == "choice":
        return st.sampled_from(field.choices)
    if field.kind == "choices":
        return st.sets(st.sampled_from(field.choices), min_size=1).map(
            lambda chosen: tuple(c for c in field.choices if c in chosen)
        )
    if field.kind == "bool":
        return st.booleans()
    if field.kind == "int":
        values = st.integers(int(field.low), int(field.high))
    else:
        values = st.floats(field.low, field.high).map(lambda v: float(f"{v:.12g}"))
    return st.one_of(st.none(), values) if field.optional else values


@settings(max_examples=60, deadline=None)
@given(st.fixed_dictionaries({f.name: _field_values(f) for f in LAB_FIELDS}))
def test_any_lab_settings_come_back_from_their_link(values):
    if values["task"] == "copy":
        values["steps"] = max(values["steps"], 2 * values["copy_length"] + 1)
    chosen = LabSettings(**values)
    again, ignored = LabSettings.from_query(chosen.to_query())
    assert (again, ignored) == (chosen, [])


@settings(max_examples=60, deadline=None)
@given(st.dictionaries(st.text(max_size=8), st.text(max_size=40), max_size=6))
def test_any_query_gives_settings_and_names_what_it_left_out(params):
    chosen, ignored = LabSettings.from_query(params)
    assert isinstance(chosen, LabSettings)
    assert set(ignored) <= set(params) | {"T"}


def test_a_link_value_out_of_range_is_left_at_its_default():
    chosen, ignored = LabSettings.from_query({"H": "1" + "0" * 400, "lr": "nan", "T": "80"})
    assert (chosen.hidden_size, chosen.lr, chosen.steps) == (32, 0.01, 80)
    assert sorted(ignored) == ["H", "lr"]


# ---- runs ---------------------------------------------------------------------


def _histories(run: Training) -> dict:
    return {
        line: {name: kept.array(name) for name in ("loss", "grad_norm", "lag_norms", "validation")}
        for line, kept in run.history.items()
    }


def test_a_run_is_the_same_however_its_updates_are_sliced():
    whole = Training.start(TINY)
    whole.advance(seconds=1e9)
    sliced = Training.start(TINY)
    while not sliced.finished:
        sliced.advance(seconds=0.0, at_most=5)
    first, second = _histories(whole), _histories(sliced)
    for line in first:
        for name in first[line]:
            np.testing.assert_array_equal(first[line][name], second[line][name], err_msg=name)


def test_seeds_side_by_side_equal_separate_runs():
    together = Training.start(TINY, seeds=(3, 4))
    together.advance(seconds=1e9)
    for s, seed in enumerate((3, 4)):
        alone = Training.start(TINY, seeds=(seed,))
        alone.advance(seconds=1e9)
        for line in together.history:
            np.testing.assert_allclose(
                together.history[line].array("loss")[:, s],
                alone.history[line].array("loss")[:, 0],
                rtol=1e-12,
            )


def test_every_cell_trains_on_the_same_batches_and_records_every_update():
    run = Training.start(TINY.replace(contrast="clip"))
    run.advance(seconds=1e9)
    assert set(run.history) == set(lines_of(TINY.replace(contrast="clip")))
    assert Line("rnn", "clip") in run.history
    for kept in run.history.values():
        assert kept.updates == list(range(TINY.updates))
        assert kept.array("lag_norms").shape == (TINY.updates, 1, TINY.steps)
    unclipped = run.history[Line("rnn", "clip")].array("clip_scale")
    assert np.all(unclipped == 1.0)


def test_training_resumes_from_another_thread_and_context():
    """A page's reruns advance one run from different threads and contexts."""
    run = Training.start(TINY)
    errors = []

    def advance():
        try:
            contextvars.copy_context().run(run.advance, 1e9, 2)
        except Exception as error:
            errors.append(error)

    for _ in range(3):
        thread = threading.Thread(target=advance)
        thread.start()
        thread.join()
    assert errors == [] and run.done == 6


def test_stop_during_an_update_ends_the_run_after_it():
    """Stop pressed (on the page's rerun) while the live fragment is making an
    update (on another thread): the run ends with that update, never with more
    updates made than it says it has."""
    run = Training.start(TINY)
    make_one = run._one_update
    stopper = []

    def update_while_stop_is_pressed():
        if not stopper:  # Stop arrives in the middle of the first update
            stopper.append(threading.Thread(target=run.stop))
            stopper[0].start()
            stopper[0].join(timeout=0.2)  # it must wait for the update, not end it short
        make_one()

    run._one_update = update_while_stop_is_pressed
    run.advance(seconds=1e9)
    stopper[0].join()
    assert run.done == run.settings.updates  # not one update more than it says
    assert run.finished


def test_the_explosion_preset_explodes_unclipped_and_not_clipped():
    preset = LAB_PRESETS["Explosion without clipping, tamed with it"].settings
    run = Training.start(preset.replace(updates=25))
    run.advance(seconds=1e9)
    clipped = run.history[Line("rnn")].array("loss")[:, 0]
    unclipped = run.history[Line("rnn", "clip")].array("loss")[:, 0]
    assert unclipped[0] == clipped[0]  # the same start, the same first batch
    assert unclipped.max() > 10 * unclipped[0]
    assert clipped.max() < 10 * clipped[0]
    for model in run.models.values():
        assert all(np.isfinite(value).all() for value in model.params.values())


# ---- the cliff ------------------------------------------------------------------


def test_each_line_s_label_sits_on_its_line():
    """plotly.js puts an annotation on a log axis at 10^y: the baseline's and
    θ's labels were drawn a decade or more above their lines."""
    from app.lab import charts

    run = Training.start(TINY.replace(clip=0.5))
    run.advance(seconds=1e9)
    for figure, log in (
        (charts.loss_figure(run), True),
        (charts.grad_norm_figure(run), True),
        (charts.radius_figure(run), False),
    ):
        layout = figure.to_dict()["layout"]
        assert (layout["yaxis"].get("type") == "log") == log
        ((shape,), (label,)) = layout["shapes"], layout["annotations"]
        drawn_at = 10 ** label["y"] if log else label["y"]
        assert drawn_at == pytest.approx(shape["y0"], rel=1e-12), label["text"]


def test_the_surface_is_each_units_own_loss():
    surface = cliff.surface(grid=7)
    for i, j in [(0, 0), (3, 5), (6, 2)]:
        w, b = surface.w[j], surface.b[i]
        expected = 0.5 * (cliff.last_state(w, b) - cliff.TARGET) ** 2
        assert surface.loss[i, j] == pytest.approx(expected, rel=1e-9)


def test_the_cliff_preset_starts_on_the_face_where_the_plain_step_is_thrown_away():
    preset = LAB_PRESETS["Jumping off the cliff"].settings
    edge = cliff.cliff_edge(preset.cliff_w)
    assert preset.cliff_b == pytest.approx(edge + 1e-6, abs=1e-9)
    paths = cliff.descents((preset.cliff_w, preset.cliff_b), preset.cliff_lr, preset.cliff_clip)
    plain_step = np.abs(paths.plain[1] - paths.plain[0]).max()
    clipped_steps = np.sqrt((np.diff(paths.clipped, axis=0) ** 2).sum(axis=1))
    assert plain_step > 10.0
    assert clipped_steps.max() <= preset.cliff_lr * preset.cliff_clip + 1e-9


def test_the_descents_follow_the_engines_gradient():
    start, lr = (2.0, -1.0), 0.5
    paths = cliff.descents(start, lr, theta=1e9, steps=1)
    h = 1e-6

    def loss(w, b):
        return 0.5 * (cliff.last_state(w, b) - cliff.TARGET) ** 2

    gw = (loss(start[0] + h, start[1]) - loss(start[0] - h, start[1])) / (2 * h)
    gb = (loss(start[0], start[1] + h) - loss(start[0], start[1] - h)) / (2 * h)
    np.testing.assert_allclose(paths.plain[1], np.array(start) - lr * np.array([gw, gb]), rtol=1e-6)


# ---- the page -------------------------------------------------------------------


def _lab_page() -> None:
    """The lab's page alone, as ``st.navigation`` runs it at /training_lab."""
    from app.lab.page import render

    render()


def _page(query: dict | None = None) -> AppTest:
    at = AppTest.from_function(_lab_page, default_timeout=120)
    for key, value in (query or {}).items():
        at.query_params[key] = value
    return at.run()


@pytest.mark.parametrize("name", list(LAB_PRESETS))
def test_every_preset_draws_without_an_exception(name):
    at = _page({"T": "8", "H": "4", "n": "3"})
    at.pills(key="lab_preset").set_value(name).run()
    assert not at.exception
    chosen = at.session_state["lab_settings"]
    assert chosen == LAB_PRESETS[name].settings
    assert name in at.info[0].value


def test_start_pause_resume_stop_and_reset():
    at = _page({"T": "6", "H": "3", "B": "4", "n": "5000", "cell": "rnn"})
    at.button(key="lab_start").click().run()
    run = at.session_state["lab_run"]
    assert not at.exception and run.done > 0
    at.button(key="lab_pause").click().run()
    paused = at.session_state["lab_run"].done
    at.run()
    assert at.session_state["lab_run"].done == paused
    at.button(key="lab_resume").click().run()
    assert at.session_state["lab_run"].done > paused
    at.button(key="lab_stop").click().run()
    stopped = at.session_state["lab_run"]
    assert stopped.finished and stopped.settings.updates == stopped.done
    assert at.get("plotly_chart")
    at.button(key="lab_reset").click().run()
    assert "lab_run" not in at.session_state or at.session_state["lab_run"] is None
    assert not at.exception


def test_each_live_pass_trains_for_what_its_drawing_leaves_of_the_refresh():
    from app.lab import page

    at = _page({"T": "6", "H": "3", "B": "4", "n": "5000", "cell": "rnn"})
    at.button(key="lab_start").click().run()
    drawn = at.session_state[page.DRAW_SECONDS_KEY]
    assert 0 < drawn < page.REFRESH
    for seconds in (0.0, 0.08, drawn):
        assert page.slice_seconds(seconds) + seconds + page.DRAW_MARGIN == pytest.approx(
            page.REFRESH
        )
    assert page.slice_seconds(10 * page.REFRESH) == page.MIN_SLICE  # a slow machine still trains


def test_the_link_follows_the_controls_and_a_link_sets_them():
    at = _page({"task": "sine", "T": "12", "opt": "sgd", "clip": "off", "seed": "7"})
    assert not at.exception
    assert at.selectbox(key="lab_task").value == "sine"
    at.slider(key="lab_hidden_size").set_value(5).run()
    query = dict(at.query_params)
    assert query["task"] == "sine" and query["H"] == "5" and query["clip"] == "off"
    assert query["seed"] == "7"


def test_a_run_too_large_is_refused_with_a_smaller_one_offered():
    at = _page({"H": "128", "T": "400", "B": "256", "n": "5000", "seeds": "5"})
    assert not at.exception
    assert "too large" in at.warning[0].value
    assert not [b for b in at.button if b.key == "lab_start"]


@pytest.mark.parametrize("query", [{"T": "2", "H": "1", "n": "1"}, {"task": "copy", "len": "1"}])
def test_the_extremes_train_and_draw(query):
    at = _page({**query, "B": "2", "cell": "lstm_nofg,jordan"})
    at.button(key="lab_start").click().run()
    for _ in range(3):
        at.run()
    assert not at.exception
    assert at.session_state["lab_run"].done >= 1


# ---- the command line -------------------------------------------------------------


def test_the_command_line_trains_and_its_link_reproduces_the_run(tmp_path):
    command = [sys.executable, "-m", "app.train", "--task", "adding", "--steps", "6"]
    command += ["--hidden", "3", "--cells", "rnn,gru", "--seeds", "0,1", "--updates", "30"]
    command += ["--batch", "4", "--json"]
    first = json.loads(subprocess.check_output(command, cwd=ROOT, text=True))
    assert [(r["cell"], r["seed"]) for r in first["runs"]] == [
        ("rnn", 0),
        ("rnn", 1),
        ("gru", 0),
        ("gru", 1),
    ]
    assert all(len(r["history"]) == 30 and r["final_val_loss"] > 0 for r in first["runs"])
    link = "http://127.0.0.1:8501/" + first["settings"]["link"]
    again = json.loads(
        subprocess.check_output(
            [sys.executable, "-m", "app.train", "--link", link, "--json"], cwd=ROOT, text=True
        )
    )
    assert [r["history"] for r in again["runs"]] == [r["history"] for r in first["runs"]]


def test_the_command_line_writes_the_labs_figures(tmp_path):
    subprocess.check_call(
        [
            *TRAIN,
            "--steps",
            "6",
            "--hidden",
            "3",
            "--updates",
            "3",
            "--cells",
            "rnn",
            "--figures",
            str(tmp_path),
            "--format",
            "svg",
        ],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
    )
    names = sorted(p.name.split("_adding")[0] for p in tmp_path.glob("*.svg"))
    assert names == ["lab_example", "lab_grad_norm", "lab_lags", "lab_loss", "lab_radius"]
    text = (tmp_path / next(p.name for p in tmp_path.glob("lab_loss*"))).read_text()
    assert "training_lab?" in text
