"""The in-chart slider's runs: made once the page is drawn, kept for every
session, and reported on a progress line while they are made."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable

import numpy as np

from app import budget, cached, sweeps
from app.cached import KEPT_ENTRIES, Kept

PROGRESS_SECONDS = 0.25  # between two writes of the progress line (see Progress)


# knob-free CellSpec → its frames' norms (see make_sweeps)
SWEEPS = Kept(KEPT_ENTRIES, budget.SLIDER_SWEEPS_BYTES)
# (knob-free specs, lines, T) → flow_chart.ScrubParts
FRAMES = Kept(KEPT_ENTRIES, budget.SLIDER_FRAMES_BYTES)


def make_sweeps(status, specs: dict, sweeps: dict, values: np.ndarray) -> None:
    """Make the in-chart slider's missing runs into ``sweeps`` and keep them."""
    total, done = len(values) * len(specs), 0
    # a newer rerun can only stop this loop between two status updates
    progress = Progress(status, total)
    # No pause for the browser to draw the page first: the runs are made in
    # the worker process (app/worker.py), and leave this one free to send it.
    TURNS.wait(progress.waiting, PROGRESS_SECONDS)  # where a newer rerun can stop it
    try:
        for kind, spec in specs.items():
            if sweeps[kind] is None:
                sweeps[kind] = SWEEPS.get(spec)  # made by another session meanwhile?
            if sweeps[kind] is None:
                sweeps[kind] = _sweep(spec, values, progress, done)
                SWEEPS.put(spec, sweeps[kind])
            done += len(values)
    finally:
        TURNS.done()
    status.empty()


class Turns:
    """A lock that serves the threads waiting for it in the order they came."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._line: deque[threading.Event] = deque()  # the waiting threads' turns
        self._taken = False

    def idle(self) -> bool:
        """Whether no thread has its turn or waits for one."""
        return not self._taken

    def wait(self, meanwhile: Callable[[], None], every: float) -> None:
        """Wait for this thread's turn, calling ``meanwhile`` every ``every``
        seconds; what it raises leaves the line (and passes on a turn that
        came meanwhile)."""
        turn = threading.Event()
        with self._lock:
            if not self._taken:
                self._taken = True
                return
            self._line.append(turn)
        try:
            while not turn.wait(every):
                meanwhile()
        except BaseException:
            with self._lock:
                if turn.is_set():
                    self._pass_on()
                else:
                    self._line.remove(turn)
            raise

    def done(self) -> None:
        """End this thread's turn: the next in line has it."""
        with self._lock:
            self._pass_on()

    def _pass_on(self) -> None:
        if self._line:
            self._line.popleft().set()  # still taken: handed over
        else:
            self._taken = False


# One session's slider runs at a time in this process, in the order asked
# (``Turns``): the worker makes one run at a time anyway, and a session that
# waited finds kept the runs another has just made (forty students on one link
# ask for the same ones). It began as the cure for a GIL convoy, when the runs
# were made in the server's threads: side by side, each of their NumPy calls
# waited for the GIL behind every session drawing its page (a 43 ms LSTM sweep
# took 19 s beside a thread running Python alone).
TURNS = Turns()


class Progress:
    """The line under the chart while the in-chart slider's runs are computed.

    Written at most every PROGRESS_SECONDS and never in the first: each write
    is a message the browser renders, and a burst of them arrived while it
    was drawing the new chart above. A write is also where a newer rerun can
    stop the runs, so it may wait that long (and one run) to start."""

    def __init__(self, status, total: int) -> None:
        self._status, self._total = status, total
        self._last = time.monotonic()

    def waiting(self) -> None:
        self._status.caption(
            "Preparing the slider under the chart: waiting for another session's runs…"
        )

    def ran(self, done: int) -> None:
        now = time.monotonic()
        if now - self._last >= PROGRESS_SECONDS:
            self._last = now
            self._status.caption(
                f"Preparing the slider under the chart: {done} of {self._total} runs…"
            )


def _sweep(spec, values, progress: Progress, done: int) -> tuple[np.ndarray, ...]:
    """(V, T) norms of ∂L/∂h_t, of the backward direction's and of ∂L/∂c_t, and
    (V,) f̄′, one row per knob value. The V models run stacked, in as few runs as memory
    allows (``sweeps.stack_sizes``); each run is cached on its own, and
    ``progress`` is told after each, so a newer rerun can stop this loop and
    resume it."""
    parts, start = [], 0
    for size in sweeps.stack_sizes(spec, len(values)):
        chunk = tuple(float(v) for v in values[start : start + size])
        parts.append(
            cached.knob_frames(
                spec, chunk, lambda at=done + start: progress.ran(at), PROGRESS_SECONDS
            )
        )
        start += size
        progress.ran(done + start)
    return tuple(np.concatenate([part[j] for part in parts]) for j in range(sweeps.FRAME_PARTS))
