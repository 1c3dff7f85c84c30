"""What one rerun of the page may start: a work and memory budget, checked
before anything runs.

Every number of the budget is here. A rerun draws one tab; its work is the
engine runs of the cells shown (every tab, the sidebar's downloads and the
notices above the charts read them) and what that tab adds: the Jacobian
norms (*Why it vanishes*), the T × T map, the phase diagram's 31 runs, the
in-chart slider's 41. Each is estimated from the settings alone, by a cost
model (seconds of engine work, not a clock, so that one link gets the same
answer on a busy and an idle server) and by the sizes of the arrays it holds.

Beyond the budget nothing runs: the page says so in a sentence and offers
the nearest settings that fit, each changing one thing (fewer cells, a
shorter T, a smaller H, one direction, another tab). The in-chart slider and
the T × T map are extras: when they do not fit, the tab is drawn without
them and says why.

Pure functions of ``Settings``; ``app.budget_notice`` draws the verdict.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

from app.compute import GATE_BLOCKS, CellSpec, cell_spec
from app.explorer.state import FIELD_BY_NAME, Settings
from app.links import CELL_NAMES
from app.sweeps import (
    PHASE_BATCH,
    PHASE_RADII,
    SENSITIVITY_MAX_T,
    estimated_seconds,
    scrub_values,
    sensitivity_feasible,
    sensitivity_rows_per_run,
)
from engine import jacobian

# ---- the budget ---------------------------------------------------------------------------
# One rerun: engine work (seconds by the cost model) and the arrays it holds at once.
RERUN_SECONDS = 5.0
RERUN_BYTES = 800 * 2**20
# The in-chart slider's 41 runs are made after the page is drawn, one at a time,
# and any newer rerun stops them: they get a longer allowance of their own.
SLIDER_SECONDS = 20.0


def cache_share(text: str | None) -> float:
    """The share of the caches' bytes this process keeps: ``GFL_CACHE_SHARE``,
    a number in (0, 1]; 1 when unset or unusable. ``make classroom`` gives
    each of its N replicas 1/N, so that N replicas hold what one process
    would."""
    try:
        share = float(text) if text else 1.0
    except ValueError:
        return 1.0
    return share if 0.0 < share <= 1.0 else 1.0


CACHE_SHARE = cache_share(os.environ.get("GFL_CACHE_SHARE"))


def _cache_mb(megabytes: int) -> int:
    return int(megabytes * 2**20 * CACHE_SHARE)


# Caches, in bytes: what a server holds for everyone, whatever it was asked.
CACHED_RUNS_BYTES = _cache_mb(640)  # app.cached.cell_run: whole runs, the newest first
NEWEST_RUNS_BYTES = _cache_mb(256)  # app.cached's runs kept for reuse (mostly the same arrays)
JACOBIAN_NORMS_BYTES = _cache_mb(8)  # app.cached.jacobian_norms: (T,) twice per entry
KNOB_NORMS_BYTES = _cache_mb(40)  # app.cached.knob_frames: the slider's frames, (V, T) × 3 and f̄′
SENSITIVITY_BYTES = _cache_mb(16)  # app.cached.sensitivity: (T, T) maps, T ≤ 300
PHASE_COLUMNS_BYTES = _cache_mb(16)  # app.cached.phase_columns: (K,) floats and bools per column
SLIDER_SWEEPS_BYTES = _cache_mb(48)  # app.views.slider_runs.SWEEPS: (41, T) × 3
SLIDER_FRAMES_BYTES = _cache_mb(48)  # app.views.slider_runs.FRAMES: the frames as drawn
CACHE_BYTES = (
    CACHED_RUNS_BYTES
    + NEWEST_RUNS_BYTES
    + JACOBIAN_NORMS_BYTES
    + KNOB_NORMS_BYTES
    + SENSITIVITY_BYTES
    + PHASE_COLUMNS_BYTES
    + SLIDER_SWEEPS_BYTES
    + SLIDER_FRAMES_BYTES
)  # 1.05 GiB in all, times CACHE_SHARE

# ---- the cost model ---------------------------------------------------------------------
# Bytes a run holds at its peak, per step, sequence, hidden unit and direction,
# in float64s (measured with tracemalloc at T = 1000, H = 128: the trace, the
# forward record the Jacobian norms read, the gradients while they are summed).
FIELDS = {"rnn": 9, "jordan": 3, "gru": 20, "mgu": 15, "lstm": 27, "lstm_nofg": 23}
# The Jacobian norms per step, in the worst case (the iteration does not converge
# and every step's J_t is formed, S tangents of G·H² each, and decomposed, S³;
# see engine/jacobian.py), S = H or 2H for an LSTM; fitted on one core at
# H = 33 … 256 (GRU 18 ms, LSTM 59 ms a step at H = 256); plus a fixed cost
# per direction (the iteration's bookkeeping).
JACOBIAN_STEP_SECONDS = 1e-4
JACOBIAN_TANGENT_SECONDS = 2e-10  # × S·G·H²
JACOBIAN_SVD_SECONDS = 4e-10  # × S³
JACOBIAN_FIXED_SECONDS = 0.3
MAX_T = FIELD_BY_NAME["seq_len"].high
# A CSV row is about 40 characters; the JSON's values pass through Python floats
# and lists on their way to text.
DOWNLOAD_ROW_BYTES = 64


@dataclass(frozen=True)
class Cost:
    """Estimated engine work (seconds) and the most bytes it holds at once."""

    seconds: float = 0.0
    bytes: int = 0

    def __add__(self, other: Cost) -> Cost:
        return Cost(self.seconds + other.seconds, self.bytes + other.bytes)

    def fits(self, seconds: float = RERUN_SECONDS, size: int = RERUN_BYTES) -> bool:
        return self.seconds <= seconds and self.bytes <= size


def _directions(spec: CellSpec) -> int:
    return 2 if spec.bidirectional else 1


def trace_bytes(spec: CellSpec, batch: int = 1) -> int:
    """Peak bytes of one run: T × B × H × FIELDS × 8 per direction, and the
    parameters four times over (the model, the run's copy, ∂L/∂θ, clipped)."""
    G, H = len(GATE_BLOCKS[spec.kind]), spec.hidden_size
    per_direction = spec.steps * batch * H * FIELDS[spec.kind] * 8 + 4 * G * H * (H + 2) * 8
    return per_direction * _directions(spec)


def run_cost(spec: CellSpec, batch: int = 1) -> Cost:
    return Cost(estimated_seconds(spec, batch), trace_bytes(spec, batch))


def state_size(spec: CellSpec) -> int:
    return 2 * spec.hidden_size if spec.kind in ("lstm", "lstm_nofg") else spec.hidden_size


def jacobian_cost(spec: CellSpec, directions: int = 1) -> Cost:
    """The Jacobian norms of ``directions`` directions of one run, in the worst case."""
    S, G, H = state_size(spec), len(GATE_BLOCKS[spec.kind]), spec.hidden_size
    per_step = (
        JACOBIAN_STEP_SECONDS
        + JACOBIAN_TANGENT_SECONDS * S * G * H * H
        + JACOBIAN_SVD_SECONDS * S**3
    )
    seconds = directions * (JACOBIAN_FIXED_SECONDS + spec.steps * per_step)
    return Cost(seconds, jacobian.WORKING_BYTES)


def runs_cost(settings: Settings) -> Cost:
    """Every shown cell's run; all are held at once (the page reads each)."""
    total = Cost()
    for kind in settings.cells:
        total += run_cost(cell_spec(settings, kind))
    return total


def jacobians_cost(settings: Settings, both: bool = False) -> Cost:
    """The Jacobian norms of every cell (forward only, or ``both`` directions);
    one at a time, so their working memory counts once."""
    seconds = 0.0
    for kind in settings.cells:
        spec = cell_spec(settings, kind)
        seconds += jacobian_cost(spec, _directions(spec) if both else 1).seconds
    return Cost(seconds, jacobian.WORKING_BYTES)


def sensitivity_cost(settings: Settings) -> Cost | None:
    """The focus cell's T × T map (None: never drawn at this T)."""
    spec = cell_spec(settings, settings.focus_cell)
    if spec.steps > SENSITIVITY_MAX_T:
        return None
    spec = spec.replace(setup="many_to_many", clip=None)
    rows = sensitivity_rows_per_run(spec)
    chunks = math.ceil(spec.steps / rows)
    one = run_cost(spec, rows)
    return Cost(2 * chunks * one.seconds, 2 * one.bytes)  # two runs per chunk, both held


def phase_cost(settings: Settings) -> Cost:
    """The phase diagram: one batched run of the focus cell per column, one at a time."""
    spec = cell_spec(settings, settings.focus_cell)
    batch = PHASE_BATCH if spec.signal in ("noise", "impulse") else 1
    one = run_cost(spec, batch)
    return Cost(len(PHASE_RADII) * one.seconds, one.bytes)


def slider_cost(settings: Settings) -> Cost:
    """The in-chart slider's runs: 41 per cell, one at a time, beside the page's runs."""
    specs = [cell_spec(settings, kind) for kind in settings.cells]
    frames = len(scrub_values(specs[0]))
    seconds = frames * sum(estimated_seconds(spec) for spec in specs)
    return Cost(seconds, runs_cost(settings).bytes + max(trace_bytes(s) for s in specs))


def slider_fits(settings: Settings) -> bool:
    return settings.steps >= 2 and slider_cost(settings).fits(SLIDER_SECONDS)


def sensitivity_fits(settings: Settings) -> bool:
    """Whether the T × T map fits beside the rest of *Why it vanishes*."""
    if not sensitivity_feasible(cell_spec(settings, settings.focus_cell)):
        return False
    extra = sensitivity_cost(settings)
    return extra is not None and (view_cost(settings, WHY) + extra).fits()


def downloads_cost(settings: Settings) -> Cost:
    """The CSV or JSON file: every cell's run and Jacobian norms (both
    directions), and the file's text, built whole in memory."""
    from app.tidy import estimated_rows  # tidy reads the views: imported when asked

    text = Cost(0.0, estimated_rows(settings) * DOWNLOAD_ROW_BYTES)
    return runs_cost(settings) + jacobians_cost(settings, both=True) + text


def downloads_fit(settings: Settings) -> bool:
    return downloads_cost(settings).fits()


def runs_fit(settings: Settings) -> bool:
    """Whether the cells' runs, which every tab reads, fit."""
    return runs_cost(settings).fits()


# ---- verdicts -----------------------------------------------------------------------------
FLOW = "Gradient flow"
WHY = "Why it vanishes"
PHASE = "Phase diagram"
CHEAP_VIEW = "Backward sweep"  # needs nothing beyond the cells' runs


def view_cost(settings: Settings, view: str) -> Cost:
    """What drawing ``view`` must start (its extras left out)."""
    cost = runs_cost(settings)
    if view == FLOW and settings.compared is not None:  # the second setting's runs
        cost += runs_cost(settings.compared)
    if view == WHY:
        cost += jacobians_cost(settings)
    elif view == PHASE:
        cost += phase_cost(settings)
    return cost


@dataclass(frozen=True)
class Offer:
    """Settings near the refused ones that fit, and the button's words;
    ``view``: open this tab instead (the settings unchanged)."""

    label: str
    settings: Settings
    view: str | None = None


@dataclass(frozen=True)
class Verdict:
    """Whether ``view`` may be drawn with ``settings``; if not, its cost and offers.

    ``runs_fit``: whether the cells' runs alone fit (every tab needs them)."""

    settings: Settings
    view: str
    cost: Cost
    fits: bool
    runs_fit: bool
    offers: tuple[Offer, ...] = ()


def check(settings: Settings, view: str) -> Verdict:
    """The budget's verdict on drawing ``view`` with ``settings``, before any run."""
    cost = view_cost(settings, view)
    runs_fit = runs_cost(settings).fits()
    if cost.fits():
        return Verdict(settings, view, cost, True, runs_fit)
    return Verdict(settings, view, cost, False, runs_fit, tuple(nearest(settings, view)))


def nearest(settings: Settings, view: str) -> list[Offer]:
    """The nearest settings that fit ``view``, each changing one thing, every
    other setting kept; and, when the cells' runs fit, a tab that needs no more."""

    def fits(candidate: Settings) -> bool:
        return view_cost(candidate, view).fits()

    offers = []
    cells = _fewer_cells(settings, fits)
    if cells is not None:
        dropped = [kind for kind in settings.cells if kind not in cells.cells]
        if len(dropped) == 1:
            offers.append(Offer(f"Without the {_cell_names(dropped)}", cells))
        else:
            offers.append(Offer(f"Only the {_cell_names(cells.cells)}", cells))
    steps = _largest(settings, "seq_len", _nice_steps(settings.seq_len), fits)
    if steps is not None:
        offers.append(Offer(f"T = {steps.seq_len}", steps))
    if settings.weights is None:
        sizes = [h for h in (128, 64, 32, 16, 8, 4) if h < settings.hidden_size]
        size = _largest(settings, "hidden_size", sizes, fits)
        if size is not None:
            offers.append(Offer(f"H = {size.hidden_size}", size))
    if settings.bidirectional:
        one_way = settings.replace(bidirectional=False)
        if fits(one_way):
            offers.append(Offer("One direction", one_way))
    alone = settings.replace(compare_seed=None, compare_radius=None)
    if settings.compared is not None and fits(alone):
        offers.append(Offer("Without the comparison", alone))
    if view != CHEAP_VIEW and view_cost(settings, CHEAP_VIEW).fits():
        offers.append(Offer(f"Open “{CHEAP_VIEW}” instead", settings, CHEAP_VIEW))
    return offers


def _cell_names(cells) -> str:
    """ "Elman RNN", "Elman RNN and LSTM", "Elman RNN, GRU and LSTM"."""
    names = [CELL_NAMES[c] for c in cells]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _fewer_cells(settings: Settings, fits) -> Settings | None:
    """Drop the costliest cells, one at a time, until the rest fit (None if
    even one cell does not)."""
    cells = list(settings.cells)
    while len(cells) > 1:
        cost = {kind: _cell_cost(settings, kind) for kind in cells}
        cells.remove(max(cells, key=lambda kind: cost[kind]))
        candidate = settings.replace(cells=tuple(cells))
        if fits(candidate):
            return candidate
    return None


def _cell_cost(settings: Settings, kind: str) -> float:
    spec = cell_spec(settings, kind)
    return run_cost(spec).seconds + jacobian_cost(spec).seconds + trace_bytes(spec) / 1e8


def _largest(settings: Settings, name: str, values: list[int], fits) -> Settings | None:
    """``settings`` with field ``name`` at the first of ``values`` (largest
    first) that fits."""
    for value in values:
        candidate = settings.replace(**{name: value})
        if fits(candidate):
            return candidate
    return None


def _nice_steps(current: int) -> list[int]:
    """T values below ``current``, largest first, on a round grid (…, 1500,
    1000, 900, …, 100, 90, …, 10, 9, …, 2)."""
    values = [
        m * 10**e for e in range(4) for m in (1, 1.5, 2, 2.5, 3, 4, 5, 6, 7, 8, 9) if m * 10**e >= 2
    ]
    values = sorted({int(v) for v in values if v < current and v <= MAX_T}, reverse=True)
    return values
