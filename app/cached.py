"""Streamlit's caches around ``app.compute``: only what changed is recomputed.

Each entry is keyed on a ``CellSpec`` (one cell's part of the settings), so
adding a cell, choosing another focus cell or moving a control that one cell
ignores reuses every other cell's run. Traces are large and read-only, so
they live in a ``RunStore`` (shared, not copied on each hit) bounded in bytes;
small derived arrays in ``st.cache_data``, each with as many entries as its
largest entry fits in its byte budget. The budgets are ``app.budget``'s.
"""

from __future__ import annotations

import functools
import threading
from collections import OrderedDict
from collections.abc import Callable

import numpy as np
import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

from app import budget, compute, sweeps, worker
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


def held_bytes(obj, strings: bool = False) -> int:
    """Bytes of the NumPy buffers ``obj`` reaches through containers, the
    engine's and app's objects and partial functions; each buffer once, however
    many views of it there are. ``strings``: text and bytes count too (a
    figure's arrays travel as base64 text)."""
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
        elif strings and isinstance(item, str | bytes):
            total += len(item)
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


class RunStore:
    """Runs by spec, shared by every session; the least recently used dropped
    first once their arrays pass ``budget`` bytes. A run larger than the whole
    budget is not kept. ``lock_for`` gives one lock per spec (of a fixed pool),
    so that forty students opening one link compute its run once."""

    LOCKS = 64

    def __init__(self, budget: int) -> None:
        self.budget = budget
        self._runs: OrderedDict[CellSpec, tuple[CellRun, int]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self._locks = [threading.Lock() for _ in range(self.LOCKS)]

    def get(self, key: CellSpec) -> CellRun | None:
        with self._lock:
            entry = self._runs.get(key)
            if entry is None:
                return None
            self._runs.move_to_end(key)
            return entry[0]

    def put(self, key: CellSpec, run: CellRun) -> None:
        size = held_bytes(run)
        with self._lock:
            _, before = self._runs.pop(key, (None, 0))
            self._bytes -= before
            if size > self.budget:
                return
            self._runs[key] = (run, size)
            self._bytes += size
            while self._bytes > self.budget:
                _, (_, dropped) = self._runs.popitem(last=False)
                self._bytes -= dropped

    def lock_for(self, key: CellSpec) -> threading.Lock:
        return self._locks[hash(key) % self.LOCKS]

    def clear(self) -> None:
        with self._lock:
            self._runs.clear()
            self._bytes = 0

    def __len__(self) -> int:
        return len(self._runs)

    @property
    def bytes(self) -> int:
        return self._bytes


NEWEST_RUNS_BYTES = budget.NEWEST_RUNS_BYTES
_newest = NewestRuns(NEWEST_RUNS_BYTES)  # forward_key(spec) → the newest run of such a spec
_runs = RunStore(budget.CACHED_RUNS_BYTES)  # spec → its run


def cell_run(spec: CellSpec) -> CellRun:
    """The engine run of one cell (see ``compute.run_cell``), from the store.

    The newest run that differs only in what the forward sweep does not read
    (T, set-up, truncation, clipping) is handed to the engine to reuse: moving
    T by a step then costs one backward sweep and one forward step."""
    run = _runs.get(spec)
    if run is not None:
        return run
    with _runs.lock_for(spec):
        run = _runs.get(spec)  # made meanwhile by another session?
        if run is None:
            key = forward_key(spec)
            run = compute.run_cell(spec, reuse=_newest.get(key))
            if run.trace is not None:
                _newest.put(key, run, owner=_session_cell(spec))
            _runs.put(spec, run)
    return run


cell_run.clear = _runs.clear  # as st.cache_resource's functions have


def _session_cell(spec: CellSpec) -> tuple[str, str] | None:
    """(session id, cell kind) of the rerun asking; None outside a session."""
    context = get_script_run_ctx()
    return None if context is None else (context.session_id, spec.kind)


def forward_key(spec: CellSpec) -> CellSpec:
    """``spec`` without what only the backward sweep reads. T goes too: a run
    with another T still shares its first steps (the signals are the same
    sequence cut at T). The engine checks that a run it is given fits."""
    return spec.replace(steps=0, setup="many_to_one", truncation=None, clip=None)


def _entries(budget_bytes: int, entry_bytes: int) -> int:
    """How many entries of at most ``entry_bytes`` fit in ``budget_bytes``."""
    return max(1, budget_bytes // entry_bytes)


MAX_T = budget.MAX_T
JACOBIAN_ENTRIES = _entries(budget.JACOBIAN_NORMS_BYTES, 2 * MAX_T * 8)
SENSITIVITY_ENTRIES = _entries(budget.SENSITIVITY_BYTES, sweeps.SENSITIVITY_MAX_T**2 * 8)
PHASE_ENTRIES = _entries(budget.PHASE_COLUMNS_BYTES, sweeps.PHASE_MAX_LAG * (8 + 1))


@st.cache_data(max_entries=JACOBIAN_ENTRIES, show_spinner=False)
def jacobian_norms(
    spec: CellSpec, reverse: bool = False
) -> tuple[np.ndarray | None, np.ndarray | None]:
    """(T,) ‖∂s_t/∂s_{t−1}‖ of the forward direction and, if ``reverse``, (T,)
    of the reverse one (else None: each direction costs as much as the other).
    The trace computes them when first read."""
    run = cell_run(spec)
    if run.trace is None:
        return None, None
    backward = run.trace.state_jacobian_norm_reverse if reverse else None
    return (
        np.asarray(run.trace.state_jacobian_norm),
        None if backward is None else np.asarray(backward),
    )


def drawn_radius(spec: CellSpec) -> float:
    """ρ(W_hh) as drawn; keyed only on what the draw depends on. Not through
    ``st.cache_data``: ``compute`` keeps the draws' radii itself, and the
    Streamlit cache's hashing of the spec and copy of the answer cost 0.3 ms
    a call where the lookup costs 8 µs, five times a rerun."""
    return compute.drawn_radius(spec)


def knob_free(spec: CellSpec) -> CellSpec:
    """``spec`` without the knob the in-chart slider sweeps (w, or ρ and W_hh);
    setting the knob again gives back ``spec`` itself when W_hh is not edited."""
    if spec.single_unit:
        return spec.replace(recurrent_weight=0.0)
    return spec.replace(spectral_radius=None, recurrent_matrix=None)


# Kept's bound on entries: far above what a budget in bytes holds of small
# entries. Forty students on one replica keep two cells' slider runs each in
# flight; at 24 entries (and, for knob_frames, st.cache_data's entries sized
# for T = 2000: 5 of them on a classroom replica) one student's runs were
# gone before the chart was drawn again with them, and were made again.
KEPT_ENTRIES = 4096


class Kept:
    """The last few values by key, shared by every session (hence the lock):
    at most ``size`` of them, and the oldest dropped first once their arrays
    pass ``budget`` bytes (the newest is always kept)."""

    def __init__(self, size: int, budget: int | None = None) -> None:
        self._items: OrderedDict = OrderedDict()
        self._size = size
        self._budget = budget
        self._bytes: dict = {}
        self._lock = threading.Lock()

    def get(self, key):
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
            return self._items.get(key)

    def put(self, key, value) -> None:
        size = held_bytes(value, strings=True)
        with self._lock:
            self._items.pop(key, None)
            self._items[key] = value
            self._bytes[key] = size
            while len(self._items) > 1 and (
                len(self._items) > self._size
                or (self._budget is not None and sum(self._bytes.values()) > self._budget)
            ):
                dropped, _ = self._items.popitem(last=False)
                del self._bytes[dropped]

    @property
    def bytes(self) -> int:
        return sum(self._bytes.values())


_knob_frames = Kept(KEPT_ENTRIES, budget.KNOB_NORMS_BYTES)


def knob_frames(
    spec: CellSpec, values: tuple[float, ...], meanwhile: Callable[[], None], every: float
) -> tuple[np.ndarray, ...]:
    """Frames of the in-chart slider with the knob at ``values``, one stacked
    run (see ``sweeps.knob_frames``): (V, T) ‖∂L/∂h_t‖, the reverse
    direction's, ‖∂L/∂c_t‖ and (V,) f̄′. Kept for every session, shared (read
    only), the oldest dropped once they pass their bytes.

    Made in the worker process (``app.worker``), ``meanwhile()`` called every
    ``every`` seconds while it runs; runs of uploaded weights, which this
    process holds, are made here."""
    key = (spec, values)
    frames = _knob_frames.get(key)
    if frames is not None:
        return frames
    if spec.weights is not None:
        frames = sweeps.knob_frames(spec, values)
        _knob_frames.put(key, frames)
        return frames
    return worker.WORKER.run(
        key,
        sweeps.knob_frames,
        spec,
        values,
        meanwhile=meanwhile,
        every=every,
        kept=lambda made: _knob_frames.put(key, made),
    )


@st.cache_data(max_entries=SENSITIVITY_ENTRIES, show_spinner=False)
def sensitivity(spec: CellSpec) -> np.ndarray | None:
    """(T, T) ‖∂L_t/∂h_s‖ (see ``sweeps.sensitivity_matrix``)."""
    return sweeps.sensitivity_matrix(spec)


@st.cache_data(max_entries=max(1, PHASE_ENTRIES // 31), show_spinner=False)
def phase_columns(spec: CellSpec, radii: tuple[float, ...]) -> list[tuple[np.ndarray, np.ndarray]]:
    """Columns of the phase diagram, one stacked run (see ``sweeps.phase_columns``);
    ``spec`` is passed through ``knob_free``."""
    return sweeps.phase_columns(spec, radii)
