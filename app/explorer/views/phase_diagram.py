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
from app.text import text_column


def figures(
    settings: Settings, runs: Runs, progress: Callable[[str], None] | None = None
) -> dict[str, go.Figure]:
    """The focus cell's phase diagram; ``progress`` hears how far the runs are."""
    return {"phase_diagram": phase_figure(settings, runs, progress)}


def phase_figure(
    settings: Settings, runs: Runs, progress: Callable[[str], None] | None = None
) -> go.Figure:
    kind = runs.focus
    spec = cached.knob_free(runs.spec(kind))
    columns, start = [], 0
    for size in stack_sizes(spec, len(PHASE_RADII), PHASE_BATCH):  # one or a few stacked runs
        radii = tuple(float(r) for r in PHASE_RADII[start : start + size])
        columns += cached.phase_columns(spec, radii)
        start += size
        if progress is not None and start < len(PHASE_RADII):
            progress(f"Running the {name(kind)} at {start} of {len(PHASE_RADII)} values…")
    diagram = PhaseDiagram(
        PHASE_RADII,
        phase_lags(spec),
        np.stack([c[0] for c in columns], axis=1),
        np.stack([c[1] for c in columns], axis=1),
    )
    return panels.phase_figure(
        diagram.log_norm,
        diagram.radii,
        diagram.lags,
        diagram.overflow,
        x_title=_knob(settings),
        current=_current(settings, runs, kind),
        title=f"{name(kind)}: where the gradient vanishes and where it explodes",
    )


def _knob(settings: Settings) -> str:
    return "recurrent weight w" if settings.single_unit else "spectral radius ρ of W_hh"


def render(settings: Settings, runs: Runs) -> None:
    kind = runs.focus
    knob = _knob(settings)
    left, right = st.columns(TEXT_BESIDE, gap="medium")
    with right:
        text_column(
            f"Each column is the {name(kind)} run with its {knob} set to the value on the "
            "x axis (everything else as in the sidebar); each row is how many steps back "
            "from the end the gradient is measured. Blue: the gradient has shrunk below 1; "
            "red: it has grown; crosses: it overflowed.",
            "For an Elman RNN the border between blue and red sits near 1, and it leans: "
            "the further back, the more extreme the colour. Gates move the border.",
            latex=[
                r"\log_{10}\Big\|\frac{\partial L}{\partial h_{T-1-k}}\Big\|"
                r"\ \text{over}\ (\rho, k)"
            ],
        )
        if settings.setup == "many_to_many":
            st.caption(
                "With the loss summed over steps each state also gets its own step's loss, "
                "so little turns deep blue; the many-to-one set-up shows the decay cleanly."
            )
    with left:
        status = st.empty()
        fig = phase_figure(settings, runs, progress=status.caption)
        status.empty()
        chart(fig, "phase_diagram", settings, alone=True)


def _current(settings: Settings, runs: Runs, kind: str) -> float | None:
    """Where the sidebar's settings sit on the x axis (None if off the axis)."""
    if settings.single_unit:
        value = settings.recurrent_weight
    elif settings.spectral_radius is not None:
        value = settings.spectral_radius
    else:
        value = cached.drawn_radius(runs.spec(kind))
    return value if 0 <= value <= PHASE_RADII[-1] else None
