"""The worker process that makes the in-chart slider's runs: the same bits as
a run made here, a run kept when no one waits for it any more, one run for
two who ask for it, a dead worker replaced, and no worker outliving its server."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from app import sweeps  # noqa: E402
from app import worker as worker_module  # noqa: E402
from app.compute import cell_spec  # noqa: E402
from app.explorer.state import Settings  # noqa: E402
from app.worker import Worker  # noqa: E402


def nothing() -> None:
    pass


@pytest.fixture
def worker():
    made = Worker()
    yield made
    made._drop_pool()


def test_frames_made_in_the_worker_are_the_frames_made_here_bit_for_bit(worker):
    spec = cell_spec(Settings(cells=("lstm",), hidden_size=3, seq_len=8, seed=5), "lstm")
    spec = spec.replace(spectral_radius=None, recurrent_matrix=None)
    values = tuple(float(v) for v in sweeps.scrub_values(spec)[::5])
    kept = []
    there = worker.run("k", sweeps.knob_frames, spec, values, **wait(kept))
    here = sweeps.knob_frames(spec, values)
    assert pid_of(worker) != os.getpid()
    assert len(there) == sweeps.FRAME_PARTS
    for made_there, made_here in zip(there, here, strict=True):
        np.testing.assert_array_equal(made_there, made_here)
    assert kept == [there]


def test_the_worker_uses_one_blas_thread(worker):
    assert worker.run("blas", _blas_threads, **wait([])) == [1]


def _blas_threads() -> list[int]:
    import threadpoolctl

    return sorted(
        {i["num_threads"] for i in threadpoolctl.threadpool_info() if i["user_api"] == "blas"}
    )


def test_a_wait_stopped_by_a_newer_rerun_still_keeps_the_run(worker):
    worker.start()
    kept, calls = [], []

    class NewerRerun(Exception):
        pass

    def meanwhile():
        calls.append(1)
        raise NewerRerun

    with pytest.raises(NewerRerun):
        worker.run("slow", time.sleep, 0.4, meanwhile=meanwhile, every=0.05, kept=kept.append)
    assert calls == [1] and kept == []
    deadline = time.monotonic() + 10
    while not kept and time.monotonic() < deadline:
        time.sleep(0.02)
    assert kept == [None]  # what time.sleep returns, landed after the wait ended


def test_two_who_ask_for_the_same_run_share_one(worker):
    worker.start()
    kept, results = [], []

    def ask(key):
        results.append(
            worker.run(key, time.sleep, 0.3, meanwhile=nothing, every=0.05, kept=kept.append)
        )

    same = [threading.Thread(target=ask, args=("same",)) for _ in range(3)]
    for thread in same:
        thread.start()
    for thread in same:
        thread.join()
    assert results == [None, None, None]
    assert len(kept) == 1  # one run made, and kept once
    ask("other")
    assert len(kept) == 2


def test_a_killed_worker_is_replaced_and_its_run_made_here(worker):
    first = pid_of(worker)
    kept = []

    def kill_it():
        time.sleep(0.2)
        os.kill(first, signal.SIGKILL)

    killer = threading.Thread(target=kill_it)
    killer.start()
    # made here once the worker dies under it: os.getpid is this process's
    assert worker.run("pid", _slow_pid, **wait(kept)) == os.getpid()
    killer.join()
    assert kept == [os.getpid()]
    second = pid_of(worker)
    assert second not in (first, os.getpid())


def test_where_no_worker_can_start_the_runs_are_made_here(monkeypatch):
    def no_semaphores(*args, **kwargs):
        raise OSError("no /dev/shm here")

    monkeypatch.setattr(worker_module.concurrent.futures, "ProcessPoolExecutor", no_semaphores)
    worker = Worker()
    worker.start()  # the page starts it: that must not fail
    kept = []
    assert worker.run("pid", os.getpid, **wait(kept)) == os.getpid()
    assert kept == [os.getpid()]


def _slow_pid() -> int:
    time.sleep(1)
    return os.getpid()


def test_a_worker_ends_when_its_server_is_killed():
    with subprocess.Popen(
        [sys.executable, "-c", SERVER],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,  # its resource tracker's complaints, once it is killed
        text=True,
    ) as server:
        try:
            child = int(server.stdout.readline())
            assert _alive(child)
            server.kill()
            server.wait(timeout=10)
            deadline = time.monotonic() + 10
            while _alive(child) and time.monotonic() < deadline:
                time.sleep(0.1)
            assert not _alive(child), "the worker outlived its server"
        finally:
            server.kill()


SERVER = textwrap.dedent(
    """
    import os, time
    from app.worker import Worker
    worker = Worker()
    ran = worker.run("pid", os.getpid, meanwhile=lambda: None, every=0.05, kept=lambda _: None)
    print(ran, flush=True)
    time.sleep(60)
    """
)


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def pid_of(worker: Worker) -> int:
    """The worker process's id (a new run each time: never a kept one)."""
    return worker.run(("pid", time.monotonic()), os.getpid, **wait([]))


def wait(kept: list) -> dict:
    return {"meanwhile": nothing, "every": 0.05, "kept": kept.append}
