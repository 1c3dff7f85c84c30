"""bench/engine.py's training table: one training update, the engine against PyTorch.

For rnn, gru (reset_after=True, PyTorch's form) and lstm at (T, H) = (20, 16),
(50, 32), (100, 64), one update on a batch of B = 32 sequences of the adding
task (D = 2, O = 1, mse on the last step), clipped at θ = 1, with Adam
(lr = 1e-3):

- the engine: `engine.train(model, task_maker, engine.Adam(1e-3), n, clip=1.0,
  every=n)`, timed over n updates (its one record, spectral radii and lag
  norms included);
- the same loop through `simulate`'s full trace ("via full trace"), as
  `engine.train` ran before `engine.train.training_trace` (the "before" of the
  gradient-only path);
- PyTorch: `nn.RNN` / `nn.GRU` / `nn.LSTM` + `nn.Linear`, zero_grad, forward,
  backward, `clip_grad_norm_`, `torch.optim.Adam.step()`, in float64 and in
  float32, from the same parameters on the same batch.

Both sides run on one thread (NumPy's BLAS through threadpoolctl,
`torch.set_num_threads(1)`), with glibc keeping freed memory for reuse
(app/process.py's `keep_freed_memory`), as the app's server runs; the thread
settings are put back afterwards. Times are the process's CPU time (time.process_time),
which one thread per side makes the work done, even on a busy shared machine.
Before timing, the engine and float64 torch are
checked to agree on the first update (loss, gradient norm, clip scale, every
parameter after it, relative ≤ 1e-8). The four sides alternate, and each
figure is the median over the repeats of the time per update.

Standalone: `.venv/bin/python bench/engine_train.py [--quick]`.
"""

from __future__ import annotations

import copy
import gc
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import numpy as np
import torch
from threadpoolctl import threadpool_limits
from torch_train import TorchTwin

SIZES = ((20, 16), (50, 32), (100, 64))
QUICK_SIZES = ((20, 16), (50, 32))
KINDS = ("rnn", "gru", "lstm")
BATCH = 32
CLIP = 1.0
LEARNING_RATE = 1e-3
AGREEMENT = 1e-8
REPEATS = 5
TARGET_SIZE = (50, 32)  # within 2× of float32 here
FLOAT32_FACTOR = 2.0


@dataclass(frozen=True)
class UpdateTiming:
    kind: str
    length: int
    hidden_size: int
    engine_ms: float
    full_trace_ms: float
    torch64_ms: float
    torch32_ms: float
    worst_error: float

    @property
    def agrees(self) -> bool:
        return self.worst_error <= AGREEMENT

    def met(self) -> bool:
        fast = self.engine_ms <= self.torch64_ms
        if (self.length, self.hidden_size) == TARGET_SIZE:
            fast = fast and self.engine_ms <= FLOAT32_FACTOR * self.torch32_ms
        return fast and self.agrees


def _relative(actual, reference) -> float:
    actual, reference = np.asarray(actual, float), np.asarray(reference, float)
    scale = float(np.linalg.norm(reference))
    difference = float(np.linalg.norm(actual - reference))
    return difference / scale if scale > 0 else difference


def _per_update_ms(run, updates) -> float:
    """CPU time of this process per update: both sides run on one thread, and
    on a shared machine wall time mostly measures the other processes."""
    gc.collect()
    start = time.process_time()
    run(updates)
    return 1e3 * (time.process_time() - start) / updates


def time_update(engine: ModuleType, kind: str, length: int, hidden_size: int, updates: int):
    task = engine.tasks.make("adding", length, BATCH, seed=0)
    options = {"reset_after": True} if kind == "gru" else {}
    model = engine.build(kind, 2, hidden_size, 1, seed=0, **options)
    twins = {dtype: TorchTwin(model, dtype) for dtype in (torch.float64, torch.float32)}
    batches = {
        dtype: (twin.tensor(task.inputs), twin.tensor(task.targets))
        for dtype, twin in twins.items()
    }
    optimizers = {
        dtype: torch.optim.Adam(twin.parameters(), lr=LEARNING_RATE)
        for dtype, twin in twins.items()
    }

    # Agreement on the first update, engine against float64 torch (on copies).
    check_model = copy.deepcopy(model)
    check_twin = TorchTwin(model, torch.float64)
    check_optimizer = torch.optim.Adam(check_twin.parameters(), lr=LEARNING_RATE)
    record = next(
        iter(engine.train(check_model, lambda u: task, engine.Adam(LEARNING_RATE), 1, clip=CLIP))
    )
    loss, norm, scale = check_twin.update(
        check_optimizer, *batches[torch.float64], task.loss, task.scored, clip=CLIP
    )
    errors = [
        _relative(record.loss, loss),
        _relative(record.grad_norm, norm),
        _relative(record.clip_scale, scale),
    ]
    errors += [_relative(check_model.params[k], v) for k, v in check_twin.named_arrays().items()]

    engine_optimizer = engine.Adam(LEARNING_RATE)

    def run_engine(n):
        for _ in engine.train(model, lambda u: task, engine_optimizer, n, clip=CLIP, every=n):
            pass

    def run_full_trace(n):  # "before": the same loop through simulate's full trace
        train_module = sys.modules["engine.train"]
        lean = train_module.training_trace
        train_module.training_trace = engine.simulate
        try:
            run_engine(n)
        finally:
            train_module.training_trace = lean

    def run_torch(dtype):
        def run(n):
            for _ in range(n):
                twins[dtype].update(
                    optimizers[dtype], *batches[dtype], task.loss, task.scored, clip=CLIP
                )

        return run

    sides = {
        "engine": run_engine,
        "full_trace": run_full_trace,
        "torch64": run_torch(torch.float64),
        "torch32": run_torch(torch.float32),
    }
    for run in sides.values():  # warm up
        run(1)
    times = {name: [] for name in sides}
    for _ in range(REPEATS):
        for name, run in sides.items():
            times[name].append(_per_update_ms(run, updates))
    medians = {name: statistics.median(values) for name, values in times.items()}
    return UpdateTiming(
        kind,
        length,
        hidden_size,
        medians["engine"],
        medians["full_trace"],
        medians["torch64"],
        medians["torch32"],
        max(errors),
    )


def keep_freed_memory() -> bool:
    """The app's server setting (app/process.py): glibc keeps freed memory for
    reuse instead of returning it, so that a fresh (T, B, ·) array does not pay
    for its pages again. Process-wide and permanent, so it is applied before
    this table (the last of bench/engine.py) only."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from app.process import keep_freed_memory as keep

    return keep()


def training_timings(engine: ModuleType, quick: bool = False, log=print) -> list[UpdateTiming]:
    """Every configuration's timing, under the app server's process settings."""
    log(f"train table: freed memory kept for reuse (app/process.py): {keep_freed_memory()}")
    timings = []
    previous_threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with threadpool_limits(limits=1, user_api="blas"):
            for kind in KINDS:
                for length, hidden_size in QUICK_SIZES if quick else SIZES:
                    updates = max(3, int(2000 / (length * hidden_size) * 4))
                    timing = time_update(engine, kind, length, hidden_size, updates)
                    timings.append(timing)
                    log(
                        f"train update {kind:4} T={length:<3} H={hidden_size:<3} engine "
                        f"{timing.engine_ms:7.2f} ms (full trace {timing.full_trace_ms:7.2f})  "
                        f"torch f64 {timing.torch64_ms:7.2f} ms  "
                        f"f32 {timing.torch32_ms:7.2f} ms  (worst rel. error "
                        f"{timing.worst_error:.1e})"
                    )
    finally:
        torch.set_num_threads(previous_threads)
    return timings


def training_table(timings: list[UpdateTiming]) -> str:
    header = [
        "kind",
        "T",
        "H",
        "engine ms",
        "via full trace ms",
        "torch f64 ms",
        "torch f32 ms",
        "f64/engine",
        "f32/engine",
        "target",
    ]
    lines = [header, ["---", *["---:"] * (len(header) - 2), "---"]]
    for t in timings:
        target = "≤ f64" + (", ≤ 2× f32" if (t.length, t.hidden_size) == TARGET_SIZE else "")
        verdict = "met" if t.met() else "**MISSED**"
        if not t.agrees:
            verdict += f" (MISMATCH {t.worst_error:.1e})"
        lines.append(
            [
                t.kind,
                str(t.length),
                str(t.hidden_size),
                f"{t.engine_ms:.2f}",
                f"{t.full_trace_ms:.2f}",
                f"{t.torch64_ms:.2f}",
                f"{t.torch32_ms:.2f}",
                f"{t.torch64_ms / t.engine_ms:.2f}",
                f"{t.torch32_ms / t.engine_ms:.2f}",
                f"{target}: {verdict}",
            ]
        )
    table = "\n".join("| " + " | ".join(line) + " |" for line in lines)
    return "\n".join(
        [
            f"## One training update: batch {BATCH}, adding task, Adam, clip θ = {CLIP:g}",
            "",
            table,
            "",
            "One thread on both sides and freed memory kept for reuse, as the app's server "
            f"runs; median of {REPEATS} runs of the CPU time per update. "
            "The engine's figure includes `engine.train`'s record (one per run); "
            "'via full trace' is the same loop through `simulate`'s whole trace (the "
            "non-finite scans and reuse copies that `engine.train.training_trace` skips). "
            f"Engine and torch float64 agree on the first update (relative ≤ {AGREEMENT:g}) "
            "unless marked.",
        ]
    )


def report(engine: ModuleType, quick: bool = False) -> str:
    """The training table as Markdown, for bench/engine.py's report."""
    return training_table(training_timings(engine, quick)) + "\n"


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    import engine as engine_package

    found = training_timings(engine_package, quick="--quick" in sys.argv)
    print()
    print(training_table(found))
