"""Time `engine.simulate` against PyTorch doing the same work on CPU.

For each kind (rnn, gru, lstm), sequence length T and hidden size H, one
sequence (no batch) of inputs `(T, D)` with D = 8 and targets `(T, O)` with
O = 1 is run forward and back through time, loss "mse" scored "all":

- the engine: `engine.simulate(model, inputs, targets)`;
- PyTorch: the step loop with `nn.RNNCell` / `nn.GRUCell` / `nn.LSTMCell`
  (tanh), every `h_t` retained (`h.retain_grad()`, so `h_t.grad` is the
  engine's `grad_hidden`), a linear readout on the stacked states `(T, H)`,
  `L = ½ Σ_t ‖p_t − target_t‖²` and `.backward()`, in float64.

The torch modules get the engine model's parameters, and once per
configuration the loss, hidden states and every gradient are compared
(relative error ≤ 1e-9) before anything is timed. A GRU is built with
`reset_after=True`, the form `nn.GRUCell` computes.

`trace.state_jacobian_norm` is lazy, so `simulate` is timed without it; the
first read of that field on a fresh trace is timed on its own and checked
against `np.linalg.norm(J, 2)` of the exact one-step Jacobian that
`torch.func.jacrev` gives for a few steps.

Usage (from the repository root):

    .venv/bin/python bench/engine.py [--quick] [--out bench/results/bench.md]

Exit status 1 when the two sides disagree (then the timings compare
different work), 0 otherwise; missed speed targets are reported, not fatal.
"""

from __future__ import annotations

import argparse
import functools
import gc
import importlib
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import engine_stack
import engine_train
import numpy as np
import torch
from machine import load_average, machine_facts, numpy_blas_facts
from torch_reference import (
    Problem,
    equivalence_errors,
    make_problem,
    relative_error,
    run_engine,
    run_torch,
)

REPO_ROOT = Path(__file__).resolve().parent.parent
KINDS = ("rnn", "gru", "lstm")
FULL_LENGTHS = (100, 1000)
FULL_HIDDEN_SIZES = (8, 64, 256)
QUICK_LENGTHS = (100,)
QUICK_HIDDEN_SIZES = (8, 64)
EQUIVALENCE_TOLERANCE = 1e-9
JACOBIAN_TOLERANCE = 1e-4  # the contract's accuracy for state_jacobian_norm
JACOBIAN_TARGET_MS = 200.0  # lstm, T = 1000, H = 64
EAGER_READ_MS = 0.05  # no lazy computation of T ≥ 100 norms is this fast
MAX_REPEATS = 5


def import_engine() -> ModuleType:
    """Import the project's `engine` package, not this file (`bench/engine.py`).

    Run as `python bench/engine.py`, the script's folder heads `sys.path`, so
    a plain `import engine` would find this very file.
    """
    bench_dir = Path(__file__).resolve().parent
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != bench_dir]
    if str(REPO_ROOT) not in sys.path:
        sys.path.insert(0, str(REPO_ROOT))
    return importlib.import_module("engine")


# --- Machine facts -----------------------------------------------------------


def shout(message: str) -> None:
    banner = "!" * 78
    text = f"\n{banner}\n!!! {message}\n{banner}\n"
    print(text, flush=True)
    print(text, file=sys.stderr, flush=True)


# --- Timing ------------------------------------------------------------------


def seconds(function: Callable[[], object]) -> float:
    gc.collect()
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def repeats_for(first_run_seconds: float) -> int:
    """5 repeats, fewer when one run of both sides is slow (keeps < ~5 min)."""
    if first_run_seconds < 1.0:
        return MAX_REPEATS
    if first_run_seconds < 4.0:
        return 3
    return 1


@dataclass(frozen=True)
class SimulateTiming:
    kind: str
    length: int
    hidden_size: int
    engine_ms: float
    torch_ms: float
    repeats: int
    worst_error: float
    worst_quantity: str

    @property
    def speed_up(self) -> float:
        return self.torch_ms / self.engine_ms

    @property
    def agrees(self) -> bool:
        return self.worst_error <= EQUIVALENCE_TOLERANCE


def time_simulate(engine: ModuleType, problem: Problem) -> SimulateTiming:
    """Check once (this also warms up), then alternate the two sides."""
    engine_first = seconds(lambda: run_engine(engine, problem))
    torch_first = seconds(lambda: run_torch(problem))
    errors = equivalence_errors(run_engine(engine, problem), problem)
    worst_quantity = max(errors, key=lambda name: errors[name])
    worst_error = errors[worst_quantity]
    if not worst_error <= EQUIVALENCE_TOLERANCE:
        details = ", ".join(f"{name} {error:.1e}" for name, error in errors.items())
        shout(
            f"EQUIVALENCE CHECK FAILED: {problem.kind} T={problem.length} "
            f"H={problem.hidden_size}: engine and torch differ (relative error "
            f"> {EQUIVALENCE_TOLERANCE:g}): {details}"
        )
    repeats = repeats_for(engine_first + torch_first)
    engine_runs, torch_runs = [], []
    for _ in range(repeats):
        engine_runs.append(seconds(lambda: run_engine(engine, problem)))
        torch_runs.append(seconds(lambda: run_torch(problem)))
    return SimulateTiming(
        problem.kind,
        problem.length,
        problem.hidden_size,
        1e3 * statistics.median(engine_runs),
        1e3 * statistics.median(torch_runs),
        repeats,
        worst_error,
        worst_quantity,
    )


# --- state_jacobian_norm -----------------------------------------------------


def exact_state_jacobian_norm(problem: Problem, trace, step: int) -> float:
    """‖∂s_t/∂s_{t-1}‖₂ from torch's exact Jacobian of one cell step.

    The previous state is the engine's (zeros at t = 0); s = h, or (h, c)
    stacked for an LSTM, so J is (H, H) or (2H, 2H).
    """
    hidden_size = problem.hidden_size
    x_t = problem.inputs_torch[step]

    def previous(states) -> torch.Tensor:
        if step == 0:
            return torch.zeros(hidden_size)
        return torch.from_numpy(np.ascontiguousarray(states[step - 1]))

    if problem.kind == "lstm":

        def one_step(state: torch.Tensor) -> torch.Tensor:
            h, c = problem.cell(x_t, (state[:hidden_size], state[hidden_size:]))
            return torch.cat([h, c])

        state = torch.cat([previous(trace.hidden), previous(trace.cell)])
    else:

        def one_step(state: torch.Tensor) -> torch.Tensor:
            return problem.cell(x_t, state)

        state = previous(trace.hidden)
    jacobian = torch.func.jacrev(one_step)(state).detach().numpy()
    return float(np.linalg.norm(jacobian, ord=2))


@dataclass(frozen=True)
class JacobianTiming:
    kind: str
    length: int
    hidden_size: int
    state_size: int
    first_read_ms: float
    second_read_ms: float
    simulate_ms: float
    repeats: int
    worst_error: float
    checked_steps: tuple[int, ...]

    @property
    def accurate(self) -> bool:
        return self.worst_error <= JACOBIAN_TOLERANCE


def time_jacobian(engine: ModuleType, problem: Problem) -> JacobianTiming:
    """ms of the first read of `state_jacobian_norm` on a fresh trace."""
    first_reads, second_reads, simulate_runs = [], [], []
    repeats = MAX_REPEATS
    trace = None
    while len(first_reads) < repeats:
        start = time.perf_counter()
        trace = run_engine(engine, problem)
        simulate_runs.append(time.perf_counter() - start)
        read_norms = functools.partial(getattr, trace, "state_jacobian_norm")
        first_reads.append(seconds(read_norms))
        second_reads.append(seconds(read_norms))
        repeats = min(repeats, 3 if first_reads[0] < 5.0 else 1)
    norms = np.asarray(trace.state_jacobian_norm)
    last = problem.length - 1
    steps = tuple(sorted({0, 1, problem.length // 2, last}))
    errors = [
        relative_error(norms[step], exact_state_jacobian_norm(problem, trace, step))
        if norms.shape == (problem.length,)
        else float("inf")
        for step in steps
    ]
    state_size = problem.hidden_size * (2 if problem.kind == "lstm" else 1)
    return JacobianTiming(
        problem.kind,
        problem.length,
        problem.hidden_size,
        state_size,
        1e3 * statistics.median(first_reads),
        1e3 * statistics.median(second_reads),
        1e3 * statistics.median(simulate_runs),
        len(first_reads),
        max(errors),
        steps,
    )


# --- Report ------------------------------------------------------------------


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    numeric = [
        all(row[i].lstrip("−-").replace(".", "", 1).isdigit() for row in rows)
        for i in range(len(header))
    ]
    align = ["---:" if is_number else "---" for is_number in numeric]
    lines = [header, align, *rows]
    return "\n".join("| " + " | ".join(line) + " |" for line in lines)


def simulate_table(timings: list[SimulateTiming]) -> str:
    rows = [
        [
            t.kind,
            str(t.length),
            str(t.hidden_size),
            f"{t.engine_ms:.2f}",
            f"{t.torch_ms:.2f}",
            f"{t.speed_up:.2f}" + ("" if t.agrees else " (MISMATCH)"),
        ]
        for t in timings
    ]
    header = ["kind", "T", "H", "engine ms", "torch ms", "speed-up (torch/engine)"]
    return markdown_table(header, rows)


def simulate_target(hidden_size: int) -> float:
    """Issue target for the speed-up: ≥ 2× for H ≤ 64, no slower above."""
    return 2.0 if hidden_size <= 64 else 1.0


def targets_table(timings: list[SimulateTiming], jacobians: list[JacobianTiming]) -> str:
    rows = []
    for t in timings:
        target = simulate_target(t.hidden_size)
        met = t.speed_up >= target and t.agrees
        rows.append(
            [
                f"simulate {t.kind} T={t.length} H={t.hidden_size}",
                f"torch/engine = {t.speed_up:.2f}×",
                f"≥ {target:g}×",
                "met" if met else "**MISSED**",
            ]
        )
    for j in jacobians:
        if (j.kind, j.length, j.hidden_size) == ("lstm", 1000, 64):
            met = j.first_read_ms < JACOBIAN_TARGET_MS and j.accurate
            rows.append(
                [
                    "state_jacobian_norm lstm T=1000 H=64, first read",
                    f"{j.first_read_ms:.1f} ms",
                    f"< {JACOBIAN_TARGET_MS:g} ms",
                    "met" if met else "**MISSED**",
                ]
            )
    return markdown_table(["target", "measured", "target", "status"], rows)


def jacobian_table(jacobians: list[JacobianTiming]) -> str:
    rows = [
        [
            j.kind,
            str(j.length),
            str(j.hidden_size),
            str(j.state_size),
            f"{j.simulate_ms:.1f}",
            f"{j.first_read_ms:.1f}",
            f"{j.second_read_ms:.3f}",
            str(j.repeats),
            f"{j.worst_error:.1e}" + ("" if j.accurate else " (INACCURATE)"),
        ]
        for j in jacobians
    ]
    header = [
        "kind",
        "T",
        "H",
        "state size S",
        "simulate ms",
        "first read ms",
        "second read ms",
        "repeats",
        "max rel. error vs exact ‖J‖₂",
    ]
    return markdown_table(header, rows)


def jacobian_configs(quick: bool) -> list[tuple[str, int, int]]:
    if quick:
        return [(kind, 100, 64) for kind in KINDS] + [("lstm", 100, 8)]
    return [
        ("lstm", 1000, 64),
        ("rnn", 1000, 64),
        ("gru", 1000, 64),
        ("lstm", 1000, 8),
        ("lstm", 1000, 256),
    ]


def parse_arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smoke run: T = 100, H in {8, 64}")
    parser.add_argument("--out", type=Path, help="also write the Markdown report to this file")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    arguments = parse_arguments(argv)
    engine = import_engine()
    from app import process  # the root is on the path once the engine is imported

    process.keep_freed_memory()  # as the app's server runs the engine
    torch.set_default_dtype(torch.float64)
    blas = numpy_blas_facts()
    torch.set_num_threads(blas.threads)
    facts = machine_facts(blas)
    for fact in facts:
        print(fact, flush=True)
    print(flush=True)

    lengths = QUICK_LENGTHS if arguments.quick else FULL_LENGTHS
    hidden_sizes = QUICK_HIDDEN_SIZES if arguments.quick else FULL_HIDDEN_SIZES
    started = time.perf_counter()
    timings = []
    for kind in KINDS:
        for length in lengths:
            for hidden_size in hidden_sizes:
                problem = make_problem(engine, kind, length, hidden_size)
                timing = time_simulate(engine, problem)
                timings.append(timing)
                print(
                    f"{kind:4} T={length:<4} H={hidden_size:<3} "
                    f"engine {timing.engine_ms:9.2f} ms  torch "
                    f"{timing.torch_ms:9.2f} ms  x{timing.speed_up:5.2f}  "
                    f"(n={timing.repeats}, worst rel. error "
                    f"{timing.worst_error:.1e} in {timing.worst_quantity})",
                    flush=True,
                )
    jacobians = []
    for kind, length, hidden_size in jacobian_configs(arguments.quick):
        problem = make_problem(engine, kind, length, hidden_size)
        jacobian = time_jacobian(engine, problem)
        jacobians.append(jacobian)
        print(
            f"state_jacobian_norm {kind:4} T={length:<4} H={hidden_size:<3} first "
            f"read {jacobian.first_read_ms:9.1f} ms, second "
            f"{jacobian.second_read_ms:.3f} ms, worst rel. error "
            f"{jacobian.worst_error:.1e} at steps {jacobian.checked_steps}",
            flush=True,
        )
        if jacobian.first_read_ms < EAGER_READ_MS:
            shout(
                f"state_jacobian_norm LOOKS EAGER: {kind} T={length} H={hidden_size}: "
                f"the first read took {jacobian.first_read_ms:.4f} ms, so simulate "
                "probably computed it (and its timing includes it)"
            )
        if not jacobian.accurate:
            shout(
                f"state_jacobian_norm INACCURATE: {kind} T={length} H={hidden_size}: "
                f"relative error {jacobian.worst_error:.1e} > {JACOBIAN_TOLERANCE:g}"
            )
    elapsed = time.perf_counter() - started

    mismatches = [t for t in timings if not t.agrees]
    check_line = (
        "Equivalence check (loss, hidden, grad_hidden, LSTM cell and grad_cell, "
        f"every gradient; relative ≤ {EQUIVALENCE_TOLERANCE:g}): "
        + (
            "passed for every configuration."
            if not mismatches
            else "**FAILED** for "
            + ", ".join(f"{t.kind} T={t.length} H={t.hidden_size}" for t in mismatches)
            + "; those timings compare different work."
        )
    )
    repeats = sorted({t.repeats for t in timings}, reverse=True)
    report = "\n".join(
        [
            "# engine.simulate against PyTorch (CPU, float64)",
            "",
            *[f"- {fact}" for fact in facts],
            "",
            '## simulate: forward + BPTT, one sequence, D = 8, O = 1, mse scored "all"',
            "",
            simulate_table(timings),
            "",
            f"Median of {'/'.join(map(str, repeats))} runs (fewer for slow cases). " + check_line,
            "",
            "## Targets",
            "",
            targets_table(timings, jacobians),
            "",
            "## state_jacobian_norm: first read on a fresh trace",
            "",
            jacobian_table(jacobians),
            "",
            f"Exact ‖J‖₂ from `torch.func.jacrev` of one cell step; "
            f"target < {JACOBIAN_TARGET_MS:g} ms for lstm T=1000 H=64. "
            "A second read near 0 ms means the value is cached; a first read near "
            "0 ms would mean `simulate` computed it eagerly.",
            "",
            f"Total bench time: {elapsed:.0f} s; load average at the end: {load_average()}.",
            "",
        ]
    )
    report += "\n" + engine_stack.report(engine, arguments.quick)
    report += "\n" + engine_train.report(engine, arguments.quick)
    print()
    print(report)
    if arguments.out is not None:
        arguments.out.parent.mkdir(parents=True, exist_ok=True)
        arguments.out.write_text(report, encoding="utf-8")
        print(f"Wrote {arguments.out}")
    inaccurate = [j for j in jacobians if not j.accurate]
    return 1 if mismatches or inaccurate else 0


if __name__ == "__main__":
    sys.exit(main())
