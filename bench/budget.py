"""The worst links the page budget allows: seconds and peak memory of each.

    .venv/bin/python bench/budget.py [--out bench/results/budget.md]

Issue 12: one link once took 177 s of CPU and 8.7 GB; the budget
(``app/budget.py``) must hold the worst link it allows to at most 1.5 GB.
For each tab, the settings just inside the budget (the largest T the
budget's own search allows with six cells or the dearest cell at H = 256,
bidirectional where it counts) are opened in a fresh Python process that
does the page's work in-process, through the app's compute functions, with
the server's process settings (one BLAS thread): the cells' runs, then the
tab's charts as the export builds them (``figures(settings, runs)``: the
same runs, Jacobian norms, T × T map and phase diagram as ``render``), and
for the gradient-flow tab the in-chart slider's 41 runs per cell. Each row
gives the budget's estimate beside the wall and CPU seconds and the process's
peak resident memory (``ru_maxrss``; the import alone is the baseline).
Wall seconds depend on how busy the machine is; the estimate does not.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

ALL_CELLS = ("rnn", "jordan", "gru", "mgu", "lstm", "lstm_nofg")
HEAVY = {
    "cells": ALL_CELLS,
    "bidirectional": True,
    "hidden_size": 256,
    "setup": "many_to_many",
    "truncation": 1,
    "clip": 1e-6,
}
# (label, tab, settings without T; the bench finds the largest T that fits)
CASES = [
    ("six cells, both ways, H = 256", "Gradient flow", HEAVY),
    ("six cells, both ways, H = 256", "Inside the cell", HEAVY),
    ("six cells, both ways, H = 256", "Clipping", HEAVY),
    ("LSTM, H = 256", "Why it vanishes", {"cells": ("lstm",), "hidden_size": 256}),
    (
        "orthogonal linear GRU, ρ = 1, H = 256 (nothing converges)",
        "Why it vanishes",
        {
            "cells": ("gru",),
            "hidden_size": 256,
            "init": "orthogonal",
            "spectral_radius": 1.0,
            "activation": "linear",
        },
    ),
    ("Elman and LSTM, H = 32, with the T × T map", "map", {"hidden_size": 32}),
    (
        "LSTM both ways, H = 256",
        "Phase diagram",
        {"cells": ("lstm",), "bidirectional": True, "hidden_size": 256},
    ),
    ("Elman and LSTM, H = 128, the in-chart slider", "slider", {"hidden_size": 128}),
    ("Elman and LSTM, H = 64, CSV and JSON", "downloads", {"hidden_size": 64}),
]
TABS = {"slider": "Gradient flow", "map": "Why it vanishes", "downloads": "Backward sweep"}


def largest_steps(fields: dict, view: str) -> int:
    """The largest T (exact, not on the offers' grid) the budget allows."""
    from app import budget
    from app.explorer.state import Settings

    def fits(steps: int) -> bool:
        settings = Settings(**fields, seq_len=steps)
        page = budget.check(settings, TABS.get(view, view)).fits
        if view == "slider":
            return page and budget.slider_fits(settings)
        if view == "map":
            return page and budget.sensitivity_fits(settings)
        if view == "downloads":
            return page and budget.downloads_fit(settings)
        return page

    low, high = 2, 2000
    if view == "map":
        high = 300
    if fits(high):
        return high
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (middle, high) if fits(middle) else (low, middle)
    return low


def one(fields: dict, view: str) -> dict:
    """Open one link in this process: the page's work for ``view``."""
    from app import budget, figures, process
    from app.explorer.state import Settings
    from app.explorer.views.common import Runs

    process.one_blas_thread()
    baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    settings = Settings(**fields)
    tab = TABS.get(view, view)
    verdict = budget.check(settings, tab)
    assert verdict.fits, verdict
    estimate = verdict.cost
    wall, cpu = time.perf_counter(), time.process_time()
    runs = Runs(settings)
    list(runs.finished())
    figures.view_figures(figures.views()[tab], settings, runs)
    if view == "slider":
        from app import cached, sweeps

        estimate = budget.slider_cost(settings)
        for kind in settings.cells:  # as the app makes them: a few stacked runs
            spec = cached.knob_free(runs.spec(kind))
            values, start = sweeps.scrub_values(spec), 0
            for size in sweeps.stack_sizes(spec, len(values)):
                cached.knob_frames(spec, tuple(float(v) for v in values[start : start + size]))
                start += size
    elif view == "map":
        estimate = estimate + budget.sensitivity_cost(settings)
    elif view == "downloads":
        from app import tidy

        estimate = budget.downloads_cost(settings)
        tidy.trace_csv(settings, runs)
        tidy.trace_json(settings, runs)
    return {
        "T": settings.seq_len,
        "estimate_s": estimate.seconds,
        "estimate_mb": estimate.bytes / 2**20,
        "wall_s": time.perf_counter() - wall,
        "cpu_s": time.process_time() - cpu,
        "baseline_mb": baseline / 2**20,
        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=None, help="also write the table here")
    parser.add_argument("--only", default="", help="the cases whose link or tab has this text")
    parser.add_argument("--one", help=argparse.SUPPRESS)  # JSON: [fields, view]
    args = parser.parse_args()
    if args.one:
        fields, view = json.loads(args.one)
        fields["cells"] = tuple(fields.get("cells", ("rnn", "lstm")))
        print(json.dumps(one(fields, view)))
        return
    from app import budget

    rows = [
        "| link | tab | T | estimate s | estimate MB | wall s | CPU s | baseline MB | peak MB |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    print(rows[0], rows[1], sep="\n", flush=True)
    worst = 0.0
    for label, view, fields in CASES:
        if args.only not in label + view:
            continue
        fields = dict(fields, seq_len=largest_steps(fields, view))
        spec = json.dumps([dict(fields, cells=list(fields.get("cells", ("rnn", "lstm")))), view])
        done = subprocess.run(
            [sys.executable, __file__, "--one", spec],
            capture_output=True,
            text=True,
            check=True,
            cwd=ROOT,
        )
        r = json.loads(done.stdout.strip().splitlines()[-1])
        worst = max(worst, r["peak_mb"])
        rows.append(
            f"| {label} | {view} | {r['T']} | {r['estimate_s']:.1f} | {r['estimate_mb']:.0f} "
            f"| {r['wall_s']:.1f} | {r['cpu_s']:.1f} | {r['baseline_mb']:.0f} "
            f"| {r['peak_mb']:.0f} |"
        )
        print(rows[-1], flush=True)
    summary = (
        f"\nBudget: {budget.RERUN_SECONDS:g} s and {budget.RERUN_BYTES / 2**20:.0f} MB a page "
        f"({budget.SLIDER_SECONDS:g} s for the in-chart slider); worst peak RSS "
        f"{worst:.0f} MB (target ≤ 1536 MB)."
    )
    print(summary)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text("\n".join(rows) + "\n" + summary + "\n")


if __name__ == "__main__":
    main()
