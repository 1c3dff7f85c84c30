"""The sentence above the charts for a preset, with its numbers measured on the run.

A preset's words say what to look at; every number in them is read from the
run the chart draws (a ratio ‖∂L/∂x_{T−1−n}‖ / ‖∂L/∂x_{T−1}‖ of one of its
lines) or from the preset's settings. ``sentence`` returns the text and the
``Measure``s it states, so that a test can hold each against the chart.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from app.compute import norms_over_time
from app.explorer.presets import PRESETS
from app.explorer.views.common import Runs
from app.text import sci

STEPS_BACK = 50
NOTES_SOURCE = "the course notes on Elman and Jordan networks (notes 002, “Problem of BPTT”)"


@dataclass(frozen=True)
class Measure:
    """‖∂L/∂x_{T−1−steps_back}‖ / ‖∂L/∂x_{T−1}‖ of one line: x is h ("h") or
    an LSTM's cell state ("c") of cell ``kind``; ``text`` is how the sentence
    writes it."""

    kind: str
    what: str
    steps_back: int
    value: float

    @property
    def text(self) -> str:
        return sci(self.value, 2)


@dataclass(frozen=True)
class Sentence:
    text: str
    measures: tuple[Measure, ...]


class _Reader:
    """Reads the measures of one run and remembers each one read."""

    def __init__(self, runs: Runs) -> None:
        self.runs = runs
        self.read: list[Measure] = []

    @property
    def last(self) -> int:
        return self.runs.settings.steps - 1

    def __call__(self, kind: str, steps_back: int, what: str = "h") -> str:
        trace = self.runs.get(kind).trace
        grad = trace.grad_hidden if what == "h" else trace.grad_cell
        norms = norms_over_time(grad)
        value = float(norms[self.last - steps_back] / norms[self.last])
        measure = Measure(kind, what, steps_back, value)
        self.read.append(measure)
        return measure.text

    def of_last(self, kind: str, steps_back: int, what: str = "h") -> str:
        """ "0.0052 of the last step's", "117 times the last step's"."""
        text = self(kind, steps_back, what)
        word = "times" if self.read[-1].value >= 1 else "of"
        return f"{text} {word} the last step's"

    def first(self, kind: str, what: str = "h") -> str:
        """The ratio at t = 0."""
        return self(kind, self.last, what)

    def settled(self, kind: str, what: str = "h", most: int = 10) -> int:
        """How many steps back the line's early drop ends: the fewest n ≤ ``most``
        with the ratio at n within a factor 2 of its value fifty steps back."""
        norms = norms_over_time(self.runs.get(kind).trace.grad_hidden)
        ratios = norms[::-1] / norms[-1]
        for n in range(1, most + 1):
            if ratios[n] <= 2 * ratios[STEPS_BACK]:
                return n
        return most


def _sigmoid(x: float) -> str:
    return sci(1 / (1 + np.exp(-x)), 2)


def _steps(n: int) -> str:
    return "step" if n == 1 else f"{n} steps"


def _elman_lstm(m: _Reader) -> str:
    return (
        f"Fifty steps back the Elman RNN's gradient (vermillion) is {m.of_last('rnn', 50)}, "
        f"and {m.first('rnn')} at t = 0: it fades by orders of magnitude. The LSTM's (blue) "
        f"drops to {m.of_last('lstm', 2)} in the last two steps, then falls slowly: "
        f"{m('lstm', 50)} fifty steps back, {m.first('lstm')} at t = 0."
    )


def _single_unit(m: _Reader) -> str:
    w = m.runs.settings.recurrent_weight
    verb = "vanishes" if abs(w) < 1 else "explodes"
    return (
        f"One linear unit with w = {w:g}: fifty steps back the gradient is "
        f"{m.of_last('rnn', 50)}, which is {w:g}⁵⁰; at t = 0 it is {m.first('rnn')}. "
        f"It {verb} exactly as {NOTES_SOURCE} work it out."
    )


def _clipping(m: _Reader) -> str:
    s = m.runs.settings
    return (
        f"A linear Elman RNN with spectral radius {s.spectral_radius:g}: fifty steps back "
        f"its gradient is {m.of_last('rnn', 50)}, and {m.first('rnn')} at t = 0. Open the "
        f"Clipping tab: the update keeps its direction but is scaled down to θ = {s.clip:g}."
    )


def _forget_gate(m: _Reader) -> str:
    s = m.runs.settings
    n = m.settled("lstm")
    return (
        f"With forget-gate bias {s.forget_bias:g} the forget gate sits near "
        f"σ({s.forget_bias:g}) ≈ {_sigmoid(s.forget_bias)}, and the gradient along the cell "
        f"state (dotted) is multiplied by f at each step: it is {m.of_last('lstm', 50, 'c')} "
        f"fifty steps back and {m.first('lstm', 'c')} at t = 0, {m.last} steps back. The "
        f"gradient on hₜ (solid) drops in the last {_steps(n)}, through the output gate, to "
        f"{m.of_last('lstm', n)}, and is nearly flat after: {m('lstm', 50)} fifty steps "
        "back. Lower the forget-gate bias and watch the dotted line fade."
    )


def _no_forget_gate(m: _Reader) -> str:
    s = m.runs.settings
    n = m.settled("lstm_nofg")
    return (
        "Without a forget gate the cell only adds (cₜ = cₜ₋₁ + i ⊙ g): along its cell state "
        f"(dotted) the gradient is {m.of_last('lstm_nofg', 50, 'c')} fifty steps back and "
        f"{m.first('lstm_nofg', 'c')} at t = 0 — the original 1997 “constant error "
        f"carousel” — against {m('lstm', 50, 'c')} fifty steps back for the LSTM with its "
        f"forget gate (bias {s.forget_bias:g}). The gradient on hₜ drops in the last "
        f"{_steps(n)} to {m.of_last('lstm_nofg', n)} and stays near that: "
        f"{m('lstm_nofg', 50)} fifty steps back. But the cell can never forget (see it "
        "grow under Inside the cell)."
    )


def _gru_elman(m: _Reader) -> str:
    s = m.runs.settings
    return (
        f"One unit each, the same w = {s.recurrent_weight:g}: the Elman unit multiplies its "
        f"gradient by w·tanh′ ≤ {abs(s.recurrent_weight):g} each step, and fifty steps back "
        f"keeps {m.of_last('rnn', 50)}. The GRU's update gate "
        f"z ≈ σ({s.gate_bias:g}) ≈ {_sigmoid(s.gate_bias)} keeps most of hₜ₋₁ as it is: its "
        f"gradient is {m('gru', 50)} of the last step's fifty steps back and "
        f"{m.first('gru')} at t = 0."
    )


def _truncation(m: _Reader) -> str:
    s = m.runs.settings
    start = (m.last // s.truncation) * s.truncation  # the last chunk's first step
    return (
        f"Truncated BPTT with k = {s.truncation}: no gradient crosses the dotted chunk "
        f"boundary, so the loss at the last step reaches back only to step {start} — even "
        f"through the LSTM, whose gradient is {m.of_last('lstm', m.last - start)} at step "
        f"{start} and {m('lstm', m.last - start + 1)} at step {start - 1}."
    )


def _bidirectional(m: _Reader) -> str:
    return (
        "The forward direction (solid) collects gradient from every later step, the "
        "backward direction (dashed) from every earlier one; the T × T map under "
        "*Why it vanishes* shows both triangles."
    )


def _identity_relu(m: _Reader) -> str:
    n = m.settled("rnn")
    return (
        "W_hh = I and ReLU (Le, Jaitly & Hinton 2015): every active unit copies itself "
        f"forward with slope 1. The gradient drops to {m.of_last('rnn', n)} in the last "
        f"{_steps(n)} (units that are off pass nothing back) and is flat after: "
        f"{m('rnn', 50)} fifty steps back, {m.first('rnn')} at t = 0. It neither vanishes "
        "nor explodes."
    )


_WRITERS: dict[str, Callable[[_Reader], str]] = {
    "Elman against LSTM": _elman_lstm,
    "Vanishing (w = 0.9)": _single_unit,
    "Exploding (w = 1.1)": _single_unit,
    "Clipping tames an explosion": _clipping,
    "The forget gate carries the gradient": _forget_gate,
    "LSTM without a forget gate": _no_forget_gate,
    "GRU against Elman": _gru_elman,
    "Truncation cuts the long path": _truncation,
    "Bidirectional: gradient from both ends": _bidirectional,
    "ReLU with an identity start": _identity_relu,
}


def sentence(name: str, runs: Runs) -> Sentence:
    """The preset's sentence measured on ``runs`` (its settings' runs); its
    words alone (``Preset.look_at``) when a cell it reads could not run."""
    reader = _Reader(runs)
    try:
        text = _WRITERS[name](reader)
    except (AttributeError, TypeError, IndexError, ZeroDivisionError, FloatingPointError):
        return Sentence(PRESETS[name].look_at, ())
    return Sentence(text, tuple(reader.read))
