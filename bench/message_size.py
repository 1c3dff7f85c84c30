"""The largest message the app sends to the browser, for ``server.maxMessageSize``.

    .venv/bin/python bench/message_size.py [--link '?cell=...'] [--views all]

Streamlit refuses to send a message larger than ``server.maxMessageSize``
(MB, .streamlit/config.toml) and shows an error in its place; each chart is
one message. This opens the largest allowed link (every cell, T = 2000,
H = 256, bidirectional) in AppTest, once per tab (only the open tab is
drawn), and reports the size of each tab's largest element as serialised
(its protobuf; the message around it adds a few dozen bytes). With
``--browser`` it serves the app and opens the link in Chromium instead,
clicking each tab, and reports the largest WebSocket message the browser
received on it: what the limit applies to, the in-chart slider's frames
included. Expect a few minutes of CPU either way.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from streamlit.testing.v1 import AppTest  # noqa: E402

from app import figures  # noqa: E402

LARGEST_LINK = "?cell=rnn,jordan,gru,mgu,lstm,lstm_nofg&bi=1&T=2000&H=256"
APP = str(ROOT / "app" / "streamlit_app.py")


def elements(node):
    """Every element under an AppTest node, depth first."""
    children = getattr(node, "children", None)
    if children:
        for child in children.values():
            yield from elements(child)
    elif getattr(node, "proto", None) is not None:
        yield node


def largest_element(link: str, view: str) -> tuple[int, str, float]:
    """(bytes, element type, seconds) of the largest element that tab sends."""
    at = AppTest.from_file(APP, default_timeout=900)
    for key, value in parse_qsl(urlsplit(link).query, keep_blank_values=True):
        at.query_params[key] = value
    at.session_state["view"] = view
    start = time.perf_counter()
    at.run()
    seconds = time.perf_counter() - start
    if at.exception:
        raise RuntimeError(f"{view}: {at.exception[0].message}")
    sizes = [(e.proto.ByteSize(), e.type) for e in elements(at._tree)]
    size, kind = max(sizes)
    return size, kind, seconds


def largest_frames(link: str, views: list[str]) -> dict[str, tuple[int, float]]:
    """Tab title → (bytes of the largest WebSocket message received while it
    opened and drew, seconds), in Chromium."""
    from playwright.sync_api import sync_playwright

    from tests.browser_support import launch_chromium, new_page, streamlit_server, wait_until_idle

    sizes: list[int] = []
    out = {}
    with streamlit_server() as url, sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        page = new_page(browser)
        page.set_default_timeout(900_000)
        page.on(
            "websocket",
            lambda ws: ws.on("framereceived", lambda payload: sizes.append(len(payload))),
        )
        start = time.perf_counter()
        page.goto(url + "/" + link)
        page.get_by_role("tab", name=views[0], exact=True).wait_for()
        for view in views:
            if view != views[0]:
                sizes.clear()
                start = time.perf_counter()
                page.get_by_role("tab", name=view, exact=True).click()
            page.wait_for_timeout(1000)
            wait_until_idle(page, timeout=900_000, settle_ms=2000)
            out[view] = (max(sizes, default=0), time.perf_counter() - start)
            print(
                f"| {view} | websocket message | {out[view][0] / 1e6:.2f} | {out[view][1]:.0f} |",
                flush=True,
            )
        browser.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--link", default=LARGEST_LINK)
    parser.add_argument("--views", default="all", help="comma-separated tab titles, or all")
    parser.add_argument("--browser", action="store_true", help="measure in Chromium")
    args = parser.parse_args()
    views = list(figures.views()) if args.views == "all" else args.views.split(",")
    print(f"link {args.link}")
    print("| tab | largest element | MB | seconds |")
    print("|---|---|---|---|")
    if args.browser:
        largest_frames(args.link, views)
        return
    for view in views:
        size, kind, seconds = largest_element(args.link, view)
        print(f"| {view} | {kind} | {size / 1e6:.2f} | {seconds:.0f} |", flush=True)


if __name__ == "__main__":
    main()
