"""The gradient explorer's page: watch gradients vanish, explode, get clipped
and get carried by gates.

One entry, ``main()`` (``app/streamlit_app.py`` puts it in the navigation): the
sidebar returns the Settings, the engine runs come from the cache, each tab's
view draws them. Only the open tab runs (``st.tabs(on_change="rerun")``).
Every chart has PNG / SVG buttons under it (``app.views.common.chart``); the
trace's numbers download as CSV / JSON from the bottom of the sidebar. What a
view leaves to finish (the in-chart slider's runs) is done once the whole page
is drawn; the view then draws its chart again in place (``finish_view``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import numpy as np
import streamlit as st

from app import (
    budget,
    budget_notice,
    chart_keys,
    figures,
    inert,
    process,
    tidy,
    upload_buffers,
    worker,
)
from app.explorer import presenter, preset_text, session, sidebar
from app.explorer.presets import matching_preset
from app.explorer.state import Settings
from app.explorer.views.common import Runs
from app.links import CELL_NAMES
from app.page_layout import layout_css
from app.style import access_css, page_css

LOG = logging.getLogger("gradient_flow_lab")
process.one_blas_thread()
process.keep_freed_memory()
process.switch_threads_sooner()
process.freeze_loaded_objects()
process.send_small_messages_at_once()
worker.WORKER.start()  # the in-chart slider's runs are made there
upload_buffers.bound_this_server()  # Streamlit's unread uploads: per session and in all
VIEWS = {title: view.render for title, view in figures.views().items()}
VIEW_KEY = "view"
REDRAWN_KEY = "_redrawn_for"
REDRAW_COUNT_KEY = "_redraws"  # how often the prediction missed: tests read it


def main() -> None:
    st.set_page_config(
        page_title="Gradient Flow Lab",
        page_icon="📉",
        layout="wide",
        initial_sidebar_state="auto",  # collapsed on a narrow screen (200 % zoom)
    )
    # The charts are sent before the notices above them and before the sidebar:
    # the browser draws what reaches it first, first (``session.expected``).
    settings = session.expected()
    if settings.present is not None:  # one chart full screen, for the lecture
        notices = session.pop_notices()
        finish = presenter.render(settings, Runs(settings), notices)
        if finish is not None:
            finish_view(settings, finish)
        return
    top = st.container()
    runs = Runs(settings)
    finish = draw_views(settings, runs)
    with top:
        # the tabs just under the page header: a projector has 768 px of height
        st.html(layout_css(settings))
        st.html(access_css(settings))
        chart_keys.scrollable_formulas()
        css = page_css(settings)
        if css:
            st.html(css)
        notices = session.pop_notices()
        for text in notices:
            st.warning(text)
        preset = matching_preset(settings)
        if preset is not None:
            st.info(f"**{preset}.** {preset_text.sentence(preset, runs).text}")
        if budget.runs_fit(settings):
            report_runs(settings, runs)
    drawn = sidebar.render(settings)
    data_downloads(drawn, runs)
    redraw_if_unexpected(settings, drawn, notices)
    if finish is not None:
        finish_view(settings, finish)


def draw_views(settings: Settings, runs: Runs) -> Callable[[], None] | None:
    """The tabs; only the open one is drawn. Returns what that view left to
    finish once the page is drawn (``finish_view``), if anything."""
    tabs = st.tabs(list(VIEWS), key=VIEW_KEY, on_change="rerun")
    for tab, (title, render) in zip(tabs, VIEWS.items(), strict=True):
        if tab.open is False:
            continue
        with tab, np.errstate(all="ignore"):  # overflow is expected here, and masked
            verdict = budget.check(settings, title)  # before anything runs
            if not verdict.fits:
                budget_notice.draw(verdict)
                return None
            try:
                return render(settings, runs)
            except Exception:  # a view must never show a stack trace
                LOG.exception("view %r failed with %r", title, settings)
                st.error(
                    f"The “{title}” view could not be drawn for these settings. "
                    "The other tabs still work; try changing a setting."
                )
    return None


def finish_view(settings: Settings, finish: Callable[[], None]) -> None:
    """Do the open view's slow remainder (the in-chart slider's runs) once the
    whole page, sidebar included, is sent; the view then draws its chart
    again in place (``app.in_place``), not the whole page."""
    with np.errstate(all="ignore"):
        try:
            finish()
        except Exception:  # the page stays as drawn, without the in-chart slider
            LOG.exception("finishing the view failed with %r", settings)


def _rerun_keeping(notices: list[str]) -> None:
    """Draw the page again, with the notices shown this time."""
    for text in notices:
        session.notice(text)
    st.rerun()


def redraw_if_unexpected(expected: Settings, drawn: Settings, notices: list[str]) -> None:
    """Draw the page again when the widgets gave other Settings than
    ``session.expected`` read (an edited cell of W_hh); once per Settings, so
    that a mistaken prediction cannot loop."""
    state = st.session_state
    if drawn == expected:
        state.pop(REDRAWN_KEY, None)
        return
    state[REDRAW_COUNT_KEY] = state.get(REDRAW_COUNT_KEY, 0) + 1
    if state.get(REDRAWN_KEY) != drawn:
        state[REDRAWN_KEY] = drawn
        _rerun_keeping(notices)
    LOG.warning("the page shows %r, the sidebar holds %r", expected, drawn)


def data_downloads(settings: Settings, runs: Runs) -> None:
    """The trace's numbers as CSV and JSON, at the bottom of the sidebar; built
    only when clicked (the largest settings give hundreds of MB of CSV)."""
    rows = tidy.estimated_rows(settings)
    size = f"about {rows:,} rows" + (", a large file" if rows > 2_000_000 else "")
    with st.sidebar:
        if not budget.downloads_fit(settings):
            budget_notice.downloads_refused()
            return
        st.caption("The numbers behind the charts")
        with st.container(horizontal=True, gap="small", key="downloads_trace"):
            for fmt, text in (
                ("csv", f"tidy CSV: t, cell, quantity, unit, value ({size})"),
                ("json", "JSON: the settings and each cell's arrays"),
            ):
                st.download_button(
                    fmt.upper(),
                    data=_trace_maker(settings, runs, fmt),
                    file_name=tidy.file_name(settings, fmt),
                    mime=tidy.MIME[fmt],
                    on_click="ignore",
                    type="tertiary",
                    icon=":material/download:",
                    key=f"download_trace_{fmt}",
                    help=f"Download the trace as {text}",
                )


def _trace_maker(settings: Settings, runs: Runs, fmt: str):
    def data() -> str:
        with np.errstate(all="ignore"):
            return (
                tidy.trace_csv(settings, runs) if fmt == "csv" else tidy.trace_json(settings, runs)
            )

    return data


def report_runs(settings: Settings, runs: Runs) -> None:
    """Say in words which runs were refused or overflowed (and what is shown)."""
    if settings.bidirectional and "jordan" in settings.cells:
        st.caption(
            "A Jordan network feeds back its previous output, which a backward pass "
            "cannot have: it is shown one-way."
        )
    for kind in settings.cells:
        run = runs.get(kind)
        label = CELL_NAMES[kind]
        if run.error is not None:
            # the engine's message may repeat a value the user gave: shown as text
            st.warning(f"The {label} cannot run with these settings: {inert.plain(run.error)}")
            continue
        trace = run.trace
        if trace.nonfinite_forward is not None:
            st.warning(
                f"The {label}'s hidden state overflowed at step {trace.nonfinite_forward} "
                "(it grew past 10³⁰⁸, the largest number a float can hold), so its loss "
                "and every gradient are infinite: there is nothing finite to draw. "
                "Lower T, the recurrent weight or the spectral radius."
            )
        elif trace.nonfinite_backward is not None:
            st.warning(
                f"The {label}'s gradient overflowed at step {trace.nonfinite_backward} — "
                "showing the finite part."
            )
