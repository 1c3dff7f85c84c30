"""What a lecture adds to the gradient-flow chart: a y axis locked while the
settings change, so that two slides compare.

The lock is two fields of ``Settings`` (``y_low``, ``y_high``: powers of
ten, ``ylo`` / ``yhi`` in a link); the sidebar's toggle stores the range the
chart has when it is turned on, rounded out to whole powers of ten.
"""

from __future__ import annotations

import math

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from app import session
from app.charts import log_ticks
from app.state import Settings

LOCK_KEY = "y_lock_on"
UNLOCKED_RANGE = (-10, 1)  # a chart with nothing finite to show has no range to keep


def lock_y(fig: go.Figure, settings: Settings) -> go.Figure:
    """``fig`` with its y axis at ``settings.y_lock`` (powers of ten), if locked."""
    lock = settings.y_lock
    if lock is None:
        return fig
    from app.flow_chart import AssembledFigure  # flow_chart draws; this only patches

    spec = fig.to_dict()
    layout = dict(spec["layout"])
    values, labels = log_ticks(float(lock[0]), float(lock[1]))
    layout["yaxis"] = {
        **(layout.get("yaxis") or {}),
        "type": "log",
        "range": [float(lock[0]), float(lock[1])],
        "autorange": False,
        "tickmode": "array",
        "tickvals": values,
        "ticktext": labels,
    }
    return AssembledFigure({**spec, "layout": layout})


def shown_y_range(settings: Settings) -> tuple[int, int]:
    """The gradient-flow chart's y range for ``settings`` as drawn, rounded
    out to whole powers of ten."""
    from app.views.common import Runs
    from app.views.gradient_flow import flow_figure  # the view imports this module

    with np.errstate(all="ignore"):
        drawn = flow_figure(settings.replace(y_low=None, y_high=None), Runs(settings))
    yaxis = {} if drawn is None else drawn.fig.to_dict()["layout"].get("yaxis") or {}
    shown = yaxis.get("range")
    if not shown:
        return UNLOCKED_RANGE
    return math.floor(shown[0]), math.ceil(shown[1])


def _lock_moved() -> None:
    state = st.session_state
    settings = state[session.SETTINGS_KEY]
    low, high = shown_y_range(settings) if state.get(LOCK_KEY) else (None, None)
    state[session.SETTINGS_KEY] = settings.replace(y_low=low, y_high=high)
    state["y_low"], state["y_high"] = low, high


def lock_control(bar, settings: Settings) -> None:
    """The sidebar's toggle that locks the gradient-flow chart's y axis."""
    st.session_state[LOCK_KEY] = settings.y_lock is not None
    bar.toggle(
        "Lock the gradient-flow chart's y axis",
        key=LOCK_KEY,
        on_change=_lock_moved,
        help="Keep the y axis where it is now while you change ρ, T or anything "
        "else, so that two slides compare. The link keeps it (ylo, yhi: powers of ten).",
    )
    if settings.y_lock is not None:
        low, high = settings.y_lock
        bar.caption(f"The y axis stays at 10^{low} … 10^{high}.")
