"""Streamlit's caches around ``app.compute``: only what changed is recomputed.

Each entry is keyed on a ``CellSpec`` (one cell's part of the settings), so
adding a cell, choosing another focus cell or moving a control that one cell
ignores reuses every other cell's run. Traces are large and read-only, so
they live in ``st.cache_resource`` (shared, not copied on each hit); small
derived arrays in ``st.cache_data``.
"""

from __future__ import annotations

import functools
import threading

import numpy as np
import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

from app import compute, sweeps
from app.compute import CellRun, CellSpec


class NewestRuns:
    """The newest run of each forward key, oldest dropped first once their
    arrays pass ``budget`` bytes (the newest is always kept).

    A budget in bytes, not a count: one run at T = 2000, H = 256 holds more
    than a hundred runs at the default settings. Each run may name an owner
    (a session's cell): when that owner puts a run under another key, the
    key it held is dropped unless another owner holds it too. Someone moving
    ρ leaves behind a key no one will ask for again; without owners those
    pushed out the runs of people moving T. Runs the cache still holds share
    their arrays with it; the budget bounds what is kept after it dropped them."""

    def __init__(self, budget: int) -> None:
        self.budget = budget
        self._runs: dict[CellSpec, tuple[CellRun, int]] = {}  # oldest first
        self._owners: dict[CellSpec, set] = {}
        self._owned: dict[object, CellSpec] = {}
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, key: CellSpec) -> CellRun | None:
        with self._lock:
            entry = self._runs.get(key)
        return None if entry is None else entry[0]

    def put(self, key: CellSpec, run: CellRun, owner: object = None) -> None:
        size = held_bytes(run)
        with self._lock:
            if owner is not None:
                left = self._owned.get(owner)
                if left is not None and left != key:
                    self._owners[left].discard(owner)
                    if not self._owners[left]:
                        self._drop(left)
                self._owned[owner] = key
                self._owners.setdefault(key, set()).add(owner)
            _, before = self._runs.pop(key, (None, 0))
            self._bytes += size - before
            self._runs[key] = (run, size)
            while self._bytes > self.budget and len(self._runs) > 1:
                self._drop(next(iter(self._runs)))

    def _drop(self, key: CellSpec) -> None:
        _, size = self._runs.pop(key, (None, 0))
        self._bytes -= size
        for owner in self._owners.pop(key, ()):
            if self._owned.get(owner) == key:
                del self._owned[owner]

    def __len__(self) -> int:
        return len(self._runs)

    @property
    def bytes(self) -> int:
        return self._bytes


def held_bytes(obj) -> int:
    """Bytes of the NumPy buffers ``obj`` reaches through containers, the
    engine's and app's objects and partial functions; each buffer once, however
    many views of it there are."""
    seen, total, todo = set(), 0, [obj]
    while todo:
        item = todo.pop()
        if id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, np.ndarray):
            root = item
            while isinstance(root.base, np.ndarray):
                root = root.base
            if root is not item and id(root) in seen:
                continue
            seen.add(id(root))
            total += root.nbytes
        elif isinstance(item, dict):
            todo.extend(item.values())
        elif isinstance(item, list | tuple):
            todo.extend(item)
        elif isinstance(item, functools.partial):
            todo.extend(item.args)
            todo.extend(item.keywords.values())
        elif type(item).__module__.split(".")[0] in ("engine", "app"):
            todo.extend(getattr(item, "__dict__", {}).values())
    return total


NEWEST_RUNS_BYTES = 256 * 2**20
_newest = NewestRuns(NEWEST_RUNS_BYTES)  # forward_key(spec) → the newest run of such a spec


@st.cache_resource(max_entries=16, show_spinner=False)
def cell_run(spec: CellSpec) -> CellRun:
    """The engine run of one cell (see ``compute.run_cell``).

    The newest run that differs only in what the forward sweep does not read
    (T, set-up, truncation, clipping) is handed to the engine to reuse: moving
    T by a step then costs one backward sweep and one forward step."""
    key = forward_key(spec)
    run = compute.run_cell(spec, reuse=_newest.get(key))
    if run.trace is not None:
        _newest.put(key, run, owner=_session_cell(spec))
    return run


def _session_cell(spec: CellSpec) -> tuple[str, str] | None:
    """(session id, cell kind) of the rerun asking; None outside a session."""
    context = get_script_run_ctx()
    return None if context is None else (context.session_id, spec.kind)


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


@st.cache_data(max_entries=200, show_spinner=False)
def knob_frames(spec: CellSpec, values: tuple[float, ...]) -> tuple[np.ndarray, ...]:
    """Frames of the in-chart slider with the knob at ``values``, one stacked
    run (see ``sweeps.knob_frames``): (V, T) ‖∂L/∂h_t‖, the reverse
    direction's and ‖∂L/∂c_t‖."""
    return sweeps.knob_frames(spec, values)


@st.cache_data(max_entries=16, show_spinner=False)
def sensitivity(spec: CellSpec) -> np.ndarray | None:
    """(T, T) ‖∂L_t/∂h_s‖ (see ``sweeps.sensitivity_matrix``)."""
    return sweeps.sensitivity_matrix(spec)


@st.cache_data(max_entries=200, show_spinner=False)
def phase_columns(spec: CellSpec, radii: tuple[float, ...]) -> list[tuple[np.ndarray, np.ndarray]]:
    """Columns of the phase diagram, one stacked run (see ``sweeps.phase_columns``);
    ``spec`` is passed through ``knob_free``."""
    return sweeps.phase_columns(spec, radii)
