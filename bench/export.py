"""Time figure export (``app.export.figure_image``) against the issue's targets.

Targets: the first export of a process ≤ 4 s (it starts the kaleido export
server, hence Chromium); each later one ≤ 0.5 s.

Each run is a fresh Python process (a subprocess), so that the first export
really is the process's first: it builds every chart of the default
settings (``app.figures.all_figures``), exports one as PNG (timed: "first
export"; the imports and the chart building are timed apart), then exports
every chart as PNG and as SVG in turn (each timed: "later export").

Usage (from the repository root):

    .venv/bin/python bench/export.py [--runs 3] [--out bench/results/export.md]

Exit status 0; missed targets are reported in the table, not fatal.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
FIRST_TARGET = 4.0  # s
LATER_TARGET = 0.5  # s

# Run in the child process; prints one JSON line of timings.
CHILD = r"""
import json, sys, time
started = time.perf_counter()
from app.figures import all_figures, quiet_streamlit
quiet_streamlit()
from app import export
from app.explorer.state import Settings
imported = time.perf_counter()
settings = Settings()
figures = all_figures(settings)
built = time.perf_counter()
first_key = "gradient_flow"
t = time.perf_counter()
export.figure_image(figures[first_key], settings, "png")
first = time.perf_counter() - t
later = {"png": [], "svg": []}
sizes = {"png": [], "svg": []}
order = []
for key, fig in figures.items():
    for fmt in ("png", "svg"):
        t = time.perf_counter()
        image = export.figure_image(fig, settings, fmt)
        later[fmt].append(time.perf_counter() - t)
        sizes[fmt].append(len(image))
        order.append([key, fmt, later[fmt][-1]])
export.stop_server()
print(json.dumps({
    "imports": imported - started,
    "build": built - imported,
    "first": first,
    "later": later,
    "sizes": sizes,
    "charts": len(figures),
    "order": order,
}))
"""


def one_run() -> dict:
    result = subprocess.run(
        [sys.executable, "-c", CHILD],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def verdict(value: float, target: float) -> str:
    return "met" if value <= target else "**missed**"


def report(runs: list[dict]) -> str:
    firsts = [r["first"] for r in runs]
    later = {fmt: [t for r in runs for t in r["later"][fmt]] for fmt in ("png", "svg")}
    every_later = later["png"] + later["svg"]
    lines = [
        "# Figure export (kaleido 1.5.0, Debian Chromium)",
        "",
        f"{len(runs)} fresh processes; default settings, {runs[0]['charts']} charts each "
        "exported as PNG (scale 2) and SVG after the first export.",
        "",
        "| what | median | worst | target | verdict |",
        "|---|---|---|---|---|",
        f"| first export of a process (starts Chromium) | {statistics.median(firsts):.2f} s "
        f"| {max(firsts):.2f} s | ≤ {FIRST_TARGET:g} s "
        f"| {verdict(max(firsts), FIRST_TARGET)} |",
    ]
    for fmt in ("png", "svg"):
        values = later[fmt]
        lines.append(
            f"| later export, {fmt.upper()} | {statistics.median(values):.3f} s "
            f"| {max(values):.3f} s | ≤ {LATER_TARGET:g} s "
            f"| {verdict(max(values), LATER_TARGET)} |"
        )
    worst = max(
        ((r["order"].index(o) + 2, o) for r in runs for o in r["order"]), key=lambda x: x[1][2]
    )
    lines.append(
        f"| (slowest later export: {worst[1][0]} {worst[1][1].upper()}, the process's "
        f"export number {worst[0]}) | | {worst[1][2]:.3f} s | | |"
    )
    lines += [
        f"| later export, all ({len(every_later)}) | {statistics.median(every_later):.3f} s "
        f"| {max(every_later):.3f} s | ≤ {LATER_TARGET:g} s "
        f"| {verdict(max(every_later), LATER_TARGET)} |",
        "",
        "Not counted in the first export (same processes, medians): importing the app "
        f"{statistics.median(r['imports'] for r in runs):.2f} s, building every chart of "
        f"the default settings {statistics.median(r['build'] for r in runs):.2f} s.",
        "",
        "Image sizes (median): PNG "
        f"{statistics.median(s for r in runs for s in r['sizes']['png']) / 1e3:.0f} kB, SVG "
        f"{statistics.median(s for r in runs for s in r['sizes']['svg']) / 1e3:.0f} kB.",
    ]
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="fresh processes (default 3)")
    parser.add_argument("--out", type=Path, help="also write the table to this file")
    args = parser.parse_args()
    runs = []
    for i in range(args.runs):
        started = time.perf_counter()
        runs.append(one_run())
        print(f"run {i + 1}/{args.runs}: {time.perf_counter() - started:.1f} s", file=sys.stderr)
    text = report(runs)
    print(text)
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
