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

``freeze_loaded_objects``: take the objects that live as long as the server
(Streamlit's, NumPy's, Plotly's and the app's modules: some 140,000) out of
the garbage collector's full collections. Each of those walked them all,
40–90 ms at moments no one chose, often inside a rerun someone waits for.
"""

from __future__ import annotations

import ctypes
import functools
import gc
import sys

import numpy  # noqa: F401  (loads the BLAS that one_blas_thread limits)
import threadpoolctl

M_TRIM_THRESHOLD = -1  # glibc's malloc.h
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 32 * 2**20  # the most glibc allows on 64 bits
TRIM_THRESHOLD = 512 * 2**20


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
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(
        mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD)
    )


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
