"""Gradient Flow Lab: watch gradients vanish, explode, get clipped and get
carried by gates.

Run with ``streamlit run app/streamlit_app.py``. One entry, ``main()``: the
sidebar returns the Settings, the engine runs come from the cache, each tab's
view draws them. Only the open tab runs (``st.tabs(on_change="rerun")``).
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import numpy as np
import streamlit as st

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # streamlit puts app/ on the path, not the repository
    sys.path.insert(0, str(ROOT))

from app import sidebar  # noqa: E402
from app.presets import PRESETS, matching_preset  # noqa: E402
from app.state import CELL_NAMES, Settings  # noqa: E402
from app.views import (  # noqa: E402
    clipping,
    gradient_flow,
    inside_cell,
    phase_diagram,
    why_vanishes,
)
from app.views.common import Runs  # noqa: E402

LOG = logging.getLogger("gradient_flow_lab")
VIEWS = {
    "Gradient flow": gradient_flow.render,
    "Inside the cell": inside_cell.render,
    "Why it vanishes": why_vanishes.render,
    "Clipping": clipping.render,
    "Phase diagram": phase_diagram.render,
}
VIEW_KEY = "view"


def main() -> None:
    st.set_page_config(
        page_title="Gradient Flow Lab",
        page_icon="📉",
        layout="wide",
        initial_sidebar_state="expanded",
    )
    # less empty space above the first chart: a projector has 800 px of height
    st.html("<style>.block-container{padding-top:2.2rem;padding-bottom:2rem}</style>")
    settings = sidebar.render()
    for text in sidebar.pop_notices():
        st.warning(text)
    preset = matching_preset(settings)
    if preset is not None:
        st.info(f"**{preset}.** {PRESETS[preset].look_at}")
    runs = Runs(settings)
    report_runs(settings, runs)
    tabs = st.tabs(list(VIEWS), key=VIEW_KEY, on_change="rerun")
    for tab, (title, render) in zip(tabs, VIEWS.items(), strict=True):
        if tab.open is False:
            continue
        with tab, np.errstate(all="ignore"):  # overflow is expected here, and masked
            try:
                render(settings, runs)
            except Exception:  # a view must never show a stack trace
                LOG.exception("view %r failed with %r", title, settings)
                st.error(
                    f"The “{title}” view could not be drawn for these settings. "
                    "The other tabs still work; try changing a setting."
                )


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
            st.warning(f"The {label} cannot run with these settings: {run.error}")
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


if __name__ == "__main__":
    main()
