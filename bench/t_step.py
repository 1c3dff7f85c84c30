"""What one step of the T slider costs the engine, with and without ``reuse``.

At the app's large settings (T = 1000, H = 128; Elman, GRU and LSTM on the
app's noise input, loss on the last step), each cell is run at T = 1000,
1001, … as the app's cache would: a full ``engine.simulate``, and one handed
the run at the previous T (``reuse=``), interleaved, in one process with the
app's process settings (`app.process`). Both traces are checked to be equal before timing.

Usage (from the repository root):

    .venv/bin/python bench/t_step.py [--steps 30] [--out bench/results/t_step.md]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app import compute, process
from app.explorer.state import Settings

KINDS = ("rnn", "gru", "lstm")
LARGE = Settings(cells=KINDS, seq_len=1000, hidden_size=128)


def milliseconds(run) -> tuple[float, object]:
    start = time.perf_counter()
    result = run()
    return 1000 * (time.perf_counter() - start), result


def measure(steps: int) -> dict[str, dict[str, list[float]]]:
    times = {kind: {"full": [], "reuse": []} for kind in KINDS}
    for kind in KINDS:
        earlier = compute.run_cell(compute.cell_spec(LARGE, kind))
        for T in range(1001, 1001 + steps):
            spec = compute.cell_spec(LARGE.replace(seq_len=T), kind)
            full_ms, full = milliseconds(lambda spec=spec: compute.run_cell(spec))
            reuse_ms, reused = milliseconds(
                lambda spec=spec, earlier=earlier: compute.run_cell(spec, reuse=earlier)
            )
            if not np.array_equal(full.trace.grad_hidden, reused.trace.grad_hidden):
                raise SystemExit(f"{kind} at T = {T}: the reused run differs")
            times[kind]["full"].append(full_ms)
            times[kind]["reuse"].append(reuse_ms)
            earlier = reused
    return times


def report(times: dict[str, dict[str, list[float]]], steps: int) -> str:
    lines = [
        f"Engine time of one T step at T = 1000, H = 128 (median of {steps}, ms)",
        "",
        "| cell | full run | reusing T − 1 | saved |",
        "| --- | ---: | ---: | ---: |",
    ]
    totals = {"full": 0.0, "reuse": 0.0}
    for kind, by_way in times.items():
        full, reuse = (statistics.median(by_way[way]) for way in ("full", "reuse"))
        totals["full"] += full
        totals["reuse"] += reuse
        lines.append(f"| {kind} | {full:.1f} | {reuse:.1f} | {1 - reuse / full:.0%} |")
    full, reuse = totals["full"], totals["reuse"]
    lines.append(f"| all three | {full:.1f} | {reuse:.1f} | {1 - reuse / full:.0%} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--out", type=Path, help="also write the Markdown here")
    args = parser.parse_args()
    process.one_blas_thread()
    process.keep_freed_memory()
    text = report(measure(args.steps), args.steps)
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text)


if __name__ == "__main__":
    main()
