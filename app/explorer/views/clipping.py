"""4. Clipping: each parameter's gradient norm before and after clipping, every
cell's global norm against θ, and the scale applied."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from app import panels
from app.compute import norms_over_time
from app.explorer.state import Settings
from app.explorer.views.common import TEXT_BESIDE, Runs, chart, colour, name
from app.text import latex_number, sci, text_column


def figures(settings: Settings, runs: Runs) -> dict[str, go.Figure]:
    """Every cell's global norm against θ and the focus cell's parameters."""
    out = {}
    finished = list(runs.finished())
    if finished:
        out["clipping_global"] = global_figure(settings, finished)
    parameters = parameters_figure(settings, runs)
    if parameters is not None:
        out["clipping_parameters"] = parameters
    return out


def global_figure(settings: Settings, finished) -> go.Figure:
    kinds = [k for k, _ in finished]
    norms = np.array([r.trace.grad_norm for _, r in finished])
    scaled = np.array([r.trace.grad_norm * r.trace.clip_scale for _, r in finished])
    return panels.global_norm_figure(
        [name(k) for k in kinds], norms, scaled, [colour(k) for k in kinds], threshold=settings.clip
    )


def _parameter_norms(settings: Settings, trace) -> tuple[list, np.ndarray, np.ndarray | None]:
    """Parameter names, (P,) gradient norms before clipping and (P,) after (or None)."""
    names = list(trace.grads)
    before = np.array([_norm(trace.grads[n]) for n in names])
    after = (
        None if settings.clip is None else np.array([_norm(trace.clipped_grads[n]) for n in names])
    )
    return names, before, after


def parameters_figure(settings: Settings, runs: Runs) -> go.Figure | None:
    """The focus cell's gradient per parameter (None if it could not run)."""
    kind = runs.focus
    run = runs.get(kind)
    if run.trace is None:
        return None
    names, before, after = _parameter_norms(settings, run.trace)
    return panels.clipping_bars_figure(
        names,
        before,
        after,
        colour=colour(kind),
        title=f"{name(kind)}: each parameter's gradient"
        + ("" if after is None else ", before and after clipping"),
    )


def render(settings: Settings, runs: Runs) -> None:
    finished = list(runs.finished())
    if not finished:
        st.info("No cell could run with these settings.")
        return

    left, right = st.columns(TEXT_BESIDE, gap="medium")
    with left:
        chart(global_figure(settings, finished), "clipping_global", settings, alone=True)
    with right:
        _explain_global(settings, finished)

    kind = runs.focus
    run = runs.get(kind)
    if run.trace is None:
        return
    left, right = st.columns(TEXT_BESIDE, gap="medium")
    names, before, _ = _parameter_norms(settings, run.trace)
    with left:
        chart(parameters_figure(settings, runs), "clipping_parameters", settings)
    with right:
        largest = names[int(np.nanargmax(np.where(np.isfinite(before), before, -1)))]
        text_column(
            "Clipping scales every parameter's gradient by the same factor, so the bars "
            "keep their proportions (on this log axis they all move down by the same "
            "distance) and the update keeps its direction.",
            f"The largest here is **{largest}**: "
            + (
                "the recurrent weights collect a term from every step, so an explosion "
                "shows there first."
                if largest.startswith("weight_hh")
                else "its gradient dominates the global norm."
            ),
        )


def _norm(g: np.ndarray) -> float:
    values = norms_over_time(np.ravel(g)[None, :])
    return float(values[0])


def _explain_global(settings: Settings, finished) -> None:
    theta = settings.clip
    if theta is None:
        text_column(
            "Clipping is off: these are the global gradient norms, ‖g‖ over all "
            "parameters together. Turn on *Clip the gradient norm* in the sidebar "
            "(Training tricks) to see θ and what clipping leaves.",
            latex=[r"\|g\| = \sqrt{\textstyle\sum_\theta \|\partial L/\partial\theta\|^2}"],
        )
        return
    kind, run = finished[0]
    n, scale = run.trace.grad_norm, run.trace.clip_scale
    lines = [
        f"**{name(k)}**: ‖g‖ = {sci(r.trace.grad_norm)}, scale {sci(r.trace.clip_scale)}"
        + (" (not clipped)" if r.trace.clip_scale == 1.0 else "")
        for k, r in finished
    ]
    text_column(
        f"When the global norm ‖g‖ exceeds θ = {theta:g}, every gradient is multiplied by "
        "θ/‖g‖, so the norm becomes θ. Clipping caps an explosion's step size; it cannot "
        "bring back a gradient that has vanished.",
        "  \n".join(lines),
        latex=[
            r"g \leftarrow g\cdot\min\Big(1, \frac{\theta}{\|g\| + 10^{-6}}\Big)",
            rf"\min\Big(1, \frac{{{theta:g}}}{{{latex_number(n)}}}\Big)",
            rf"= {latex_number(scale)}\ \ \text{{({name(kind)})}}",
        ],
    )
