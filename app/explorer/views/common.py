"""What every view shares: the runs of the cells shown, names, the text column,
and ``chart``, the one place a figure is put on the page (with its download
buttons)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import plotly.graph_objects as go
import streamlit as st

from app import alt_text, cached, chart_keys, export, inert
from app.charts import CELL_COLOURS
from app.compute import CellRun, CellSpec, cell_spec
from app.explorer.state import Settings
from app.links import CELL_NAMES
from app.style import styled

TEXT_BESIDE = [2.1, 1]  # chart : text
MAX_STEPS_DRAWN = 600  # points per line; heatmaps take at most 300 columns
# Plotly's toolbar, shown on hover over the top right of a chart, kept to zoom,
# pan and reset (images download from the buttons under each chart): its nine
# buttons, 224 px, covered the end of the title (app.titles.TOOLBAR_WIDTH)
CHART_CONFIG = {
    "displaylogo": False,
    "responsive": True,
    "modeBarButtonsToRemove": [
        "select2d",
        "lasso2d",
        "zoomIn2d",
        "zoomOut2d",
        "autoScale2d",
        "toImage",
    ],
}
# The browser draws a chart late when the rest of the page arrives right
# behind it: it works through all of it first. Sent alone for a moment, the
# chart is drawn at once. After a T press (default settings, two cores, 15
# presses each) the redraw took 133 ms straight, 85 ms with 10 ms alone and
# 83 ms with 20 ms; the trivial one-chart app takes 62-67 ms.
ALONE_SECONDS = 0.02


class Runs:
    """The engine runs of the cells shown, fetched (from the cache) when first asked."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._runs: dict[str, CellRun] = {}

    def spec(self, kind: str) -> CellSpec:
        return cell_spec(self.settings, kind)

    def get(self, kind: str) -> CellRun:
        if kind not in self._runs:
            self._runs[kind] = cached.cell_run(self.spec(kind))
        return self._runs[kind]

    def finished(self) -> Iterator[tuple[str, CellRun]]:
        """(kind, run) of every cell shown whose run the engine accepted."""
        for kind in self.settings.cells:
            run = self.get(kind)
            if run.trace is not None:
                yield kind, run

    @property
    def focus(self) -> str:
        return self.settings.focus_cell


def name(kind: str) -> str:
    return CELL_NAMES[kind]


def colour(kind: str) -> str:
    return CELL_COLOURS[kind]


FigureOrMaker = go.Figure | Callable[[], go.Figure]


def chart(
    fig: go.Figure,
    key: str,
    settings: Settings,
    *,
    downloads: bool = True,
    alone: bool = False,
    follow: chart_keys.Follow | None = None,
) -> None:
    """Draw ``fig`` under ``key``: the one place a figure reaches the page.

    ``downloads``: a PNG / SVG row under it, exporting this same figure
    (a view whose chart differs from its export draws that row itself).
    ``alone``: hold the rest of the page back ALONE_SECONDS, for a view's
    first chart (see ALONE_SECONDS). Under it: the keyboard's controls of an
    in-chart slider (``app.chart_keys``) and the chart in words, for screen
    readers (``app.alt_text``); ``follow``: what follows that slider (see
    ``chart_keys.Follow``)."""
    st.plotly_chart(styled(fig, settings), key=key, config=CHART_CONFIG, theme=None)
    if alone:
        time.sleep(ALONE_SECONDS)
    spec = fig.to_dict()
    off_axis = (spec["layout"].get("meta") or {}).get(alt_text.OFF_AXIS)
    if off_axis:  # the arrows on the chart, in words (``app.axis_exits``)
        # full contrast (a caption's faded grey fails WCAG's 4.5:1): it says what is not drawn
        # (line names may hold h_t: no markup)
        st.markdown("Off the chart: " + "; ".join(inert.plain(s) for s in off_axis) + ".")
    if chart_keys.has_controls(spec):
        chart_keys.controls(key, follow)
    st.html(alt_text.hidden_paragraph(key, alt_text.describe(key, spec)))
    if downloads:
        download_row(key, settings, fig)


def chart_element_keys(key: str) -> tuple[str, ...]:
    """The element keys ``chart`` draws for chart ``key`` (``app.in_place``)."""
    return key, chart_keys.component_key(key)


def download_row(key: str, settings: Settings, fig: FigureOrMaker) -> None:
    """Small PNG and SVG buttons in one row. Nothing is rendered until a
    button is clicked (``data`` is a callable) and a click does not rerun the
    script; ``fig`` may be a figure or a function that makes one."""
    with st.container(horizontal=True, gap="small", key=f"downloads_{key}"):
        for fmt in export.FORMATS:
            st.download_button(
                fmt.upper(),
                data=_image_maker(fig, settings, fmt),
                file_name=export.file_name(key, settings, fmt),
                mime=export.MIME[fmt],
                on_click="ignore",
                type="tertiary",
                icon=":material/download:",
                key=f"download_{key}_{fmt}",
                help=export.FORMAT_HELP[fmt],
            )


def _image_maker(fig: FigureOrMaker, settings: Settings, fmt: str) -> Callable[[], bytes]:
    def image() -> bytes:
        figure = fig() if callable(fig) else fig
        return export.figure_image(figure, settings, fmt)

    return image
