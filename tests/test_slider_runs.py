"""The in-chart slider's runs under many sessions: one session's at a time in
a process, and none made twice when another session has just made them."""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from app import cached  # noqa: E402
from app.compute import cell_spec  # noqa: E402
from app.explorer.state import Settings  # noqa: E402
from app.explorer.views import slider_runs  # noqa: E402
from app.sweeps import scrub_values  # noqa: E402


class Status:
    """What ``make_sweeps`` writes on the progress line, in order."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def caption(self, text: str) -> None:
        self.lines.append(text)

    def empty(self) -> None:
        self.lines.append("")


def test_a_session_waits_for_another_sessions_runs_and_takes_them(monkeypatch):
    monkeypatch.setattr(slider_runs, "BROWSER_FIRST_SECONDS", 0.0)
    spec = cached.knob_free(cell_spec(Settings(hidden_size=3, seq_len=8, seed=4242), "lstm"))
    values = scrub_values(spec)
    made_elsewhere = slider_runs._sweep(spec, values, slider_runs.Progress(Status(), 1), 0)
    status, sweeps = Status(), {"lstm": None}
    slider_runs.ONE_AT_A_TIME.acquire()  # another session is making its runs
    try:
        waiter = threading.Thread(
            target=slider_runs.make_sweeps, args=(status, {"lstm": spec}, sweeps, values)
        )
        waiter.start()
        time.sleep(3 * slider_runs.PROGRESS_SECONDS)
        assert sweeps["lstm"] is None  # still waiting
        assert any("waiting for another session" in line for line in status.lines)
        slider_runs.SWEEPS.put(spec, made_elsewhere)  # ... which were these
    finally:
        slider_runs.ONE_AT_A_TIME.release()
    waiter.join(timeout=30)
    assert sweeps["lstm"] is made_elsewhere  # taken, not made again
    assert status.lines[-1] == ""  # the progress line cleared
