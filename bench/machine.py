"""What bench/engine.py's figures depend on besides the code: the BLAS NumPy
uses (library, threads), torch's threads, the load average and a warning
when the machine is busy. No timing here."""

from __future__ import annotations

import ctypes
import os
import platform
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch


@dataclass(frozen=True)
class BlasFacts:
    """What numpy's bundled OpenBLAS says about itself, read through ctypes."""

    threads: int
    threads_source: str
    corename: str
    config: str


def _openblas_library() -> ctypes.CDLL | None:
    libs_dir = Path(np.__file__).resolve().parent.parent / "numpy.libs"
    candidates = sorted(libs_dir.glob("lib*openblas*.so*"))
    return ctypes.CDLL(str(candidates[0])) if candidates else None


def _openblas_function(library: ctypes.CDLL, names: tuple[str, ...]):
    for name in names:
        function = getattr(library, name, None)
        if function is not None:
            return function
    return None


def numpy_blas_facts() -> BlasFacts:
    """Thread count, core type and build string of numpy's OpenBLAS."""
    library = _openblas_library()
    get_threads = get_corename = get_config = None
    if library is not None:
        get_threads = _openblas_function(
            library,
            ("scipy_openblas_get_num_threads64_", "openblas_get_num_threads64_"),
        )
        get_corename = _openblas_function(
            library,
            ("scipy_openblas_get_corename64_", "openblas_get_corename64_"),
        )
        get_config = _openblas_function(
            library, ("scipy_openblas_get_config64_", "openblas_get_config64_")
        )
    if get_threads is not None:
        get_threads.restype = ctypes.c_int
        threads, source = int(get_threads()), "openblas_get_num_threads"
    else:
        threads, source = os.cpu_count() or 1, "os.cpu_count() (OpenBLAS not found)"
    corename = config = "unknown"
    if get_corename is not None:
        get_corename.restype = ctypes.c_char_p
        corename = get_corename().decode()
    if get_config is not None:
        get_config.restype = ctypes.c_char_p
        config = get_config().decode().strip()
    return BlasFacts(threads, source, corename, config)


def numpy_blas_summary() -> str:
    """`np.show_config` in one line: the BLAS and LAPACK numpy was built with."""
    config = np.show_config(mode="dicts")
    dependencies = config.get("Build Dependencies", {})
    parts = []
    for role in ("blas", "lapack"):
        entry = dependencies.get(role, {})
        parts.append(f"{role}: {entry.get('name', '?')} {entry.get('version', '?')}")
    simd = config.get("SIMD Extensions", {})
    parts.append(f"SIMD found: {', '.join(simd.get('found', [])) or 'none'}")
    return "; ".join(parts)


BUSY_LOAD = 0.5  # 1-min load average before the bench starts


def load_average() -> str:
    return ", ".join(f"{load:.2f}" for load in os.getloadavg())


def busy_machine_warning() -> list[str]:
    """A warning line when other processes already load the cores, else nothing."""
    load = os.getloadavg()[0]
    if load <= BUSY_LOAD:
        return []
    return [
        f"WARNING: 1-min load average {load:.2f} > {BUSY_LOAD:g} before the bench: other "
        "processes share the cores, so timings are unreliable (torch's threads can "
        "stall for seconds); rerun on a quiet machine"
    ]


def machine_facts(blas: BlasFacts) -> list[str]:
    return [
        f"python {platform.python_version()}, {platform.machine()}, "
        f"os.cpu_count() = {os.cpu_count()}",
        f"numpy {np.__version__}: {numpy_blas_summary()}",
        f"numpy's OpenBLAS: {blas.threads} threads (from {blas.threads_source}), "
        f"core {blas.corename}; build: {blas.config}",
        f"OPENBLAS_CORETYPE = {os.environ.get('OPENBLAS_CORETYPE')!r}",
        f"load average at start (1, 5, 15 min): {load_average()}; other "
        "processes on the same cores slow both sides, torch's threads most",
        f"torch {torch.__version__}: {torch.get_num_threads()} intra-op threads "
        f"(set to numpy's count), default dtype {torch.get_default_dtype()}",
        *busy_machine_warning(),
    ]


# --- The same work on both sides ---------------------------------------------
