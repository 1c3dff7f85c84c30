"""2. Inside the cell: the hidden state, each gate and an LSTM's cell state over
time (heatmaps, unit × step), and each gate's mean over units (lines)."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from app import charts, panels
from app.compute import finite_mean, sample_steps
from app.explorer.state import Settings
from app.explorer.views.common import TEXT_BESIDE, Runs, chart, name
from app.text import latex_number, text_column

MAX_UNITS_DRAWN = 64
GATE_TITLES = {
    "input": "input gate i",
    "forget": "forget gate f",
    "candidate": "candidate",
    "output": "output gate o",
    "reset": "reset gate r",
    "update": "update gate z",
}


def figures(settings: Settings, runs: Runs) -> dict[str, go.Figure]:
    """The focus cell's states over time and, if it has gates, its gates'
    heatmaps and their means over the units."""
    trace = runs.get(runs.focus).trace
    if trace is None:
        return {}
    out = {"inside_states": states_figure(settings, runs.focus, trace)}
    if trace.gates:
        out["inside_gates"] = gates_figure(settings, runs.focus, trace)
        out["inside_gate_means"] = gate_means_figure(settings, runs.focus, trace)
    return out


def _rows(settings: Settings, values) -> np.ndarray:
    """(T, H) → (units, steps): the steps drawn and the first units."""
    steps = sample_steps(settings.steps, 300)
    return np.asarray(values)[steps, :MAX_UNITS_DRAWN].T


def states_figure(settings: Settings, kind: str, trace) -> go.Figure:
    states = [panels.Panel("hidden state h<sub>t</sub>", _rows(settings, trace.hidden), True)]
    if trace.cell is not None:
        states.append(panels.Panel("cell state c<sub>t</sub>", _rows(settings, trace.cell), True))
    return panels.stacked_heatmaps_figure(
        states, sample_steps(settings.steps, 300), title=f"{name(kind)}: its state over time"
    )


def gates_figure(settings: Settings, kind: str, trace) -> go.Figure:
    gates = [
        panels.Panel(GATE_TITLES.get(g, g), _rows(settings, v), g == "candidate")
        for g, v in trace.gates.items()
    ]
    return panels.stacked_heatmaps_figure(
        gates,
        sample_steps(settings.steps, 300),
        title=f"{name(kind)}: gate activations (0 = shut, 1 = open)",
    )


def gate_means_figure(settings: Settings, kind: str, trace) -> go.Figure:
    means = [
        charts.Line(
            GATE_TITLES.get(g, g),
            charts.GATE_COLOURS.get(g, charts.OKABE_ITO["grey"]),
            np.arange(settings.steps),
            finite_mean(v, axis=1),
        )
        for g, v in trace.gates.items()
    ]
    return charts.lines_figure(
        means,
        title=f"{name(kind)}: each gate's mean over the units",
        y_title="mean activation",
        height=380,
    )


def render(settings: Settings, runs: Runs) -> None:
    kind = runs.focus
    run = runs.get(kind)
    if run.trace is None:
        st.info(f"The {name(kind)} could not run with these settings.")
        return
    trace = run.trace

    left, right = st.columns(TEXT_BESIDE, gap="medium")
    with left:
        chart(states_figure(settings, kind, trace), "inside_states", settings, alone=True)
    with right:
        _explain_states(settings, kind, trace)

    if not trace.gates:
        st.markdown(
            f"The {name(kind)} has no gates: everything it remembers passes through "
            "W_hh and the activation at every step."
        )
        return
    left, right = st.columns(TEXT_BESIDE, gap="medium")
    with left:
        chart(gates_figure(settings, kind, trace), "inside_gates", settings)
        chart(gate_means_figure(settings, kind, trace), "inside_gate_means", settings)
    with right:
        _explain_gates(settings, kind, trace)


def _explain_states(settings: Settings, kind: str, trace) -> None:
    shown = min(settings.hidden_size, MAX_UNITS_DRAWN)
    more = (
        f" The first {shown} of {settings.hidden_size} units are shown."
        if shown < settings.hidden_size
        else ""
    )
    paragraphs = [
        ("The forward direction is shown. " if settings.bidirectional else "")
        + "Rows are hidden units, columns time steps; red is positive, blue negative. "
        "A state stuck at ±1 under tanh is saturated: its slope tanh′ = 1 − h² is "
        "near 0 there, and so is the gradient through it." + more
    ]
    latex = []
    if trace.cell is not None:
        if kind == "lstm_nofg":
            paragraphs.append(
                "Without a forget gate the cell state only adds: watch it drift "
                "and grow, since nothing ever empties it."
            )
            latex.append(r"c_t = c_{t-1} + i_t \odot g_t")
        else:
            latex += [r"c_t = f_t \odot c_{t-1} + i_t \odot g_t", r"h_t = o_t \odot \tanh(c_t)"]
    elif kind in ("rnn", "jordan"):
        slope = _mean_slope(settings.activation, np.asarray(trace.hidden))
        if slope is not None:
            paragraphs.append(f"Here the mean slope $f'(a_t)$ over units and steps is {slope:.3f}.")
        latex.append(
            r"h_t = f(W_{ih}x_t + W_{hh}h_{t-1} + b)"
            if kind == "rnn"
            else r"h_t = f(W_{ih}x_t + W_{hh}y_{t-1} + b)"
        )
    text_column(*paragraphs, latex=latex)


def _mean_slope(activation: str, hidden: np.ndarray) -> float | None:
    """Mean of f′(a) over units and steps, read from h = f(a)."""
    h = hidden[np.isfinite(hidden)]
    if not h.size:
        return None
    if activation == "tanh":
        return float(np.mean(1 - h * h))
    if activation == "sigmoid":
        return float(np.mean(h * (1 - h)))
    if activation == "relu":
        return float(np.mean(h > 0))
    return 1.0


def _explain_gates(settings: Settings, kind: str, trace) -> None:
    T = settings.steps
    carry = {"lstm": "forget", "mgu": "forget", "gru": "update"}.get(kind)
    paragraphs = [
        "A gate near 1 lets the past through; near 0 it blocks it. The gate that "
        "keeps the old state is the one that carries the gradient back in time."
    ]
    latex = []
    if carry is not None and carry in trace.gates:
        gate = np.asarray(trace.gates[carry])
        mean = finite_mean(gate)
        symbol = {"forget": "f", "update": "z"}[carry]
        state = "c" if kind == "lstm" else "h"
        paragraphs.append(
            f"Along the direct path the gradient is multiplied by ${symbol}_t$ at each step; "
            f"here the mean ${symbol}$ is {mean:.3f}, so over $T-1 = {T - 1}$ steps about "
            f"${mean:.3f}^{{{T - 1}}}$."
        )
        latex.append(
            rf"\frac{{\partial {state}_t}}{{\partial {state}_{{t-1}}}}\Big|_\text{{direct}}"
            rf" = \operatorname{{diag}}({symbol}_t)"
        )
        latex.append(rf"{mean:.3f}^{{{T - 1}}} = " + latex_number(mean ** (T - 1)))
    elif kind == "lstm_nofg":
        paragraphs.append(
            "Without a forget gate the direct path multiplies the gradient by exactly 1: "
            "the constant error carousel of Hochreiter & Schmidhuber (1997)."
        )
        latex.append(r"\frac{\partial c_t}{\partial c_{t-1}}\Big|_\text{direct} = I")
    text_column(*paragraphs, latex=latex)
