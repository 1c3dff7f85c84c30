"""Many engine runs for one chart: the T × T sensitivity map, the in-chart
slider's sweep over one weight knob, and the phase diagram over ρ and lag.

The slider's frames and the phase diagram's columns are many models that
differ only in their weights: each chart runs them stacked (``engine.stack``),
in one or a few runs, with each model's result bit for bit its own run's.
The sensitivity map runs one model on a batch of sequences (rows).

Pure functions, as in ``app.compute`` (which builds each single run); the
app's caches (``app/cached.py``) key them on a ``CellSpec``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

import engine
from app.compute import (
    GATE_BLOCKS,
    CellSpec,
    build_model,
    finite_mean,
    make_inputs,
    make_targets,
    mean_slope,
    norms_over_time,
    run_cell,
)

SENSITIVITY_MAX_T = 300
SENSITIVITY_MAX_WORK = 6_000_000  # T · T · G·H: about a second on two cores
_SENSITIVITY_BUDGET = 3_000_000  # floats per batched run (T · B · G·H)


def sensitivity_feasible(spec: CellSpec) -> bool:
    """Whether the T × T map is cheap enough to draw (T ≤ 300, T²·G·H ≤ 6·10⁶)."""
    T, GH = spec.steps, len(GATE_BLOCKS[spec.kind]) * spec.hidden_size
    return T <= SENSITIVITY_MAX_T and T * T * GH <= SENSITIVITY_MAX_WORK


def sensitivity_rows_per_run(spec: CellSpec) -> int:
    """The batch of one of the T × T map's runs: its rows computed at once."""
    T, GH = spec.steps, len(GATE_BLOCKS[spec.kind]) * spec.hidden_size
    return max(1, min(T, _SENSITIVITY_BUDGET // (T * GH)))


def sensitivity_matrix(spec: CellSpec) -> np.ndarray | None:
    """(T, T) ‖∂L_t/∂h_s‖ over t (rows, the scored step) and s (columns).

    Bidirectional: the norm over both directions' states at position s.
    One batched run per chunk of rows: sequence b of the batch keeps the true
    target at step t_b and, everywhere else, the target y_t it produces itself,
    so that its error y_t − target_t, hence its gradient, comes from L_{t_b}
    alone. A first run of the same shape supplies those y_t.
    None when T > 300 or the run is refused.
    """
    T = spec.steps
    if not sensitivity_feasible(spec):
        return None
    spec_all = spec.replace(setup="many_to_many", clip=None)
    try:
        model = build_model(spec_all)
    except ValueError:
        return None
    rows_per_run = sensitivity_rows_per_run(spec)
    x1 = make_inputs(spec_all)
    target1 = make_targets(spec_all)
    matrix = np.full((T, T), np.nan)
    for start in range(0, T, rows_per_run):
        rows = np.arange(start, min(T, start + rows_per_run))
        B = rows.size
        x = np.repeat(x1[:, None, :], B, axis=1)
        targets = np.repeat(target1[:, None, :], B, axis=1)
        try:
            first = engine.simulate(model, x, targets, loss=spec.loss, scored="all")
            own = np.array(first.outputs, copy=True)  # (T, B, O)
            own[rows, np.arange(B)] = targets[rows, np.arange(B)]
            trace = engine.simulate(
                model, x, own, loss=spec.loss, scored="all", truncate=spec.truncation
            )
        except ValueError:
            return None
        with np.errstate(all="ignore"):
            grad = trace.grad_hidden * B  # L is the batch mean
            if trace.grad_hidden_reverse is not None:
                grad = np.concatenate([grad, trace.grad_hidden_reverse * B], axis=-1)
        matrix[rows] = norms_over_time(grad).T  # (B, T)
    return matrix


# Floats of T · B · G·H (per direction) one stacked run may hold per model, summed
# over its models: at T = 1000, H = 64 an LSTM stacks 3 models per run. Each
# such array is then at most 8 MB: a run's dozen of them fit where the last
# runs' freed ones were, where 24 MB ones needed fresh pages from the kernel
# on each thread's first run. The 41 frames of an LSTM at T = 320, H = 56:
# 161 ms on a fresh thread in 4 runs, 343 ms in one; 129 ms either way after.
STACK_BUDGET = 1_000_000


def stack_sizes(spec: CellSpec, count: int, batch: int = 1) -> list[int]:
    """How many of ``count`` models of ``spec`` each stacked run takes: as few
    runs as ``STACK_BUDGET`` allows, of near-equal sizes."""
    G = len(GATE_BLOCKS[spec.kind])
    per_model = spec.steps * batch * G * spec.hidden_size * (2 if spec.bidirectional else 1)
    runs = -(-count // max(1, STACK_BUDGET // per_model))
    return [len(part) for part in np.array_split(np.arange(count), runs)]


def stacked_trace(specs: list[CellSpec], batch: int | None = None, *, clip: bool = True):
    """One stacked engine run of the models of ``specs`` (which differ only in
    their weights), each on the first spec's input and targets, as
    ``run_cell`` (or, with a batch, ``phase_column``) runs it alone; model m
    is ``specs[m]``'s. Raises ValueError when a model or the run is refused."""
    first = specs[0]
    models = engine.stack([build_model(spec) for spec in specs])

    def per_model(array: np.ndarray) -> np.ndarray:  # a copy for each: no zero strides
        return np.repeat(array[:, None], len(specs), axis=1)

    return engine.simulate(
        models,
        per_model(make_inputs(first, batch)),
        per_model(make_targets(first, batch)),
        loss=first.loss,
        scored=first.scored,
        truncate=first.truncation,
        clip=first.clip if clip else None,
    )


def frame_norms(trace, m: int | None = None, activation: str = "tanh") -> tuple[np.ndarray, ...]:
    """One frame of the in-chart slider from a trace (model m of a stacked one):
    (T,) ‖∂L/∂h_t‖, (T,) the reverse direction's (nan if none), (T,) ‖∂L/∂c_t‖
    (nan if no cell state) and f̄′, the mean slope of ``activation`` over the
    run's states (``compute.mean_slope``; the Elman RNN's reference line reads
    it from the frame instead of a run of its own)."""

    def own(grad):  # (T, [M,] H) → (T, H)
        return grad if grad is None or m is None else grad[:, m]

    nan = np.full(trace.grad_hidden.shape[0], np.nan)
    reverse = norms_over_time(own(trace.grad_hidden_reverse))
    cell = norms_over_time(own(trace.grad_cell))
    return (
        norms_over_time(own(trace.grad_hidden)),
        nan if reverse is None else reverse,
        nan if cell is None else cell,
        np.float64(mean_slope(activation, own(trace.hidden))),
    )


FRAME_PARTS = 4  # what frame_norms gives


def knob_frames(spec: CellSpec, values) -> tuple[np.ndarray, ...]:
    """The in-chart slider's frames at the knob's ``values`` (w, or ρ), in one
    stacked run: (V, T) ‖∂L/∂h_t‖, (V, T) the reverse direction's, (V, T)
    ‖∂L/∂c_t‖ and (V,) f̄′, nan where there is none or a run is refused. Row v
    equals the run of ``spec`` with the knob at values[v] alone, bit for bit."""
    knob = knob_name(spec)
    specs = [spec.replace(**{knob: float(value)}) for value in values]
    try:
        trace = stacked_trace(specs)
    except ValueError:  # each on its own: some may run
        rows = [_frame_alone(one) for one in specs]
    else:
        rows = [frame_norms(trace, m, spec.activation) for m in range(len(specs))]
    return tuple(np.stack([row[j] for row in rows]) for j in range(FRAME_PARTS))


def _frame_alone(spec: CellSpec) -> tuple[np.ndarray, ...]:
    run = run_cell(spec)
    if run.trace is None:
        nan = np.full(spec.steps, np.nan)
        return nan, nan, nan, np.float64(np.nan)
    return frame_norms(run.trace, activation=spec.activation)


@dataclass(frozen=True)
class Sweep:
    """Gradient norms over a grid of one weight knob.

    values: (V,) the knob's values (w for H = 1, else the spectral radius).
    norms:  (V, T) ‖∂L/∂h_t‖ of the forward direction (nan where not finite).
    norms_reverse: (V, T) the reverse direction's, or None.
    """

    knob: str
    values: np.ndarray
    norms: np.ndarray
    norms_reverse: np.ndarray | None


BATCH_SHARE = 0.7  # each further sequence of a batch costs this share of the first's products


def estimated_seconds(spec: CellSpec, batch: int = 1) -> float:
    """About how long one engine run of ``spec`` takes on two cores: a fixed
    cost per step (NumPy calls) plus the matrix products, G·H² per step and
    sequence (a batch of B shares them: 1 + 0.7·(B − 1), measured at B = 4
    and 32). Fitted to runs of T = 100 … 2000, H = 16 … 256; a model, not a
    clock, so that what the app offers does not depend on how busy the
    machine was (``app.budget`` holds what a page may spend)."""
    G = len(GATE_BLOCKS[spec.kind])
    per_step = 3e-5 + 8e-10 * G * spec.hidden_size**2 * (1 + BATCH_SHARE * (batch - 1))
    return spec.steps * per_step * (2 if spec.bidirectional else 1)


def knob_name(spec: CellSpec) -> str:
    return "recurrent_weight" if spec.single_unit else "spectral_radius"


def sweep(spec: CellSpec, values: np.ndarray) -> Sweep:
    """One run per value of the knob (the single-unit weight w, or ρ)."""
    knob = knob_name(spec)
    values = np.asarray(values, dtype=np.float64)
    norms, norms_reverse = [], []
    for value in values:
        run = run_cell(spec.replace(**{knob: float(value), "recurrent_matrix": None}))
        T = spec.steps
        if run.trace is None:
            norms.append(np.full(T, np.nan))
            norms_reverse.append(np.full(T, np.nan))
            continue
        norms.append(norms_over_time(run.trace.grad_hidden))
        reverse = norms_over_time(run.trace.grad_hidden_reverse)
        norms_reverse.append(np.full(T, np.nan) if reverse is None else reverse)
    return Sweep(
        knob,
        values,
        np.array(norms),
        np.array(norms_reverse) if spec.bidirectional else None,
    )


RADIUS_STEP = 0.05  # the sidebar's ρ slider moves on the in-chart slider's grid


def scrub_values(spec: CellSpec) -> np.ndarray:
    """The in-chart slider's grid: w in 0.80 … 1.20 by 0.01 (41 values, the
    notes' 0.9 and 1.1 among them) or ρ in 0 … 2 by RADIUS_STEP (41 values)."""
    if spec.single_unit:
        return np.round(np.linspace(0.8, 1.2, 41), 2)
    return np.round(np.arange(41) * RADIUS_STEP, 2)


PHASE_RADII = np.round(np.linspace(0.0, 3.0, 31), 2)
PHASE_MAX_LAG = 300
PHASE_BATCH = 4


def phase_lags(spec: CellSpec) -> np.ndarray:
    """(K,) the lags k = 0 … min(T, 300) − 1 of the phase diagram."""
    return np.arange(min(spec.steps, PHASE_MAX_LAG))


def phase_column(spec: CellSpec, radius: float) -> tuple[np.ndarray, np.ndarray]:
    """One column of the phase diagram: the knob (ρ, or w for H = 1) at ``radius``.

    One batched run: the chosen signal over a batch of 4 independent draws
    when it is random (one sequence otherwise). Returns (K,) the batch mean of
    log10 ‖∂L/∂h_{T−1−k}‖ (nan where no draw is finite and non-zero) and (K,)
    True where some draw overflowed.
    """
    return phase_columns(spec, [radius])[0]


def _phase_batch(spec: CellSpec) -> int:
    return PHASE_BATCH if spec.signal in ("noise", "impulse") else 1


def _at_radius(spec: CellSpec, radius: float) -> CellSpec:
    return spec.replace(
        spectral_radius=float(radius), recurrent_matrix=None, recurrent_weight=float(radius)
    )


def phase_columns(spec: CellSpec, radii) -> list[tuple[np.ndarray, np.ndarray]]:
    """The phase diagram's columns at ``radii`` (see ``phase_column``), in one
    stacked run of the R models; each equals its own run's, bit for bit."""
    specs = [_at_radius(spec, r) for r in radii]
    try:
        trace = stacked_trace(specs, _phase_batch(spec), clip=False)
    except ValueError:  # each on its own: some may run
        return [_phase_alone(one) for one in specs]
    return [_column(spec, trace.grad_hidden[:, m]) for m in range(len(specs))]


def _phase_alone(one: CellSpec) -> tuple[np.ndarray, np.ndarray]:
    batch = _phase_batch(one)
    try:
        trace = engine.simulate(
            build_model(one),
            make_inputs(one, batch),
            make_targets(one, batch),
            loss=one.loss,
            scored=one.scored,
            truncate=one.truncation,
        )
    except ValueError:
        lags = phase_lags(one)
        return np.full(lags.size, np.nan), np.zeros(lags.size, dtype=bool)
    return _column(one, trace.grad_hidden)


def _column(spec: CellSpec, grad_hidden: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A column from one model's ∂L/∂h_t (T, B, H)."""
    lags = phase_lags(spec)
    with np.errstate(all="ignore"):
        # (T, B); L is the batch mean
        norms = norms_over_time(grad_hidden * _phase_batch(spec))
        back = norms[spec.steps - 1 - lags]  # (K, B)
        logs = np.log10(back)
    return finite_mean(logs, axis=1), (~np.isfinite(back)).any(axis=1)


@dataclass(frozen=True)
class PhaseDiagram:
    """log10 ‖∂L/∂h_{T−1−k}‖ over the knob (columns) and the lag k (rows).

    radii: (R,); lags: (K,); log_norm: (K, R); overflow: (K, R) bool.
    """

    radii: np.ndarray
    lags: np.ndarray
    log_norm: np.ndarray
    overflow: np.ndarray


def phase_diagram(spec: CellSpec, radii: np.ndarray = PHASE_RADII) -> PhaseDiagram:
    """Every column of the phase diagram (see ``phase_column``), in as few
    stacked runs as ``STACK_BUDGET`` allows."""
    columns, start = [], 0
    for size in stack_sizes(spec, len(radii), _phase_batch(spec)):
        columns += phase_columns(spec, radii[start : start + size])
        start += size
    return PhaseDiagram(
        np.asarray(radii),
        phase_lags(spec),
        np.stack([c[0] for c in columns], axis=1),
        np.stack([c[1] for c in columns], axis=1),
    )
