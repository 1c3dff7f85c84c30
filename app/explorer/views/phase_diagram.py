"""5. Phase diagram: log ‖∂L/∂h_{T−1−k}‖ over the spectral radius (or w, for a
single unit) and the lag k, for the chosen cell: where gradients vanish and
where they explode."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from app import cached, panels
from app.explorer.state import Settings
from app.explorer.views.common import TEXT_BESIDE, Runs, chart, name
from app.sweeps import PHASE_BATCH, PHASE_RADII, PhaseDiagram, phase_lags, stack_sizes
from app.text import sci, text_column


def figures(
    settings: Settings, runs: Runs, progress: Callable[[str], None] | None = None
) -> dict[str, go.Figure]:
    """The focus cell's phase diagram; ``progress`` hears how far the runs are."""
    return {"phase_diagram": phase_figure(settings, runs, progress)}


def phase_figure(
    settings: Settings, runs: Runs, progress: Callable[[str], None] | None = None
) -> go.Figure:
    kind = runs.focus
    diagram = _diagram(settings, runs, progress)
    log_ratio, zero = ratio_map(diagram)
    return panels.phase_figure(
        log_ratio,
        diagram.radii,
        diagram.lags,
        diagram.overflow,
        x_title=_knob(settings),
        current=_current(settings, runs, kind),
        title=f"{name(kind)}: where the gradient vanishes and where it explodes",
        zero=zero,
        colour_title="‖∂L/∂h‖ over the last step's",
    )


def _diagram(
    settings: Settings, runs: Runs, progress: Callable[[str], None] | None = None
) -> PhaseDiagram:
    """The focus cell's runs over the knob (cached), ``progress`` told how far."""
    kind = runs.focus
    spec = cached.knob_free(runs.spec(kind))
    columns, start = [], 0
    for size in stack_sizes(spec, len(PHASE_RADII), PHASE_BATCH):  # one or a few stacked runs
        radii = tuple(float(r) for r in PHASE_RADII[start : start + size])
        columns += cached.phase_columns(spec, radii)
        start += size
        if progress is not None and start < len(PHASE_RADII):
            progress(f"Running the {name(kind)} at {start} of {len(PHASE_RADII)} values…")
    return PhaseDiagram(
        PHASE_RADII,
        phase_lags(spec),
        np.stack([c[0] for c in columns], axis=1),
        np.stack([c[1] for c in columns], axis=1),
    )


def ratio_map(diagram: PhaseDiagram) -> tuple[np.ndarray, np.ndarray]:
    """(K, R) log10 ‖∂L/∂h_{T−1−k}‖ / ‖∂L/∂h_{T−1}‖, each column over its own
    last step, so that 0 (white) is "neither shrunk nor grown"; and (K, R)
    True where the gradient is exactly 0 (a column that ran, no overflow, no
    logarithm: at ρ = 0, W_hh = 0 passes nothing back)."""
    log_norm = diagram.log_norm
    log_ratio = log_norm - log_norm[:1]
    ran = np.isfinite(log_norm[:1])
    zero = ~np.isfinite(log_norm) & ~diagram.overflow & ran
    return log_ratio, zero


def border(log_ratio: np.ndarray, radii: np.ndarray, row: int) -> float | None:
    """The smallest knob value at which row ``row``'s ratio reaches 1 (None if
    it never does on the axis)."""
    with np.errstate(invalid="ignore"):
        reached = np.flatnonzero(log_ratio[row] >= 0)
    return float(radii[reached[0]]) if reached.size else None


def _border_text(settings: Settings, kind: str, diagram: PhaseDiagram) -> str:
    """Where the border lies on this map, read from it, at the last row shown
    and half-way there."""
    log_ratio, _ = ratio_map(diagram)
    symbol = "w" if settings.single_unit else "ρ"
    last = diagram.lags.size - 1
    rows = [r for r in dict.fromkeys([last // 2, last]) if r > 0]
    found = [(int(diagram.lags[r]), border(log_ratio, diagram.radii, r)) for r in rows]
    if not rows:
        return ""
    if all(b is None for _, b in found):
        worst = float(np.nanmax(log_ratio[last])) if np.isfinite(log_ratio[last]).any() else 0
        gated = kind not in ("rnn", "jordan")
        return (
            f"On this map the {name(kind)} has no border: {found[-1][0]} steps back its "
            f"gradient is below 1 at every {symbol} shown (at most "
            f"{sci(10.0**worst)} of the last step's)."
            + (
                " Gates set how much passes; the knob barely moves it. Choose the Elman RNN "
                "as the detail cell to see a border."
                if gated
                else ""
            )
        )
    parts = [
        f"{k} steps back at {symbol} ≈ {b:g}" if b is not None else f"{k} steps back not here"
        for k, b in found
    ]
    right = all(b is not None and b > 1.05 for _, b in found)
    return (
        "Where the ratio first reaches 1 (the white border between blue and red) "
        f"on this map: {'; '.join(parts)}. The notes' rule puts it at 1 for a linear unit"
        + (
            "; the activation's slope f′ ≤ 1 shrinks every step too, which moves it right."
            if right
            else "."
        )
    )


def _knob(settings: Settings) -> str:
    return "recurrent weight w" if settings.single_unit else "spectral radius ρ of W_hh"


def render(settings: Settings, runs: Runs) -> None:
    kind = runs.focus
    knob = _knob(settings)
    left, right = st.columns(TEXT_BESIDE, gap="medium")
    with left:
        status = st.empty()
        fig = phase_figure(settings, runs, progress=status.caption)
        status.empty()
        chart(fig, "phase_diagram", settings, alone=True)
    diagram = _diagram(settings, runs)  # cached: the runs the map was drawn from
    with left:
        for note in _captions(settings, diagram):  # full contrast: captions are faded
            st.markdown(note)
    with right:
        text_column(
            f"Each column is the {name(kind)} run with its {knob} set to the value on the "
            "x axis (everything else as in the sidebar); each row is how many steps back "
            "from the end the gradient is measured, over the last step's. White: ratio 1; "
            "blue: the gradient has shrunk; red: it has grown; crosses: it overflowed.",
            _border_text(settings, kind, diagram),
            latex=[
                r"\log_{10}\frac{\|\partial L/\partial h_{T-1-k}\|}"
                r"{\|\partial L/\partial h_{T-1}\|}\ \text{over}\ (\rho, k)"
            ],
        )
        if settings.setup == "many_to_many":
            st.caption(
                "With the loss summed over steps each state also gets its own step's loss, "
                "so little turns deep blue; the many-to-one set-up shows the decay cleanly."
            )


def _captions(settings: Settings, diagram: PhaseDiagram) -> list[str]:
    """What the map leaves out or draws specially, in words under it."""
    out = []
    _, zero = ratio_map(diagram)
    symbol = "w" if settings.single_unit else "ρ"
    if zero.any():
        where = diagram.radii[zero.any(axis=0)]
        why = []
        if (where == 0).any():
            why.append(f"at {symbol} = 0 zero recurrent weights pass nothing back")
        if (where != 0).any():
            at = ", ".join(f"{r:g}" for r in where[where != 0])
            why.append(f"at {symbol} = {at} it fell below the smallest number a float holds")
        out.append(
            "Grey: the gradient is exactly 0, which a log scale has no place for: "
            + "; ".join(why)
            + "."
        )
    shown = diagram.lags.size
    if shown < settings.steps:
        out.append(
            f"The rows stop at k = {shown - 1}: the map runs at most {shown} steps back "
            f"of the {settings.steps}; the gradient-flow chart shows them all."
        )
    return out


def _current(settings: Settings, runs: Runs, kind: str) -> float | None:
    """Where the sidebar's settings sit on the x axis (None if off the axis)."""
    if settings.single_unit:
        value = settings.recurrent_weight
    elif settings.spectral_radius is not None:
        value = settings.spectral_radius
    else:
        value = cached.drawn_radius(runs.spec(kind))
    return value if 0 <= value <= PHASE_RADII[-1] else None
