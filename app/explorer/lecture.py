"""What a lecture adds to the gradient-flow chart: a y axis locked while the
settings change, so that two slides compare; a second setting drawn beside
the first (another seed, another ρ); the analytic reference (ρ·f̄′)ⁿ of the
Elman RNN's matrix, as the single unit has wⁿ.

The lock is two fields of ``Settings`` (``y_low``, ``y_high``: powers of
ten, ``ylo`` / ``yhi`` in a link); the sidebar's toggle stores the range the
chart has when it is turned on, rounded out to whole powers of ten.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from app.charts import log_ticks
from app.explorer import session
from app.explorer.state import Settings

LOCK_KEY = "y_lock_on"
UNLOCKED_RANGE = (-10, 1)  # a chart with nothing finite to show has no range to keep
STEPS_BACK = 50  # the notes' worked figure, as the chart's text


def lock_y(fig: go.Figure, settings: Settings) -> go.Figure:
    """``fig`` with its y axis at ``settings.y_lock`` (powers of ten), if
    locked; and the compared setting's lines with open markers (beside the
    dashes: a second thing than colour that tells them apart)."""
    lock = settings.y_lock
    if lock is None and settings.compared is None:
        return fig
    from app.flow_chart import AssembledFigure  # flow_chart draws; this only patches

    spec = fig.to_dict()
    if settings.compared is not None:
        spec["data"] = [_opened(trace) for trace in spec["data"]]
    if lock is None:
        return AssembledFigure(spec)
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


def _opened(trace: dict) -> dict:
    marker = trace.get("marker")
    dash = (trace.get("line") or {}).get("dash")
    if dash != COMPARED_DASH or not isinstance(marker, dict) or "symbol" not in marker:
        return trace
    return {**trace, "marker": {**marker, "symbol": f"{marker['symbol']}-open"}}


def shown_y_range(settings: Settings) -> tuple[int, int]:
    """The gradient-flow chart's y range for ``settings`` as drawn, rounded
    out to whole powers of ten."""
    from app.explorer.views.common import Runs
    from app.explorer.views.gradient_flow import flow_figure  # the view imports this module

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


# ---- the analytic reference of a matrix: (ρ·f̄′)ⁿ ----------------------------------------
REFERENCE_CELL = "rnn"  # the cell whose one-step Jacobian is diag(f′(a_t)) W_hh


@dataclass(frozen=True)
class SlopeReference:
    """(T,) ‖∂L/∂h_{T−1}‖ · (ρ·f̄′)^(T−1−t) of the Elman RNN: ρ the spectral
    radius of its W_hh, f̄′ the mean of f′(a_τ) over the steps τ = 1 … T−1 the
    product runs over and every unit, as the run met them."""

    radius: float
    slope: float
    values: np.ndarray

    @classmethod
    def of(cls, radius: float, slope: float, anchor: float, steps: int) -> SlopeReference:
        with np.errstate(all="ignore"):
            powers = (radius * slope) ** (steps - 1 - np.arange(steps, dtype=np.float64))
        return cls(radius, slope, anchor * powers)


def slope_reference(settings: Settings, runs, kept=None) -> SlopeReference | None:
    """The Elman RNN's reference when it is shown with H > 1 and ran; else None
    (one unit has its own, wⁿ). ``kept``: the in-chart slider's runs when one
    of their frames is these settings (``gradient_flow.KeptFrame``): its norms
    and f̄′ are then read from that frame, and the chart is drawn before the
    engine runs the Elman network again."""
    if settings.single_unit or REFERENCE_CELL not in settings.cells or settings.steps < 2:
        return None
    from app.compute import mean_slope, norms_over_time

    if kept is not None:
        norms, _, _, slopes = kept.sweeps[REFERENCE_CELL]
        slope, anchor = float(slopes[kept.active]), norms[kept.active][-1]
    else:
        run = runs.get(REFERENCE_CELL)
        if run.trace is None or run.params is None:
            return None
        slope = mean_slope(settings.activation, run.trace.hidden)
        anchor = norms_over_time(run.trace.grad_hidden)[-1]
    radius = _radius(runs.spec(REFERENCE_CELL))
    return SlopeReference.of(radius, slope, anchor, settings.steps)


@functools.lru_cache(maxsize=64)
def _radius(spec) -> float:
    """ρ of the Elman RNN's W_hh as ``spec`` builds it: one eigenvalue solve for
    the line and the sentence beside it, and none for a setting seen before."""
    from app.compute import build_model, spectral_radius

    return spectral_radius(build_model(spec).params["weight_hh"][: spec.hidden_size])


def reference_name(settings: Settings, reference: SlopeReference) -> str:
    f = settings.activation
    return (
        f"(ρ·f̄′)<sup>T−1−t</sup>, Elman: ρ = {reference.radius:.3g}, "
        f"f̄′ = mean {f}′ = {reference.slope:.3g}"
    )


# ---- two settings on one chart ------------------------------------------------------------
COMPARED_DASH = "longdash"  # the cells' own colours; solid is the first setting


def compared_words(settings: Settings) -> str:
    """What the compared setting changes: "seed = 3", "ρ = 1.2", "w = 1.1"."""
    words = []
    if settings.compare_seed is not None:
        words.append(f"seed = {settings.compare_seed}")
    if settings.compare_radius is not None:
        knob = "w" if settings.single_unit else "ρ"
        words.append(f"{knob} = {settings.compare_radius:g}")
    return ", ".join(words)


def compared_runs(settings: Settings):
    """The engine runs of the compared setting (``app.views.common.Runs``), or None."""
    other = settings.compared
    if other is None:
        return None
    from app.explorer.views.common import Runs

    return Runs(other)


def compared_lines(settings: Settings, steps: np.ndarray) -> list:
    """‖∂L/∂h_t‖ of every cell at the compared setting, long-dashed in the
    cell's colour, named "LSTM, ρ = 1.2"."""
    runs = compared_runs(settings)
    if runs is None:
        return []
    from app.charts import Line
    from app.compute import norms_over_time
    from app.explorer.views.common import colour, name

    words = compared_words(settings)
    return [
        Line(
            f"{name(kind)}, {words}",
            colour(kind),
            steps,
            norms_over_time(run.trace.grad_hidden)[steps],
            dash=COMPARED_DASH,
        )
        for kind, run in runs.finished()
    ]


def compare_note(settings: Settings) -> None:
    """The sentence beside the chart that says what the long-dashed lines are."""
    runs = compared_runs(settings)
    if runs is None:
        return
    from app.compute import gradient_ratio, norms_over_time
    from app.explorer.views.common import name
    from app.text import sci

    back = min(STEPS_BACK, settings.steps - 1)
    parts = []
    for kind, run in runs.finished():
        ratio = gradient_ratio(norms_over_time(run.trace.grad_hidden), back)
        parts.append(f"**{name(kind)}** {sci(ratio)}")
    text = (
        f"Long-dashed, in the same colours: the same cells with {compared_words(settings)}"
        " (the in-chart slider leaves them as they are)."
    )
    if parts and back > 0:
        steps = "1 step" if back == 1 else f"{back} steps"
        text += f" There, {steps} back holds " + "; ".join(parts) + " of the last step's."
    st.markdown(text)


def compare_controls(bar, chosen: dict, single_unit: bool, optional_number) -> None:
    """The sidebar's "compare with" toggles and numbers (``optional_number``:
    the sidebar's toggle-and-number pair)."""
    bar.header("Compare on one chart")
    knob = "w" if single_unit else "ρ"
    chosen["compare_seed"] = optional_number(
        bar,
        "compare_seed",
        toggle_label="Compare with another seed",
        label="Second seed",
        min_value=0,
        max_value=2**31 - 1,
        step=1,
        help="Draw the gradient-flow chart's cells again with this seed, long-dashed "
        "in the same colours.",
    )
    chosen["compare_radius"] = optional_number(
        bar,
        "compare_radius",
        toggle_label=f"Compare with another {knob}",
        label=f"Second {knob}",
        min_value=0.0,
        max_value=3.0,
        step=0.05,
        fmt="%g",
        help=f"Draw the gradient-flow chart's cells again with {knob} at this value, "
        "long-dashed in the same colours.",
    )


def extra_lines(settings: Settings, runs, steps: np.ndarray, kept=None) -> list:
    """Lines drawn after the cells' (the in-chart slider leaves them as they
    are): the matrix's analytic reference (``kept``: see ``slope_reference``)."""
    from app.charts import OKABE_ITO, Line

    lines = compared_lines(settings, steps)
    reference = slope_reference(settings, runs, kept)
    if reference is not None:
        lines.append(
            Line(
                reference_name(settings, reference),
                OKABE_ITO["black"],
                steps,
                reference.values[steps],
                dash="dash",
                width=2,
            )
        )
    return lines


def reference_note(settings: Settings, runs) -> None:
    """The sentence beside the chart that defines f̄′ with this run's numbers."""
    reference = slope_reference(settings, runs)
    if reference is None:
        return
    f = settings.activation
    drawn_in = "white" if settings.theme == "dark" else "black"  # style.restyle_colour
    st.markdown(
        f"Dashed {drawn_in}: what the Elman RNN's gradient would do if every step multiplied "
        f"it by the same ρ·f̄′ = {reference.radius:.3g} × {reference.slope:.3g} = "
        f"{reference.radius * reference.slope:.3g}, with ρ the spectral radius of its "
        f"W_hh and f̄′ the mean of {f}′(a_t) over its steps and units in this run, as "
        "the single unit's wⁿ. The in-chart slider leaves it at this ρ."
    )
