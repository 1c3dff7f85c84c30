"""The training lab's speed: the engine alone against the page in Chromium,
side by side in one run, and the cliff.

    .venv/bin/python bench/lab.py [--seconds 30] [--out bench/results/lab.md]

1. ``engine.train`` alone on the default preset (adding, T = 50, H = 32,
   Elman, GRU and LSTM, Adam 0.01, clip 1, batch 32): updates per second of
   wall time, as the lab makes them (``Training.advance``, validation included).
2. The same preset in the app, in headless Chromium, for ``--seconds``:
   updates per second of wall time while the live charts redraw (read from
   the page's progress line), and what the loss chart's sentences say at the
   end (the contrast: Elman at the baseline, GRU and LSTM below 0.01 MSE).
3. The cliff: the 100 × 100 surface as one stacked run, and both descents.

Targets: the page's rate at least 80 % of the engine's; the contrast within
30 s; the cliff under 1 s.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from app import process  # noqa: E402
from app.lab import cliff  # noqa: E402
from app.lab.state import LabSettings  # noqa: E402
from app.lab.training import Training  # noqa: E402
from tests.browser_support import (  # noqa: E402
    launch_chromium,
    new_page,
    streamlit_server,
    wait_until_idle,
)

PROGRESS = re.compile(r"(\d+) of (\d+) updates")


def engine_alone(seconds: float) -> tuple[float, Training]:
    run = Training.start(LabSettings())
    started = time.perf_counter()
    while time.perf_counter() - started < seconds and not run.finished:
        run.advance(0.4)
    return run.done / (time.perf_counter() - started), run


def in_the_page(seconds: float) -> tuple[float, list[str]]:
    with streamlit_server() as url, sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        page = new_page(browser)
        page.goto(url + "/training_lab")
        wait_until_idle(page, timeout=120_000)
        page.get_by_role("button", name="▶ Start").click()
        page.wait_for_selector("text=/\\d+ of \\d+ updates/", timeout=120_000)
        started, first = time.perf_counter(), _updates(page)
        page.wait_for_timeout(seconds * 1000)
        done = _updates(page)
        rate = (done - first) / (time.perf_counter() - started)
        said = page.locator("[data-testid=stMarkdownContainer]").all_inner_texts()
        browser.close()
    return rate, [s for s in said if "validation loss" in s]


def _updates(page) -> int:
    text = page.locator("[data-testid=stProgress]").inner_text()
    return int(PROGRESS.search(text).group(1))


def the_cliff() -> tuple[float, float]:
    cliff.surface()  # the first call pays NumPy's and the engine's warm-up
    started = time.perf_counter()
    cliff.surface()
    surface_seconds = time.perf_counter() - started
    started = time.perf_counter()
    cliff.descents((6.0, cliff.cliff_edge(6.0) + 1e-6), 1.0, 1.0)
    return surface_seconds, time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "lab.md")
    args = parser.parse_args(argv)
    process.one_blas_thread()
    alone, run = engine_alone(args.seconds)
    page_rate, said = in_the_page(args.seconds)
    surface_seconds, descent_seconds = the_cliff()
    lines = [
        f"# Training lab, default preset, {args.seconds:g} s each",
        "",
        "| where | updates per second | share of the engine's |",
        "| --- | ---: | ---: |",
        f"| engine.train alone | {alone:.1f} | 100 % |",
        f"| the page in Chromium, live charts | {page_rate:.1f} | {page_rate / alone:.0%} |",
        "",
        f"Engine alone after {run.done} updates: "
        + "; ".join(
            f"{line.name} validation loss {kept.validation[-1][0]:.3g}"
            for line, kept in run.history.items()
            if kept.validation
        ),
        "",
        "The page's loss sentences at the end:",
        *(f"- {s}" for s in said),
        "",
        f"Cliff: surface (100 × 100, one stacked run) {surface_seconds:.3f} s; "
        f"both descents (40 steps) {descent_seconds:.3f} s; "
        f"together {surface_seconds + descent_seconds:.3f} s (target < 1 s).",
    ]
    report = "\n".join(lines)
    print(report)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(report + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
