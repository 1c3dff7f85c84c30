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


def test_a_session_waits_for_another_sessions_runs_and_takes_them():
    spec = cached.knob_free(cell_spec(Settings(hidden_size=3, seq_len=8, seed=4242), "lstm"))
    values = scrub_values(spec)
    made_elsewhere = slider_runs._sweep(spec, values, slider_runs.Progress(Status(), 1), 0)
    status, sweeps = Status(), {"lstm": None}
    slider_runs.TURNS.wait(lambda: None, 1.0)  # another session is making its runs
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
        slider_runs.TURNS.done()
    waiter.join(timeout=30)
    assert sweeps["lstm"] is made_elsewhere  # taken, not made again
    assert status.lines[-1] == ""  # the progress line cleared


def _in_line(turns: slider_runs.Turns, count: int) -> None:
    deadline = time.monotonic() + 30
    while len(turns._line) < count:
        assert time.monotonic() < deadline, "a thread never joined the line"
        time.sleep(0.005)


def test_turns_are_served_in_the_order_asked():
    turns, served = slider_runs.Turns(), []

    def take(i: int) -> None:
        turns.wait(lambda: None, 0.05)
        served.append(i)
        turns.done()

    turns.wait(lambda: None, 0.05)
    threads = []
    for i in range(4):
        threads.append(threading.Thread(target=take, args=(i,)))
        threads[-1].start()
        _in_line(turns, i + 1)
    turns.done()
    for thread in threads:
        thread.join(timeout=30)
    assert served == [0, 1, 2, 3]
    assert turns.idle()


def test_a_thread_that_leaves_the_line_does_not_hold_it_up():
    """A newer rerun stops a waiting session (``meanwhile`` raises): the
    ones behind it still get their turn."""
    turns, served = slider_runs.Turns(), []

    class NewerRerun(Exception):
        pass

    def leave() -> None:
        raise NewerRerun

    def leaver() -> None:
        try:
            turns.wait(leave, 0.05)
        except NewerRerun:
            served.append("left")

    def stayer() -> None:
        turns.wait(lambda: None, 0.05)
        served.append("served")
        turns.done()

    turns.wait(lambda: None, 0.05)
    first = threading.Thread(target=leaver)
    first.start()
    _in_line(turns, 1)
    second = threading.Thread(target=stayer)
    second.start()
    first.join(timeout=30)
    turns.done()
    second.join(timeout=30)
    assert served == ["left", "served"]
    assert turns.idle()
