"""Time from opening a copied link to its drawn charts, in Chromium.

    .venv/bin/python bench/open_link.py [--reps 5] [--out bench/results/open_link.md]

A teacher pastes a link into the course forum and forty students open it, so
the time that matters is a fresh browser context (a new Streamlit session)
going to the link until the gradient-flow chart has drawn its traces (for
settings no one has opened yet, before its in-chart slider's runs are made,
which the app does next and then draws the chart again with the slider). The
first open after the server starts pays for imports and cold caches; later
opens of the same link find the engine runs cached; a link with settings no
one has opened yet runs the engine. Target (issue 4): at most 3 s.

For scale, the trivial one-slider app (bench/trivial_app.py) is timed the same
way in the same run: most of an open is Chromium loading Streamlit's front end
into a context with an empty cache, which no app code can shorten (about 2 s of
it compiling the 4.7 MB Plotly bundle Streamlit fetches for the first chart).

Each link is opened two ways:
- *new visitor*: a fresh browser context each time, so an empty HTTP cache;
- *returning visitor*: a new tab in one context that has opened the app before
  (any link), so Streamlit's front end comes from the browser's cache, as it
  does for a student who opened the course's app in an earlier lecture.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from playwright.sync_api import sync_playwright

from tests.browser_support import (
    ROOT,
    launch_chromium,
    new_page,
    streamlit_server,
    wait_for_chart,
)

TARGET_SECONDS = 3.0
LINKS = {
    "default": "",
    "exploding preset": "?cell=rnn&H=1&wh=1.1&act=linear&T=60",
    "three cells, T = 1000, H = 128": "?cell=rnn,gru,lstm&T=1000&H=128",
}


TRIVIAL_APP = ROOT / "bench" / "trivial_app.py"
TRIVIAL_CHART = "[data-testid=stPlotlyChart] .js-plotly-plot .main-svg"


def open_seconds(browser, url: str, *, trivial: bool = False, context=None) -> float:
    """Seconds from ``goto`` to the drawn gradient-flow chart (or, for the
    trivial app, its one chart): in a fresh context, or in a new tab of
    ``context`` (a returning visitor)."""
    page = new_page(browser) if context is None else context.new_page()
    try:
        start = time.perf_counter()
        page.goto(url)
        if trivial:
            page.wait_for_selector(TRIVIAL_CHART, timeout=120_000)
        else:
            wait_for_chart(page, "gradient_flow", timeout=120_000)
        return time.perf_counter() - start
    finally:
        if context is None:
            page.context.close()
        else:
            page.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=5, help="warm opens per link")
    parser.add_argument("--out", type=Path, help="also write the table here")
    args = parser.parse_args()

    rows = []
    with (
        streamlit_server() as base,
        streamlit_server(TRIVIAL_APP) as trivial_base,
        sync_playwright() as playwright,
    ):
        browser = launch_chromium(playwright)
        returning = {}  # app base URL → a context that has visited it once
        for app_base, trivial in ((trivial_base, True), (base, False)):
            returning[app_base] = page = new_page(browser)
            page.goto(f"{app_base}/?seed=99")  # an earlier visit: another link
            if trivial:
                page.wait_for_selector(TRIVIAL_CHART, timeout=120_000)
            else:
                wait_for_chart(page, "gradient_flow", timeout=120_000)
        links = [("(trivial one-slider app, for scale)", trivial_base, "", True)]
        links += [(label, base, query, False) for label, query in LINKS.items()]
        for label, app_base, query, trivial in links:
            url = f"{app_base}/{query}"
            first = open_seconds(browser, url, trivial=trivial)
            new = [open_seconds(browser, url, trivial=trivial) for _ in range(args.reps)]
            back = [
                open_seconds(browser, url, trivial=trivial, context=returning[app_base].context)
                for _ in range(args.reps)
            ]
            rows.append((label, first, statistics.median(new), max(new), back))
        browser.close()

    lines = [
        "# Opening a link to drawn charts (Chromium)",
        "",
        f"First open of each link on a fresh server (new visitor), then {args.reps} more "
        f"opens as a new visitor and {args.reps} as a returning one.",
        "",
        "| link | first open s | new visitor, median s | new visitor, worst s "
        "| returning, median s | returning, worst s | target | new visitor | returning |",
        "| --- | ---: | ---: | ---: | ---: | ---: | --- | --- | --- |",
    ]
    for label, first, median, worst, back in rows:
        new_status = "met" if max(first, worst) <= TARGET_SECONDS else "**missed**"
        back_status = "met" if max(back) <= TARGET_SECONDS else "**missed**"
        lines.append(
            f"| {label} | {first:.2f} | {median:.2f} | {worst:.2f} "
            f"| {statistics.median(back):.2f} | {max(back):.2f} "
            f"| ≤ {TARGET_SECONDS:g} s | {new_status} | {back_status} |"
        )
    table = "\n".join(lines) + "\n"
    print(table)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(table)


if __name__ == "__main__":
    main()
