"""What every view shares: the runs of the cells shown, names, the text column."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import streamlit as st

from app import cached
from app.charts import CELL_COLOURS
from app.compute import CellRun, CellSpec, cell_spec
from app.state import CELL_NAMES, Settings

TEXT_BESIDE = [2.1, 1]  # chart : text
MAX_STEPS_DRAWN = 600  # points per line; heatmaps take at most 300 columns
CHART_CONFIG = {"displaylogo": False, "responsive": True}


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


def text_column(*paragraphs: str, latex: list[str] | None = None) -> None:
    """The two to four sentences beside a chart, and its equation(s)."""
    for paragraph in paragraphs:
        if paragraph:
            st.markdown(paragraph)
    for formula in latex or []:
        st.latex(formula)


def chart(fig, key: str) -> None:
    st.plotly_chart(fig, key=key, config=CHART_CONFIG, theme=None)


def sci(value: float | None, digits: int = 3) -> str:
    """A number for the text: 117.39, 0.00515, 3.2 × 10⁻²⁵."""
    if value is None or not np.isfinite(value):
        return "—"
    if value == 0:
        return "0"
    exponent = int(np.floor(np.log10(abs(value))))
    if -3 <= exponent <= 4:
        return f"{value:.{max(0, digits - 1 - exponent)}f}" if exponent < digits else f"{value:.0f}"
    mantissa = value / 10**exponent
    return f"{mantissa:.{digits - 1}f} × 10{str(exponent).translate(_SUPERSCRIPT)}"


_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def latex_number(value: float | None, digits: int = 3) -> str:
    """The same number for st.latex."""
    if value is None or not np.isfinite(value):
        return r"\text{—}"
    if value == 0:
        return "0"
    exponent = int(np.floor(np.log10(abs(value))))
    if -3 <= exponent <= 4:
        return f"{value:.{max(0, digits - 1 - exponent)}f}" if exponent < digits else f"{value:.0f}"
    mantissa = value / 10**exponent
    return rf"{mantissa:.{digits - 1}f} \times 10^{{{exponent}}}"
