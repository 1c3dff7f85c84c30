"""app.process: the process-wide settings the server runs with."""

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from app import process

ROOT = Path(__file__).resolve().parent.parent

# A cache of the last 8 arrays of 1 MB, then 40 more made one at a time, as
# reruns add runs and the cache evicts the oldest: count the page faults.
FAULTS = textwrap.dedent(
    """
    import resource, sys
    import numpy as np
    from app import process
    if sys.argv[1] == "keep":
        assert process.keep_freed_memory()
    kept = [np.ones(2**17) for _ in range(8)]
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(40):
        kept.append(np.ones(2**17))
        kept.pop(0)
    print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
    """
)


def page_faults(mode: str) -> int:
    out = subprocess.run(
        [sys.executable, "-c", FAULTS, mode], capture_output=True, text=True, check=True, cwd=ROOT
    )
    return int(out.stdout)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt is Linux's")
def test_freed_arrays_are_reused_instead_of_faulted_in_again():
    default, kept = page_faults("default"), page_faults("keep")
    pages_per_array = 2**20 // 4096
    # glibc's default gives most freed arrays back and faults them in again
    assert default >= 5 * pages_per_array, (default, kept)
    assert kept <= 1.5 * pages_per_array, (default, kept)  # only the heap's first growth


# Reruns as Streamlit makes them, each on a thread of its own, twelve at a time:
# each a stacked run of ten LSTMs of a random size. The peak resident set (MB).
THREADED_RERUNS = textwrap.dedent(
    """
    import ctypes, os, sys, threading
    import numpy as np
    from app import process
    assert process.keep_freed_memory()
    if sys.argv[1] == "uncapped":  # glibc's own limit: eight arenas per core
        ctypes.CDLL(None).mallopt(process.M_ARENA_MAX, 8 * os.cpu_count())
    def rss():
        for line in open("/proc/self/status"):
            if line.startswith("VmRSS"):
                return int(line.split()[1]) // 1024
    import engine
    def rerun(seed):
        rng = np.random.default_rng(seed)
        T, H = int(rng.integers(20, 400)), int(rng.integers(4, 64))
        models = engine.stack([engine.build("lstm", 1, H, 1, seed=s) for s in range(10)])
        inputs = rng.standard_normal((T, 10, 1))
        return engine.simulate(models, inputs, inputs).grad_hidden.sum()
    peak = 0
    for round in range(15):
        threads = [threading.Thread(target=rerun, args=(12 * round + i,)) for i in range(12)]
        [t.start() for t in threads]
        [t.join() for t in threads]
        peak = max(peak, rss())
    print(peak)
    """
)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt is Linux's")
def test_threads_share_the_freed_memory():
    """With an arena per thread (up to eight per core), what one rerun freed
    stayed where the next rerun's thread could not reuse it."""

    def peak(mode: str) -> int:
        out = subprocess.run(
            [sys.executable, "-c", THREADED_RERUNS, mode],
            capture_output=True,
            text=True,
            check=True,
            cwd=ROOT,
        )
        return int(out.stdout)

    capped, uncapped = peak("capped"), peak("uncapped")
    assert capped < 0.75 * uncapped, (capped, uncapped)


def test_the_setting_is_taken_once_per_process():
    first = process.keep_freed_memory()
    assert process.keep_freed_memory() is first
    assert first == sys.platform.startswith("linux")


def test_objects_loaded_before_the_first_rerun_are_frozen():
    import gc

    frozen = process.freeze_loaded_objects()
    assert frozen > 10_000  # the modules pytest, NumPy and Streamlit loaded
    assert gc.get_freeze_count() > 10_000  # some frozen objects may since have died
    assert process.freeze_loaded_objects() == frozen  # once per process


def test_blas_keeps_to_the_calling_thread():
    import threadpoolctl

    counts = process.one_blas_thread()
    assert counts and all(count == 1 for count in counts)
    blas = [i for i in threadpoolctl.threadpool_info() if i["user_api"] == "blas"]
    assert blas and all(info["num_threads"] == 1 for info in blas)


def no_delay(sock) -> int:
    import socket

    return sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)


@pytest.mark.skipif(sys.platform == "win32", reason="lists descriptors under /proc or /dev/fd")
def test_served_sockets_send_small_messages_at_once():
    import contextlib
    import socket

    with contextlib.ExitStack() as stack:
        # bound as Streamlit's server binds: no protocol named, so Nagle stays on
        listener = stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        client = stack.enter_context(socket.create_connection(listener.getsockname()))
        served = stack.enter_context(listener.accept()[0])
        assert (no_delay(listener), no_delay(served), no_delay(client)) == (0, 0, 0)

        changed = process.no_delay_on_served_sockets()

        assert {listener.fileno(), served.fileno()} <= set(changed)
        assert client.fileno() not in changed  # an outgoing connection keeps its settings
        assert (no_delay(listener), no_delay(served), no_delay(client)) == (1, 1, 0)
        later_client = stack.enter_context(socket.create_connection(listener.getsockname()))
        later = stack.enter_context(listener.accept()[0])
        assert no_delay(later) == 1  # inherited from the listening socket
        assert no_delay(later_client) == 0


@pytest.mark.parametrize("page", ["app.explorer.page", "app.lab.page"])
def test_a_page_server_asks_for_the_gil_sooner(page):
    """Each page, imported as the server imports it, sets the process's switch
    interval: Python's own 5 ms left the engine's NumPy calls waiting."""
    probe = f"import sys, {page}; print(sys.getswitchinterval())"
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert float(done.stdout.split()[-1]) == process.SWITCH_SECONDS != 0.005
