"""The in-chart slider's runs in a process of their own, beside the server's.

A server process runs every session's rerun in a thread, and its threads take
turns holding Python's GIL. The slider's stacked runs are a few hundred NumPy
calls, each of which gives the GIL up and must take it back from whichever
session's thread is drawing its page; and while they hold it, those pages
wait. In a process of their own, the runs share no lock with the pages, and
a replica's runs can use a core its pages leave idle.

One worker process per server process, started on the first page drawn, its
BLAS and allocator set as the server's (the same bits as a run made here).
A run's result comes back to the thread that asked, which waits for it while
calling ``meanwhile`` (where a newer rerun can stop the wait; the run goes on
and its result is kept for whoever asks next). Two threads asking for the
same run wait for the one run. If the worker dies, this run is made here and
the next starts a new worker; where no worker can start, every run is made here.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import multiprocessing
import os
import threading
import time
from collections.abc import Callable, Hashable
from concurrent.futures.process import BrokenProcessPool
from typing import Any

PARENT_POLL_SECONDS = 1.0  # how soon a worker whose server died notices
# The worker died, or none can start here (multiprocessing needs /dev/shm):
# the run is made in this process.
NO_WORKER = (BrokenProcessPool, OSError)


class Worker:
    """One process that makes runs for this one, and the runs in flight."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pool: concurrent.futures.ProcessPoolExecutor | None = None
        self._flying: dict[Hashable, concurrent.futures.Future] = {}

    def start(self) -> None:
        """Start the process now, so that the first run does not wait for it."""
        if self._pool is None:
            with contextlib.suppress(NO_WORKER):  # else runs are made here until one starts
                self._submit(("start",), os.getpid)

    def run(
        self,
        key: Hashable,
        function: Callable[..., Any],
        *args,
        meanwhile: Callable[[], None],
        every: float,
        kept: Callable[[Any], None],
    ) -> Any:
        """``function(*args)`` made in the worker process, a module-level
        function of picklable arguments, its result too; ``key`` names it.
        ``kept(result)`` is called once it is made, even if no one waits for
        it any more. ``meanwhile()`` is called every ``every`` seconds of the
        wait; what it raises ends the wait, not the run."""
        try:
            future = self._submit(key, function, *args, kept=kept)
            while True:
                try:
                    return future.result(timeout=every)
                except concurrent.futures.TimeoutError:
                    meanwhile()
        except NO_WORKER:
            self._drop_pool()
            result = function(*args)
            kept(result)
            return result

    def _submit(self, key, function, *args, kept=None) -> concurrent.futures.Future:
        with self._lock:
            future = self._flying.get(key)
            if future is not None:
                return future
            if self._pool is None:
                self._pool = concurrent.futures.ProcessPoolExecutor(
                    max_workers=1,
                    mp_context=multiprocessing.get_context("spawn"),
                    initializer=_settle,
                    initargs=(os.getpid(),),
                )
            try:
                future = self._pool.submit(function, *args)
            except BrokenProcessPool:
                self._pool = None
                raise
            self._flying[key] = future
        future.add_done_callback(lambda done: self._landed(key, done, kept))
        return future

    def _landed(self, key, future: concurrent.futures.Future, kept) -> None:
        with self._lock:
            self._flying.pop(key, None)
        if kept is not None and not future.cancelled() and future.exception() is None:
            kept(future.result())

    def _drop_pool(self) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)


def _settle(parent: int) -> None:
    """In the worker, before its first run: the server's BLAS and allocator
    settings, and an end when the server is gone (a killed server cannot
    stop it, and its queue to it would never close)."""
    from app import process

    process.one_blas_thread()
    process.keep_freed_memory()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_POLL_SECONDS)
        os._exit(0)

    threading.Thread(target=watch, daemon=True).start()


WORKER = Worker()
