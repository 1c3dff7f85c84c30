"""Process-wide settings for a server that shares two cores with a browser,
each measured on a press of the T slider at T = 1000, H = 128, three cells.

``one_blas_thread``: keep BLAS to the thread that calls it. The engine's
products are one step's matrix by a vector, too small to split; but the
gradient sums at the end of a run are large enough that OpenBLAS woke a
second thread for them, which then spun waiting for more work: 80-150 ms of
a core per press, taken from the browser drawing the chart. With one thread
the press took 139 ms instead of 170 (median of 20, interleaved).

``keep_freed_memory``: let each rerun reuse the memory the last ones gave
back (glibc only).

A rerun at T = 1000, H = 128 with three cells makes some 60 MB of new arrays
while the cache still holds the runs before it. With glibc's defaults every
array over 128 kB is a fresh mapping from the kernel, handed over one 4 kB
page fault at a time, and given back as soon as it is freed: about 12,000
page faults for the three runs, 10–40 ms of the rerun on two cores.

With the mmap threshold at glibc's ceiling and the trim threshold above what
one rerun makes, those arrays come from the heap instead, where the runs the
cache evicted and every rerun's scratch arrays left their pages behind.

And as many heaps (glibc's arenas) as cores. Streamlit runs each session's
rerun in a thread of its own, and glibc gave each new thread an arena of its
own, up to eight per core: what one rerun freed stayed in its arena, where the
next rerun, on another thread, could not reuse it. Under forty students one
replica held 210 MB of live arrays and 650 MB freed and kept (``mallinfo2``).
Twelve threads at a time, each a stacked run of ten LSTMs: 414 MB resident
at the peak with glibc's arenas, 185 MB with two, and no slower.

``freeze_loaded_objects``: take the objects that live as long as the server
(Streamlit's, NumPy's, Plotly's and the app's modules: some 140,000) out of
the garbage collector's full collections. Each of those walked them all,
40–90 ms at moments no one chose, often inside a rerun someone waits for.

``send_small_messages_at_once``: turn off Nagle's algorithm on the server's
sockets. Streamlit's Starlette server binds its socket without naming the
protocol, so asyncio, which sets TCP_NODELAY only on sockets whose protocol
field says TCP, leaves Nagle on. A rerun sends many small messages; after
the first, each waited until the browser acknowledged it, and browsers delay
an acknowledgement up to 40 ms. Measured at the default settings: one T
press in five took 150–220 ms instead of about 95, and the browser's trace
showed the second message arriving 43 ms after the server wrote it.

``switch_threads_sooner``: a thread waiting for the GIL asks for it after
1 ms, not Python's 5. The engine's NumPy calls give the GIL up and must take it
back, each call, from whichever session's thread is drawing its page: a 43 ms
stacked LSTM sweep took 18.8 s beside a thread running Python alone at 5 ms,
5.1 s at 1 ms. Forty students on two replicas (bench/classroom.py, two
interleaved pairs of runs): whole rerun p95 1.62 and 1.36 s at 5 ms, 1.27 and
1.16 s at 1 ms; no more CPU per rerun.
"""

from __future__ import annotations

import ctypes
import functools
import gc
import os
import socket
import sys

import numpy  # noqa: F401  (loads the BLAS that one_blas_thread limits)
import threadpoolctl

M_TRIM_THRESHOLD = -1  # glibc's malloc.h
M_MMAP_THRESHOLD = -3
M_ARENA_MAX = -8
MMAP_THRESHOLD = 32 * 2**20  # the most glibc allows on 64 bits
TRIM_THRESHOLD = 512 * 2**20
ARENAS = os.cpu_count() or 2  # one per core: more buys no parallelism under the GIL


@functools.cache
def keep_freed_memory() -> bool:
    """Set both thresholds once per process; True when glibc took them.

    Elsewhere (macOS, Windows, musl) there is no ``mallopt`` and nothing changes.
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    mallopt(M_ARENA_MAX, ARENAS)
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(
        mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD)
    )


SWITCH_SECONDS = 0.001


def switch_threads_sooner() -> float:
    """Set the interval once per process; returns it."""
    sys.setswitchinterval(SWITCH_SECONDS)
    return sys.getswitchinterval()


@functools.cache
def freeze_loaded_objects() -> int:
    """Collect once, then move every object alive now into the collector's
    permanent generation (``gc.freeze``); once per process. Returns how many
    objects are frozen. Later objects are collected as before."""
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()


@functools.cache
def one_blas_thread() -> list[int]:
    """Limit every BLAS library NumPy loaded to one thread, for the life of
    the process (threadpoolctl finds OpenBLAS, MKL or BLIS by itself).
    Returns each BLAS library's thread count afterwards."""
    threadpoolctl.threadpool_limits(limits=1, user_api="blas")
    return [
        info["num_threads"]
        for info in threadpoolctl.threadpool_info()
        if info["user_api"] == "blas"
    ]


@functools.cache
def send_small_messages_at_once() -> list[int]:
    """Set TCP_NODELAY on this process's listening TCP sockets and the
    connections accepted from them, once per process; connections accepted
    later inherit it from their listening socket (Linux, macOS). Returns the
    descriptors set. Where the process cannot list its descriptors, nothing
    changes."""
    return no_delay_on_served_sockets()


def no_delay_on_served_sockets() -> list[int]:
    """The work of ``send_small_messages_at_once``, uncached (for tests).

    A connection is served when its local port is one a listening socket of
    this process listens on; the process's own outgoing connections keep
    their settings."""
    sockets = {}
    for fd in _descriptors():
        try:
            sock = socket.socket(fileno=os.dup(fd))  # family and type read from the descriptor
        except OSError:
            continue
        if sock.family in (socket.AF_INET, socket.AF_INET6) and sock.type == socket.SOCK_STREAM:
            sockets[fd] = sock
        else:
            sock.close()
    try:
        listening = {fd for fd, sock in sockets.items() if _listening(sock)}
        ports = {sockets[fd].getsockname()[1] for fd in listening}
        served = [
            fd for fd, sock in sockets.items() if fd in listening or _local_port(sock) in ports
        ]
        for fd in served:
            sockets[fd].setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sorted(served)
    finally:
        for sock in sockets.values():
            sock.close()  # closes the duplicate only


def _descriptors() -> list[int]:
    for folder in ("/proc/self/fd", "/dev/fd"):
        try:
            return [int(name) for name in os.listdir(folder)]
        except OSError:
            continue
    return []


def _listening(sock: socket.socket) -> bool:
    try:
        return bool(sock.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN))
    except OSError:
        return False


def _local_port(sock: socket.socket) -> int | None:
    try:
        return sock.getsockname()[1]
    except OSError:
        return None
