"""The backward sweep: frames that walk ‖∂L/∂h_t‖ back from T − 1 to 0."""

from __future__ import annotations

import base64
import json
import math

import numpy as np
import plotly.io as pio
import pytest
from streamlit.testing.v1 import AppTest

from app.compute import run_cell
from app.explorer.state import Settings
from app.explorer.views import backward_sweep
from app.explorer.views.backward_sweep import (
    SweepLine,
    frame_ms,
    static_figure,
    sweep_figure,
    sweep_stops,
)
from app.explorer.views.common import Runs


class DirectRuns(Runs):
    """Runs without Streamlit's cache (no runtime in these tests)."""

    def get(self, kind):
        if kind not in self._runs:
            self._runs[kind] = run_cell(self.spec(kind))
        return self._runs[kind]


def _norms(trace) -> np.ndarray:
    """(T,) ‖∂L/∂h_t‖ straight from the trace (long double against overflow)."""
    grad = np.asarray(trace.grad_hidden, dtype=np.longdouble)
    return np.sqrt(np.sum(grad * grad, axis=-1)).astype(np.float64)


def _sweep(settings: Settings):
    runs = DirectRuns(settings)
    fig = backward_sweep.animated_figure(settings, runs)
    return runs, fig.to_dict()


def _numbers(node):
    if isinstance(node, dict):
        for value in node.values():
            yield from _numbers(value)
    elif isinstance(node, list):
        for value in node:
            yield from _numbers(value)
    elif isinstance(node, int | float) and not isinstance(node, bool):
        yield node


SMALL = Settings(cells=("rnn", "lstm"), hidden_size=4, seq_len=8)


@pytest.mark.parametrize(("steps", "frames"), [(2, 2), (8, 8), (200, 200), (201, 200), (2000, 200)])
def test_one_frame_per_step_up_to_200(steps, frames):
    stops = sweep_stops(steps)
    assert len(stops) == frames
    assert stops[0] == steps - 1 and stops[-1] == 0
    assert np.all(np.diff(stops) < 0)
    if steps <= 200:
        assert list(stops) == list(range(steps - 1, -1, -1))


def test_frame_k_ends_at_step_T_minus_1_minus_k_with_the_trace_values():
    runs, spec = _sweep(SMALL)
    T = SMALL.steps
    expected = {kind: _norms(run.trace) for kind, run in runs.finished()}
    assert len(expected) == 2
    frames = spec["frames"]
    assert len(frames) == T
    curtain = next(i for i, t in enumerate(spec["data"]) if t.get("fill") == "toself")
    markers = [i for i, t in enumerate(spec["data"]) if t.get("mode") == "markers"]
    assert len(markers) == 2
    for k, frame in enumerate(frames):
        step = T - 1 - k
        assert frame["name"] == str(step)
        by_trace = dict(zip(frame["traces"], frame["data"], strict=True))
        edge = by_trace[curtain]["x"]
        assert max(edge) == step  # everything left of the step is behind the curtain
        for index, kind in zip(markers, SMALL.cells, strict=True):
            assert by_trace[index]["x"] == [step]
            assert by_trace[index]["y"][0] == pytest.approx(expected[kind][step], rel=1e-9)


def test_it_opens_on_the_whole_line_and_the_slider_on_the_last_frame():
    runs, spec = _sweep(SMALL)
    lines = [t for t in spec["data"] if "lines" in t.get("mode", "") and t.get("fill") != "toself"]
    assert [t["name"] for t in lines] == ["Elman RNN", "LSTM"]
    for line, (_, run) in zip(lines, runs.finished(), strict=True):
        y = line["y"]
        values = np.frombuffer(base64.b64decode(y["bdata"]), y["dtype"])
        np.testing.assert_allclose(values, _norms(run.trace), rtol=1e-12)
    slider = spec["layout"]["sliders"][0]
    assert slider["steps"][slider["active"]]["args"][0] == ["0"]  # the whole sweep
    assert sorted(s["args"][0][0] for s in slider["steps"]) == sorted(
        f["name"] for f in spec["frames"]
    )


def test_the_sweep_slider_runs_along_the_time_axis():
    """Left to right on the slider is left to right in t, as on the axis above it."""
    _, spec = _sweep(SMALL)
    stops = [int(s["args"][0][0]) for s in spec["layout"]["sliders"][0]["steps"]]
    assert stops == sorted(stops) and stops[0] == 0


def test_play_runs_at_least_10_frames_per_second_without_redrawing():
    _, spec = _sweep(SMALL.replace(seq_len=200, hidden_size=2))
    menu = spec["layout"]["updatemenus"][0]
    play = next(b for b in menu["buttons"] if "Play" in b["label"])
    pause = next(b for b in menu["buttons"] if "Pause" in b["label"])
    options = play["args"][1]
    assert play["method"] == "animate" and play["args"][0] is None
    assert options["frame"]["duration"] <= 100
    assert options["frame"]["redraw"] is False
    assert options["transition"]["duration"] == 0
    assert pause["args"][0] == [None]
    for step in spec["layout"]["sliders"][0]["steps"]:
        assert step["args"][1]["frame"] == {"duration": 0, "redraw": False}
    assert all(frame_ms(n) <= 100 for n in (1, 2, 20, 200))


def test_frames_carry_only_the_curtain_and_markers():
    _, spec = _sweep(SMALL.replace(seq_len=200, hidden_size=2))
    size = len(json.dumps(spec["frames"]))
    assert size < 300 * len(spec["frames"])  # a few numbers per frame, not 200 points
    assert all(len(frame["data"]) == 3 for frame in spec["frames"])


def test_nonfinite_and_zero_values_are_masked_not_drawn():
    T = 12
    norms = np.geomspace(1e-3, 1e3, T)
    norms[[2, 5, 7, 9]] = [0.0, np.inf, np.nan, -np.inf]
    fig = sweep_figure([SweepLine("bad", "#D55E00", norms)], steps=T)
    spec = fig.to_dict()
    numbers = list(_numbers(spec["frames"]))
    assert numbers and all(math.isfinite(v) for v in numbers)
    markers = {f["name"]: f["data"][1]["y"][0] for f in spec["frames"]}
    for step in (2, 5, 7, 9):
        assert markers[str(step)] is None
    assert markers["3"] == pytest.approx(norms[3])
    text = pio.to_json(fig)
    assert "NaN" not in text.split('"frames"')[1]
    assert "Infinity" not in text


def test_truncation_masks_the_steps_no_gradient_reaches():
    settings = SMALL.replace(truncation=3)
    _, spec = _sweep(settings)
    T = settings.steps
    last_chunk = (T - 1) // 3 * 3  # chunks of 3 from step 0: the loss's chunk starts here
    markers = {f["name"]: [d.get("y") for d in f["data"][1:]] for f in spec["frames"]}
    for step in range(last_chunk):  # no gradient crosses a chunk boundary
        assert markers[str(step)] == [[None], [None]]
    for step in range(last_chunk, T):
        assert all(y[0] is not None and y[0] > 0 for y in markers[str(step)])
    assert spec["layout"]["shapes"]  # the chunk boundaries, dotted


def test_a_single_step_has_no_play_control():
    settings = SMALL.replace(setup="one_to_one")
    assert settings.steps == 1
    runs, spec = _sweep(settings)
    assert not spec.get("frames")
    assert "updatemenus" not in spec["layout"] and "sliders" not in spec["layout"]
    markers = [t for t in spec["data"] if t.get("showlegend") is False and "marker" in t]
    assert [m["x"] for m in markers] == [[0], [0]]
    assert backward_sweep._explain(settings, runs)


def test_the_exported_figure_has_no_controls_and_the_same_lines():
    runs = DirectRuns(SMALL)
    animated = backward_sweep.animated_figure(SMALL, runs)
    exported = backward_sweep.figures(SMALL, runs)["backward_sweep"].to_dict()
    assert "frames" not in exported
    assert not {"sliders", "updatemenus"} & set(exported["layout"])
    assert exported["data"] == animated.to_dict()["data"]
    assert static_figure(animated).to_dict() == exported


class _Failed(DirectRuns):
    """Every cell refused by the engine."""

    def finished(self):
        return iter(())


def test_no_cell_ran_gives_no_figure():
    assert backward_sweep.figures(SMALL, _Failed(SMALL)) == {}
    assert backward_sweep.animated_figure(SMALL, _Failed(SMALL)) is None


def _page():
    from app.explorer.state import Settings
    from app.explorer.views import backward_sweep

    settings = Settings(cells=("rnn", "lstm"), hidden_size=4, seq_len=8)
    backward_sweep.render(settings, backward_sweep.Runs(settings))


def test_render_draws_the_animated_chart_and_its_text():
    at = AppTest.from_function(_page, default_timeout=60).run()
    assert not at.exception
    charts = at.get("plotly_chart")
    assert len(charts) == 1
    spec = json.loads(charts[0].proto.spec)
    assert len(spec["frames"]) == 8
    text = " ".join(m.value for m in at.markdown)
    assert "Play" in text and "Elman RNN" in text
