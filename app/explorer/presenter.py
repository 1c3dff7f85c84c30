"""The presenter view: one chart filling a projector's screen, its key numbers
beside it in large text, and the keys a presentation clicker sends.

A link with ``show=flow`` (the gradient flow and its in-chart slider) or
``show=sweep`` (the backward sweep) opens it; the sidebar's *Present* buttons
do the same in the open session. The sidebar is hidden and the chart is
styled as in projector mode. Left / Right and Page Up / Page Down (what a
clicker sends) step the chart's slider one frame in the browser, without a
rerun (``PRESENTER_KEYS_JS``, driving ``app.chart_keys``' controls).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from app import budget, budget_notice, flow_chart, in_place
from app.compute import gradient_ratio, norms_over_time
from app.explorer import lecture, session
from app.explorer.state import Settings
from app.explorer.views import backward_sweep, gradient_flow
from app.explorer.views.common import Runs, chart, chart_element_keys, name
from app.explorer.views.scrub_text import knob_label
from app.style import access_css, page_css
from app.sweeps import scrub_values
from app.text import sci

TITLES = {"flow": "Gradient flow", "sweep": "Backward sweep"}  # the app's tab titles
CHART_KEYS = {"flow": "gradient_flow", "sweep": backward_sweep.KEY}
CHART_SHARE = [3.2, 1]  # chart : numbers
CHART_HEIGHT = 630  # px: the whole chart, its slider included, on a 1024 × 768 projector
STEPS_BACK = gradient_flow.STEPS_BACK
BACK_KEY = "present_back"
# The screen is the chart's: no sidebar (nor its navigation), no Streamlit
# header, little padding; the numbers beside it read from the back row.
PRESENTER_CSS = """<style>
[data-testid=stSidebar], [data-testid=stSidebarCollapsedControl],
[data-testid=stExpandSidebarButton], header[data-testid=stHeader] { display: none !important; }
.block-container { padding-top: 0.6rem !important; padding-bottom: 0.5rem !important;
  max-width: 100% !important; }
.st-key-present_numbers [data-testid=stMetricLabel] * { font-size: 1.5rem !important;
  white-space: normal !important; overflow: visible !important; color: inherit !important; }
.st-key-present_numbers [data-testid=stMetricValue],
.st-key-present_numbers [data-testid=stMetricValue] * { font-size: 2.2rem !important;
  line-height: 1.15 !important; font-weight: 600; white-space: normal !important;
  overflow: visible !important; }
.st-key-present_numbers [data-testid=stCaptionContainer],
.st-key-present_numbers [data-testid=stCaptionContainer] p { font-size: 1.15rem !important;
  color: inherit !important; opacity: 1 !important; line-height: 1.35 !important; }
</style>"""

PRESENTER_KEYS_JS = r"""
const STEP = { ArrowRight: 1, PageDown: 1, ArrowLeft: -1, PageUp: -1 };

function typing(target) {
    if (!target) return false;
    if (target.isContentEditable) return true;
    const tag = target.tagName;
    return tag === 'TEXTAREA' || tag === 'SELECT' || (tag === 'INPUT' && target.type !== 'range');
}

export default function (component) {
    window.__gflPresented = component.data.chart;
    if (window.__gflPresenterKeys) return;
    window.__gflPresenterKeys = true;
    // captured before the range input sees it: one key, one frame (Page Down
    // on a range input would jump a tenth of the way)
    document.addEventListener('keydown', (event) => {
        const step = STEP[event.key];
        if (!step || event.altKey || event.ctrlKey || event.metaKey || typing(event.target)) return;
        const input = document.querySelector(
            '.gfl-keys[data-chart="' + window.__gflPresented + '"] input[type=range]');
        if (!input || input.closest('.gfl-keys').hidden) return;
        event.preventDefault();
        event.stopPropagation();
        const now = Number(input.value);
        const next = Math.min(Number(input.max), Math.max(0, now + step));
        if (next === now) return;
        input.value = String(next);
        input.dispatchEvent(new Event('input', { bubbles: true }));
    }, true);
}
"""

_KEYS = st.components.v2.component("gfl_presenter_keys", js=PRESENTER_KEYS_JS, isolate_styles=False)


def render(settings: Settings, runs: Runs, notices: list[str]) -> Callable[[], None] | None:
    """Draw the presenter view of ``settings.present``; return what is left to
    finish once it is drawn (the in-chart slider's runs), as a view does."""
    st.set_page_config(initial_sidebar_state="collapsed")
    shown = settings.replace(projector=True)  # large text and thick lines, whatever was set
    st.html(PRESENTER_CSS)
    st.html(access_css(shown))
    st.html(page_css(shown))
    session.sync_link(settings)
    for text in notices:
        st.warning(text)
    verdict = budget.check(settings, TITLES[settings.present])
    if not verdict.fits:
        budget_notice.draw(verdict)
        back_button(settings)
        return None
    left, right = st.columns(CHART_SHARE, gap="medium")
    finish = None
    with left, np.errstate(all="ignore"):
        if settings.present == "flow":
            drawn = gradient_flow.flow_figure(settings, runs)
            fig = None if drawn is None else drawn.fig
        else:
            fig = backward_sweep.animated_figure(settings, runs)
        if fig is None:
            st.info("No cell could run with these settings.")
        else:
            key = CHART_KEYS[settings.present]
            slot = in_place.Slot(chart_element_keys(key))
            slot.draw(lambda: chart(fitted(fig), key, shown, downloads=False, alone=True))
            _KEYS(key="presenter_keys", data={"chart": key})
            status = st.empty()
            if settings.present == "flow":
                finish = drawn.finisher(
                    status,
                    settings,
                    runs,
                    lambda again: slot.draw(
                        lambda: chart(fitted(again.fig), key, shown, downloads=False)
                    ),
                )
    with right, np.errstate(all="ignore"):
        back_button(settings)  # first: the numbers may run past a projector's 768 px
        numbers(settings, runs)
    return finish


def fitted(fig: go.Figure) -> go.Figure:
    """``fig`` at the presenter's height (its parts were checked when built)."""
    spec = fig.to_dict()
    return flow_chart.AssembledFigure(
        {**spec, "layout": {**spec["layout"], "height": CHART_HEIGHT}}
    )


def numbers(settings: Settings, runs: Runs) -> None:
    """The chart's key numbers, large: the knob and, per cell, how much of the
    last step's gradient is left n steps back."""
    T = settings.steps
    back = min(STEPS_BACK, T - 1) if settings.present == "flow" else T - 1
    with st.container(key="present_numbers"):
        if settings.present == "flow":
            knob = "w" if settings.single_unit else "ρ"
            # the number the sidebar and the slider's read-out say (W_hh's drawn ρ)
            value = gradient_flow._setting_knob(settings, runs)
            st.metric(knob, knob_label(value, scrub_values(runs.spec(settings.cells[0]))))
            st.caption(f"The numbers are at this {knob}; the slider under the chart shows others.")
        steps = "1 step" if back == 1 else f"{back} steps"
        st.caption(f"‖∂L/∂h‖ {steps} back, as a share of ‖∂L/∂h‖ at t = {T - 1}")
        shown = [(name(kind), run) for kind, run in runs.finished()]
        other = lecture.compared_runs(settings) if settings.present == "flow" else None
        if other is not None:  # the long-dashed lines' numbers too
            words = lecture.compared_words(settings)
            shown += [(f"{name(kind)}, {words}", run) for kind, run in other.finished()]
        for label, run in shown:
            ratio = gradient_ratio(norms_over_time(run.trace.grad_hidden), back) if back else None
            st.metric(label, "—" if ratio is None else sci(ratio))
        st.caption("← → or Page Up / Page Down (a clicker) step the chart frame by frame.")


def back_button(settings: Settings) -> None:
    st.button(
        "Back",
        key=BACK_KEY,
        icon=":material/arrow_back:",
        on_click=_go,
        args=(None,),
        help="Leave the presenter view: the sidebar and every tab, same settings.",
    )


def _go(present: str | None) -> None:
    """Open (or leave, with None) the presenter view in this session."""
    state = st.session_state
    state[session.SETTINGS_KEY] = state[session.SETTINGS_KEY].replace(present=present)
    state["present"] = present


def entry(bar) -> None:
    """The sidebar's buttons that open the presenter view of each chart."""
    with bar.container(horizontal=True, gap="small", key="present_entry"):
        for which, title in TITLES.items():
            st.button(
                f"Present: {title.lower()}",
                key=f"present_{which}",
                icon=":material/present_to_all:",
                on_click=_go,
                args=(which,),
                help=f"The {title.lower()} chart alone, full screen and in large type, "
                "its numbers beside it; the arrow keys and a clicker step it frame by "
                "frame. The link opens it too.",
            )
