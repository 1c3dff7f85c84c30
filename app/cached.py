"""Streamlit's caches around ``app.compute``: only what changed is recomputed.

Each entry is keyed on a ``CellSpec`` (one cell's part of the settings), so
adding a cell, choosing another focus cell or moving a control that one cell
ignores reuses every other cell's run. Traces are large and read-only, so
they live in ``st.cache_resource`` (shared, not copied on each hit); small
derived arrays in ``st.cache_data``.
"""

from __future__ import annotations

import threading

import numpy as np
import streamlit as st

from app import compute, sweeps
from app.compute import CellRun, CellSpec

# A run kept here after the cache evicted it still holds its arrays (tens of
# MB at T = 1000, H = 128): enough for a few people's cells, not more.
LATEST_KEPT = 12
_latest: dict[CellSpec, CellRun] = {}  # forward_key(spec) → the newest run of such a spec
_latest_lock = threading.Lock()


@st.cache_resource(max_entries=16, show_spinner=False)
def cell_run(spec: CellSpec) -> CellRun:
    """The engine run of one cell (see ``compute.run_cell``).

    The newest run that differs only in what the forward sweep does not read
    (T, set-up, truncation, clipping) is handed to the engine to reuse: moving
    T by a step then costs one backward sweep and one forward step."""
    key = forward_key(spec)
    with _latest_lock:
        earlier = _latest.get(key)
    run = compute.run_cell(spec, reuse=earlier)
    if run.trace is not None:
        with _latest_lock:
            _latest.pop(key, None)
            _latest[key] = run
            while len(_latest) > LATEST_KEPT:
                del _latest[next(iter(_latest))]
    return run


def forward_key(spec: CellSpec) -> CellSpec:
    """``spec`` without what only the backward sweep reads. T goes too: a run
    with another T still shares its first steps (the signals are the same
    sequence cut at T). The engine checks that a run it is given fits."""
    return spec.replace(steps=0, setup="many_to_one", truncation=None, clip=None)


@st.cache_data(max_entries=64, show_spinner=False)
def jacobian_norms(spec: CellSpec) -> tuple[np.ndarray | None, np.ndarray | None]:
    """(T,) ‖∂s_t/∂s_{t−1}‖ of the forward direction and (T,) of the reverse
    one (or None): the trace computes them when first read."""
    run = cell_run(spec)
    if run.trace is None:
        return None, None
    return (
        np.asarray(run.trace.state_jacobian_norm),
        None
        if run.trace.state_jacobian_norm_reverse is None
        else np.asarray(run.trace.state_jacobian_norm_reverse),
    )


@st.cache_data(max_entries=256, show_spinner=False)
def _drawn_radius(spec: CellSpec) -> float:
    return compute.drawn_radius(spec)


def drawn_radius(spec: CellSpec) -> float:
    """ρ(W_hh) as drawn; keyed only on what the draw depends on."""
    return _drawn_radius(compute.draw_key(spec))


def knob_free(spec: CellSpec) -> CellSpec:
    """``spec`` without the knob the in-chart slider sweeps (w, or ρ and W_hh);
    setting the knob again gives back ``spec`` itself when W_hh is not edited."""
    if spec.single_unit:
        return spec.replace(recurrent_weight=0.0)
    return spec.replace(spectral_radius=None, recurrent_matrix=None)


@st.cache_data(max_entries=800, show_spinner=False)
def knob_norms(spec: CellSpec, value: float) -> tuple[np.ndarray, ...]:
    """One frame of the in-chart slider: gradient norms with the knob at ``value``.

    Returns (T,) ‖∂L/∂h_t‖, (T,) the reverse direction's (nan if none) and
    (T,) ‖∂L/∂c_t‖ (nan if no cell state).
    """
    knob = sweeps.knob_name(spec)
    run = compute.run_cell(spec.replace(**{knob: float(value)}))
    nan = np.full(spec.steps, np.nan)
    if run.trace is None:
        return nan, nan, nan
    trace = run.trace
    reverse = compute.norms_over_time(trace.grad_hidden_reverse)
    cell = compute.norms_over_time(trace.grad_cell)
    return (
        compute.norms_over_time(trace.grad_hidden),
        nan if reverse is None else reverse,
        nan if cell is None else cell,
    )


@st.cache_data(max_entries=16, show_spinner=False)
def sensitivity(spec: CellSpec) -> np.ndarray | None:
    """(T, T) ‖∂L_t/∂h_s‖ (see ``sweeps.sensitivity_matrix``)."""
    return sweeps.sensitivity_matrix(spec)


@st.cache_data(max_entries=2000, show_spinner=False)
def phase_column(spec: CellSpec, radius: float) -> tuple[np.ndarray, np.ndarray]:
    """One column of the phase diagram; ``spec`` is passed through ``knob_free``."""
    return sweeps.phase_column(spec, radius)
