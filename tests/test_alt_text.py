"""The charts in words (app.alt_text): every chart of every view has a text
alternative, and its numbers are the chart's.

The numbers are read back from the sentence (``parse_numbers``) and compared
with values computed here from the engine's trace or from the figure's own
arrays, never with the formatter's output."""

from __future__ import annotations

import re

import numpy as np
import pytest

from app import alt_text
from app.compute import norms_over_time, run_cell
from app.explorer.state import Settings
from app.explorer.views.common import Runs
from app.figures import views
from app.links import CELL_NAMES

SMALL = Settings(cells=("rnn", "lstm"), focus="lstm", hidden_size=4, seq_len=60, seed=1)
_SUPERSCRIPTS = str.maketrans("⁻⁰¹²³⁴⁵⁶⁷⁸⁹", "-0123456789")
_NUMBER = re.compile(r"(−?\d+(?:\.\d+)?)(?:·10([⁻⁰¹²³⁴⁵⁶⁷⁸⁹]+))?")
RTOL = 6e-3  # three significant digits


class DirectRuns(Runs):
    """Runs without Streamlit's cache (no runtime in these tests)."""

    def get(self, kind):
        if kind not in self._runs:
            self._runs[kind] = run_cell(self.spec(kind))
        return self._runs[kind]


def parse_numbers(text: str) -> list[float]:
    """Every number written in ``text`` (1.23, −0.5, 4.88·10⁻¹⁴), in order."""
    out = []
    for mantissa, exponent in _NUMBER.findall(text):
        value = float(mantissa.replace("−", "-"))
        if exponent:
            value *= 10.0 ** int(exponent.translate(_SUPERSCRIPTS))
        out.append(value)
    return out


def clause(text: str, start: str) -> str:
    """The sentence of ``text`` that starts with ``start`` (up to its full stop)."""
    match = re.search(re.escape(start) + r"[^.]*(?:\.\d[^.]*)*\.", text)
    assert match, f"no clause starting {start!r} in {text!r}"
    return match.group(0)


@pytest.fixture(scope="module")
def small_figures():
    runs = DirectRuns(SMALL)
    with np.errstate(all="ignore"):
        return {
            key: fig for view in views().values() for key, fig in view.figures(SMALL, runs).items()
        }


def test_numbers_are_written_and_read_back():
    for value in (1.2, 0.0471, 1.0e-13, 4.88e-14, -0.717, 123.4, 1.41e5, 9.9999):
        (back,) = parse_numbers(alt_text.number(value))
        assert back == pytest.approx(value, rel=RTOL)
    assert alt_text.number(-0.5).startswith("−")  # read "minus", not "dash"
    assert alt_text.number(float("nan")) == "not finite"


def test_every_chart_of_every_view_has_a_sentence(small_figures):
    assert len(small_figures) >= 12
    for key, fig in small_figures.items():
        text = alt_text.describe(key, fig)
        title = alt_text.plain(fig.to_dict()["layout"]["title"]["text"])
        assert text.startswith(f"Chart: {title}."), key
        assert parse_numbers(text[len(title) + 8 :]), f"{key}: no numbers in {text!r}"


def test_gradient_flow_says_how_far_each_gradient_falls_in_fifty_steps(small_figures):
    text = alt_text.describe("gradient_flow", small_figures["gradient_flow"])
    T = SMALL.seq_len
    for kind in SMALL.cells:
        norms = norms_over_time(run_cell(Runs(SMALL).spec(kind)).trace.grad_hidden)
        words = clause(text, f"{CELL_NAMES[kind]}: ‖∂L/∂h_t‖ ")
        last, last_step, early, early_step, factor, steps = parse_numbers(words)
        assert (last_step, early_step, steps) == (T - 1, T - 51, 50), words
        assert last == pytest.approx(norms[T - 1], rel=RTOL)
        assert early == pytest.approx(norms[T - 51], rel=RTOL)
        assert factor == pytest.approx(norms[T - 51] / norms[T - 1], rel=RTOL)
        assert ("falls" in words) == (norms[T - 51] < norms[T - 1])


def test_backward_sweep_reads_the_same_lines(small_figures):
    flow = alt_text.describe("gradient_flow", small_figures["gradient_flow"])
    sweep = alt_text.describe("backward_sweep", small_figures["backward_sweep"])
    for kind in SMALL.cells:
        start = f"{CELL_NAMES[kind]}: ‖∂L/∂h_t‖ "
        assert parse_numbers(clause(sweep, start)) == parse_numbers(clause(flow, start))


def _heatmap_extremes(trace: dict, log: bool) -> tuple[float, float]:
    z = alt_text.values(trace["z"])
    z = z[np.isfinite(z)]
    low, high = float(z.min()), float(z.max())
    return (10.0**low, 10.0**high) if log else (low, high)


def test_heatmaps_give_their_smallest_and_largest_value(small_figures):
    for key in ("gradient_heatmap", "sensitivity", "phase_diagram", "inside_states"):
        spec = small_figures[key].to_dict()
        text = alt_text.describe(key, spec)
        # a guide drawn as a heatmap (the phase diagram's grey zeros) is skipped, as describe does
        heatmaps = [
            t for t in spec["data"] if t["type"] == "heatmap" and t.get("hoverinfo") != "skip"
        ]
        # each heatmap's clause: rows, columns, then low (x, y) and high (x, y)
        parts = re.split(r"(?<![\d.])(?=\d+ rows \()", text)[1:]
        found = [parse_numbers(part) for part in parts]
        assert len(found) == len(heatmaps), text
        for numbers, trace in zip(found, heatmaps, strict=True):
            z = alt_text.values(trace["z"])
            rows, cols, low, _, _, high = numbers[:6]
            assert (rows, cols) == z.shape, key
            want_low, want_high = _heatmap_extremes(trace, key in alt_text.LOG_COLOUR_KEYS)
            assert low == pytest.approx(want_low, rel=RTOL), key
            assert high == pytest.approx(want_high, rel=RTOL), key


def test_bars_give_every_bar(small_figures):
    spec = small_figures["clipping_parameters"].to_dict()
    text = alt_text.describe("clipping_parameters", spec)
    (bars,) = [t for t in spec["data"] if t["type"] == "bar"]
    heights = alt_text.values(bars["y"])
    for name, height in zip(bars["x"], heights, strict=True):
        written = re.search(re.escape(name) + r" (\S+?)[,.]( |$)", text)
        assert written, (name, text)
        assert parse_numbers(written.group(1))[0] == pytest.approx(height, rel=RTOL)


def test_eigenvalues_give_the_largest_modulus(small_figures):
    spec = small_figures["eigenvalues"].to_dict()
    text = alt_text.describe("eigenvalues", spec)
    for trace in spec["data"]:
        if trace.get("mode") != "markers":
            continue
        x, y = alt_text.values(trace["x"]), alt_text.values(trace["y"])
        words = clause(text, alt_text.plain(trace["name"]) + ":")
        count, largest = parse_numbers(words)[-2:]
        assert count == x.size
        assert largest == pytest.approx(np.max(np.hypot(x, y)), rel=RTOL)
