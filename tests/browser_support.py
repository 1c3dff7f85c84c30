"""Driving the app in Debian's Chromium: shared by tests/test_browser.py and
bench/app_latency.py.

- ``streamlit_server(script)``: ``streamlit run`` on 127.0.0.1 at a free port
  (the recipe's flags: nothing leaves the machine), waits for
  ``/_stcore/health``, stops it with SIGTERM on its own PID.
- ``launch_chromium(playwright)``: /usr/bin/chromium, headless, no network
  chatter. Never a downloaded browser.
- Charts are found by their Streamlit key: ``st.plotly_chart(key="k")``
  puts its element in a container with the class ``st-key-k``. Their drawn
  data is read from ``gd._fullData`` (decoded numbers; ``gd.data`` may still
  hold base64 typed arrays).
- ``install_redraw_probe`` / ``arm_redraw`` / ``wait_for_redraw``: the time
  from a key press or mouse press to the moment a chart's drawn data differs,
  both taken in the page with ``performance.now()``.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
APP = ROOT / "app" / "streamlit_app.py"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT = {"width": 1400, "height": 900}
STREAMLIT_FLAGS = [
    "--server.headless",
    "true",
    "--server.address",
    "127.0.0.1",
    "--browser.gatherUsageStats",
    "false",
    "--server.fileWatcherType",
    "none",
    "--global.developmentMode",
    "false",
    "--client.toolbarMode",
    "minimal",
]
APP_IDLE = "[data-testid=stApp][data-test-script-state=notRunning]"


# ---- the server ---------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "/_stcore/health", timeout=2) as reply:
            return reply.status == 200 and reply.read().strip() == b"ok"
    except (urllib.error.URLError, OSError):
        return False


@contextlib.contextmanager
def streamlit_server(
    script: Path = APP, *, start_timeout: float = 60.0, flags: tuple[str, ...] = ()
) -> Iterator[str]:
    """Serve ``script`` on 127.0.0.1; yields its base URL (no trailing slash).
    ``flags``: more of ``streamlit run``'s options, after the project's.

    The server's output goes to a temporary log, shown if it fails to start."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(script),
        "--server.port",
        str(port),
        *STREAMLIT_FLAGS,
        *flags,
    ]
    with tempfile.TemporaryFile(mode="w+") as log:
        process = subprocess.Popen(
            command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env=os.environ.copy()
        )
        try:
            deadline = time.monotonic() + start_timeout
            while not _healthy(url):
                if process.poll() is not None or time.monotonic() > deadline:
                    log.seek(0)
                    raise RuntimeError(
                        f"streamlit did not start on {url} (exit code {process.poll()}):\n"
                        + log.read()[-4000:]
                    )
                time.sleep(0.2)
            yield url
        finally:
            _stop(process)


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=15)


# ---- the browser --------------------------------------------------------------------


def launch_chromium(playwright: Any):
    """Debian's Chromium, headless, talking to nothing but the pages it is sent to."""
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


def new_page(browser: Any):
    """A page in a fresh context (so a fresh Streamlit session)."""
    context = browser.new_context(viewport=VIEWPORT)
    return context.new_page()


def chart_selector(key: str) -> str:
    """CSS for the Plotly graph div of the chart drawn with Streamlit key ``key``."""
    return f".st-key-{key} .js-plotly-plot"


_CHART_DRAWN = """(selector) => {
    const gd = document.querySelector(selector);
    return Boolean(gd && gd._fullData && gd._fullData.length > 0
                   && gd._fullLayout && gd.querySelector('.main-svg'));
}"""


def wait_for_chart(page: Any, key: str, *, timeout: float = 60_000) -> None:
    """Wait until the chart with Streamlit key ``key`` has drawn its traces."""
    page.wait_for_function(_CHART_DRAWN, arg=chart_selector(key), timeout=timeout)


def wait_until_idle(page: Any, *, timeout: float = 60_000, settle_ms: int = 300) -> None:
    """Wait until the script is not running, and still not running ``settle_ms`` later
    (a rerun that a click asked for may not have started yet)."""
    page.wait_for_selector(APP_IDLE, state="attached", timeout=timeout)
    page.wait_for_timeout(settle_ms)
    page.wait_for_selector(APP_IDLE, state="attached", timeout=timeout)


_READ_TRACES = """(selector) => {
    const gd = document.querySelector(selector);
    if (!gd || !gd._fullData) return null;
    const plain = (values) => (values && typeof values.length === 'number')
        ? Array.from(values, (v) => (typeof v === 'number' || v === null) ? v : Number(v))
        : null;
    return gd._fullData.map((trace) => ({
        name: trace.name ?? null,
        type: trace.type,
        visible: trace.visible,
        x: plain(trace.x),
        y: plain(trace.y),
    }));
}"""


def chart_traces(page: Any, key: str) -> list[dict]:
    """The drawn traces of chart ``key``: dicts with name, type, visible, x, y
    (x and y: lists of numbers, NaN where masked; None when the trace has none)."""
    traces = page.evaluate(_READ_TRACES, chart_selector(key))
    if traces is None:
        raise LookupError(f"no drawn chart with key {key!r}")
    return traces


def charts_drawn(page: Any, within: str = "body") -> int:
    """How many Plotly charts inside ``within`` (CSS) have drawn their traces."""
    return page.evaluate(
        """(within) => [...document.querySelectorAll(within + ' .js-plotly-plot')]
            .filter((gd) => gd._fullData && gd._fullData.length > 0
                            && gd.querySelector('.main-svg')).length""",
        within,
    )


# ---- timing a redraw ----------------------------------------------------------------

_PROBE = """() => {
    if (window.__redrawProbe) return;
    const probe = {start: null, end: null, observer: null};
    // A cheap fingerprint of every trace's drawn y values (length and a weighted sum).
    probe.signature = (selector) => {
        const gd = document.querySelector(selector);
        if (!gd || !gd._fullData) return null;
        return gd._fullData.map((trace) => {
            const y = trace.y;
            if (!y || typeof y.length !== 'number') return '-';
            let sum = 0;
            for (let i = 0; i < y.length; i++) {
                const v = Number(y[i]);
                if (Number.isFinite(v)) sum += v * (1 + (i % 7));
            }
            return y.length + ':' + sum;
        }).join('|');
    };
    probe.arm = (selector) => {
        if (probe.observer) probe.observer.disconnect();
        const before = probe.signature(selector);
        probe.start = null;
        probe.end = null;
        probe.observer = new MutationObserver(() => {
            if (probe.end !== null) return;
            const now = probe.signature(selector);
            if (now !== null && now !== before) {
                probe.end = performance.now();
                probe.observer.disconnect();
            }
        });
        probe.observer.observe(document.body, {
            subtree: true, childList: true, attributes: true, characterData: true,
        });
        // when the rerun started and finished, as the page learnt it
        probe.scriptStates = [];
        if (probe.stateObserver) probe.stateObserver.disconnect();
        const app = document.querySelector('[data-testid=stApp]');
        if (app) {
            probe.stateObserver = new MutationObserver(() => probe.scriptStates.push(
                [app.getAttribute('data-test-script-state'), performance.now()]));
            probe.stateObserver.observe(app, {
                attributes: true, attributeFilter: ['data-test-script-state'],
            });
        }
        return before;
    };
    // the first key or mouse press after arming starts the clock
    const started = () => { if (probe.start === null) probe.start = performance.now(); };
    document.addEventListener('keydown', started, true);
    document.addEventListener('mousedown', started, true);
    window.__redrawProbe = probe;
}"""


def install_redraw_probe(page: Any) -> None:
    page.evaluate(_PROBE)


def arm_redraw(page: Any, selector: str) -> None:
    """Remember the drawn data of the chart at ``selector`` (CSS of its graph
    div; several comma-separated are allowed, the first present is read) and
    start watching for a change; the next key or mouse press starts the clock."""
    install_redraw_probe(page)  # a no-op when present; a reload would have lost it
    page.evaluate("(selector) => window.__redrawProbe.arm(selector)", selector)


def wait_for_redraw(page: Any, *, timeout: float = 60_000) -> float:
    """Milliseconds from the press to the changed chart (both timed in the page)."""
    page.wait_for_function(
        "() => window.__redrawProbe.end !== null && window.__redrawProbe.start !== null",
        timeout=timeout,
    )
    return page.evaluate("() => window.__redrawProbe.end - window.__redrawProbe.start")


def click_chart_slider(page: Any, key: str, fraction: float) -> None:
    """Click the in-chart Plotly slider of chart ``key`` at ``fraction`` (0 … 1)
    of its rail's width."""
    rail = page.locator(f".st-key-{key} .slider-rail-rect").first
    box = rail.bounding_box()
    if box is None:
        raise LookupError(f"chart {key!r} has no visible in-chart slider")
    page.mouse.click(box["x"] + box["width"] * fraction, box["y"] + box["height"] / 2)


def screenshot_whole_app(page: Any, path: Path) -> None:
    """A screenshot of the whole main area and sidebar.

    Streamlit scrolls inside ``stMain`` and ``stSidebarContent``, not the
    document, so ``full_page=True`` alone stops at the viewport: the viewport
    is made as tall as the taller of the two for the shot, then restored."""
    height = page.evaluate(
        """() => Math.max(window.innerHeight, ...['stMain', 'stSidebarContent'].map(
            (id) => document.querySelector(`[data-testid=${id}]`)?.scrollHeight ?? 0))"""
    )
    size = page.viewport_size or VIEWPORT
    page.set_viewport_size({"width": size["width"], "height": int(height)})
    try:
        page.wait_for_timeout(300)  # let Plotly's responsive charts settle
        page.screenshot(path=path, full_page=True)
    finally:
        page.set_viewport_size(size)


def script_timeline(page: Any) -> dict[str, float | None]:
    """After ``wait_for_redraw`` (and the script's end): milliseconds from the
    press to the page seeing the rerun start (``running``) and finish
    (``notRunning`` after it); None when it saw no rerun (the in-chart slider)."""
    return page.evaluate(
        """() => {
            const probe = window.__redrawProbe;
            const after = (state, from) => probe.scriptStates.find(
                ([s, t]) => s === state && t >= from);
            const running = after('running', probe.start);
            const finished = running && after('notRunning', running[1]);
            return {
                rerun_started: running ? running[1] - probe.start : null,
                script_finished: finished ? finished[1] - probe.start : null,
            };
        }"""
    )
