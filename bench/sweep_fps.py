"""Frames per second of the backward sweep's Play button in a real browser.

    .venv/bin/python bench/sweep_fps.py [--steps 200] [--repeats 3] [--screenshot DIR]

Builds the sweep figure (Elman RNN and LSTM, T = 200 by default), writes it
as a standalone HTML page (plotly.js inline: nothing is fetched), opens it in
Debian's Chromium through Playwright, clicks Play and times the
``plotly_animatingframe`` events with ``performance.now()`` until
``plotly_animated``. Also counts the browser's painted frames
(requestAnimationFrame) meanwhile and checks that the curtain's edge reached
every step in order. Prints a Markdown table; the target is ≥ 10 fps.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
from playwright.sync_api import sync_playwright

from app import charts
from app.compute import cell_spec, norms_over_time, run_cell
from app.explorer.state import Settings
from app.explorer.views import backward_sweep
from app.explorer.views.common import colour, name
from app.style import styled
from tests.browser_support import launch_chromium

TARGET_FPS = 10.0

LISTEN = """
() => {
  const gd = document.querySelector('.js-plotly-plot');
  const curtain = () => gd._fullData.find(t => t.name === 'not yet reached').x[1];
  window.sweep = {frames: [], names: [], painted: [], done: null, paints: 0, start: null};
  gd.on('plotly_animatingframe', (event) => {
    if (window.sweep.start === null) { window.sweep.start = performance.now(); }
    window.sweep.frames.push(performance.now());
    window.sweep.names.push(event.name);
  });
  gd.on('plotly_animated', () => { window.sweep.done = performance.now(); });
  // the curtain's edge as each painted frame shows it (once per change)
  const paint = () => {
    if (window.sweep.start !== null) {
      window.sweep.paints += 1;
      const edge = curtain();
      const seen = window.sweep.painted;
      if (seen.length === 0 || seen[seen.length - 1] !== edge) { seen.push(edge); }
    }
    if (window.sweep.done === null) { requestAnimationFrame(paint); }
  };
  requestAnimationFrame(paint);
}
"""


def build(steps: int, theme: str, projector: bool):
    settings = Settings(cells=("rnn", "lstm"), seq_len=steps, theme=theme, projector=projector)
    lines = []
    for kind in settings.cells:
        run = run_cell(cell_spec(settings, kind))
        norms = charts.masked(norms_over_time(run.trace.grad_hidden))
        lines.append(backward_sweep.SweepLine(name(kind), colour(kind), norms))
    fig = backward_sweep.sweep_figure(lines, steps=steps)
    return styled(fig, settings)


def measure(page, html: Path, expected_edges: list[int]) -> dict:
    page.goto(html.as_uri())
    page.wait_for_selector(".js-plotly-plot .scatterlayer .trace", timeout=30_000)
    page.evaluate(LISTEN)
    page.locator(".updatemenu-button").first.click()
    page.wait_for_function("window.sweep.done !== null", timeout=120_000)
    result = page.evaluate("window.sweep")
    times = np.array(result["frames"])
    gaps = np.diff(times)
    seconds = (times[-1] - times[0]) / 1000 if times.size > 1 else float("nan")
    return {
        "frames": int(times.size),
        "fps": (times.size - 1) / seconds,
        "worst_gap_ms": float(gaps.max()) if gaps.size else float("nan"),
        "median_gap_ms": float(np.median(gaps)) if gaps.size else float("nan"),
        "paint_fps": result["paints"] / ((result["done"] - result["start"]) / 1000),
        "edges_ok": _in_order(result["painted"], expected_edges),
    }


def _in_order(painted: list[float], expected: list[int]) -> bool:
    """Whether the painted edges, from the first frame's on, are every step in order
    (the first paint may still show the figure's opening state)."""
    seen = [round(e) for e in painted]
    return expected[0] in seen and seen[seen.index(expected[0]) :] == expected


def screenshot(page, html: Path, path: Path) -> None:
    """A picture halfway through a sweep (a run of its own: a screenshot stalls the page)."""
    page.goto(html.as_uri())
    page.wait_for_selector(".js-plotly-plot .scatterlayer .trace", timeout=30_000)
    page.evaluate(LISTEN)
    page.locator(".updatemenu-button").first.click()
    page.wait_for_function("window.sweep.frames.length > 100", timeout=60_000)
    page.screenshot(path=str(path))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--screenshot", type=Path, default=None, help="folder for mid-sweep PNGs")
    args = parser.parse_args()
    expected = [int(s) for s in backward_sweep.sweep_stops(args.steps)]
    duration = backward_sweep.frame_ms(len(expected))
    variants = [("light", False), ("dark", True)]
    rows = []
    with tempfile.TemporaryDirectory() as folder, sync_playwright() as p:
        browser = launch_chromium(p)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        for theme, projector in variants:
            html = Path(folder) / f"sweep_{theme}_{projector}.html"
            started = time.perf_counter()
            fig = build(args.steps, theme, projector)
            build_ms = 1000 * (time.perf_counter() - started)
            fig.write_html(str(html), include_plotlyjs=True, full_html=True)
            for _ in range(args.repeats):
                result = measure(page, html, expected)
                rows.append((theme, projector, build_ms, html.stat().st_size, result))
            if args.screenshot is not None:
                args.screenshot.mkdir(parents=True, exist_ok=True)
                suffix = "_projector" if projector else ""
                screenshot(page, html, args.screenshot / f"sweep_{theme}{suffix}.png")
        browser.close()

    print(f"Backward sweep, T = {args.steps}, Elman RNN + LSTM, {len(expected)} frames")
    most = 1000 / duration
    print(f"of {duration} ms each (at most {most:.0f} fps); target ≥ {TARGET_FPS:g} fps.")
    print("Chromium headless, software rendering (--disable-gpu).\n")
    print(
        "| theme | projector | build (ms) | HTML (MB) | frames | fps | median gap (ms) "
        "| worst gap (ms) | painted fps | every step in order | ≥ 10 fps |"
    )
    print("|---|---|--:|--:|--:|--:|--:|--:|--:|---|---|")
    ok = True
    for theme, projector, build_ms, size, r in rows:
        good = r["fps"] >= TARGET_FPS and r["edges_ok"]
        ok &= good
        print(
            f"| {theme} | {'on' if projector else 'off'} | {build_ms:.0f} | {size / 1e6:.2f} "
            f"| {r['frames']} | {r['fps']:.1f} | {r['median_gap_ms']:.1f} "
            f"| {r['worst_gap_ms']:.1f} | {r['paint_fps']:.0f} "
            f"| {'yes' if r['edges_ok'] else 'NO'} | {'yes' if good else 'NO'} |"
        )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
