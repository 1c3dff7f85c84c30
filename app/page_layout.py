"""The page's layout, in every theme: what the explorer says must be what it shows.

``layout_css`` is one ``<style>`` element for ``st.html``:

- the tab bar starts below Streamlit's page header (60 px, fixed over the
  top of the page; opaque in the dark theme, where it hid the tab names),
  and wraps onto a second row instead of scrolling sideways (a scrolled tab
  list put its last tabs off the screen, or its first under the sidebar);
- a chart is never narrower than ``CHART_MIN_WIDTH`` (unless the screen is):
  the text beside it goes under it when the row has no room for both, and
  narrow screens get narrow side margins. At 1024×768 with the sidebar open
  the chart was 366 px wide (230 in projector mode), too narrow for its own
  title; the charts' titles are wrapped for that width
  (``app.charts.wrap_title``);
- a pill's name (the presets) wraps onto a second line instead of ending
  in "…" ("Bidirectional: gradient from both …");
- in projector mode a displayed formula is a little smaller than the text
  around it, so that the widest fits the text column.
"""

from __future__ import annotations

from app.explorer.state import Settings
from app.style import DARK_TEXT
from app.titles import CHART_MIN_WIDTH

HEADER_HEIGHT = "3.75rem"  # Streamlit 1.67's stHeader, drawn over the page
TEXT_MIN_WIDTH = {False: "15rem", True: "20rem"}  # projector → the text beside a chart
NARROW_SCREEN = 1200  # px; below it the page's side margins shrink from 3rem to 2rem
# a row of columns with a chart in one of them (the views' chart : text rows)
_CHART_ROW = '[data-testid="stHorizontalBlock"]:has(> [data-testid="stColumn"] .js-plotly-plot)'


def layout_css(settings: Settings) -> str:
    """The ``<style>`` element (see the module's docstring)."""
    projector = settings.projector
    chart_min, text_min = CHART_MIN_WIDTH[projector], TEXT_MIN_WIDTH[projector]
    formula = (
        '[data-testid="stMain"] .katex-display > .katex { font-size: 1.2em; }' if projector else ""
    )
    if settings.theme == "dark":  # the header's sidebar buttons: dark grey on dark, unseen
        formula += f"""
[data-testid="stApp"] :is([data-testid="stExpandSidebarButton"],
  [data-testid="stSidebarCollapseButton"]) span {{ color: {DARK_TEXT}; }}"""
    return f"""<style>
.block-container {{
  padding-top: calc({HEADER_HEIGHT} - 0.5rem); padding-bottom: 2rem;
  padding-left: 3rem; padding-right: 3rem;
}}
@media (max-width: {NARROW_SCREEN}px) {{
  .block-container {{ padding-left: 2rem; padding-right: 2rem; }}
}}
[data-testid="stTabs"] [role="tablist"] {{
  flex-wrap: wrap; overflow: visible; row-gap: 0.25rem;
}}
{_CHART_ROW} > [data-testid="stColumn"] {{ min-width: min(100%, {text_min}); }}
{_CHART_ROW} > [data-testid="stColumn"]:has(.js-plotly-plot) {{
  min-width: min(100%, {chart_min}px);
}}
[data-testid="stSidebar"] button[data-variant="pills"],
[data-testid="stSidebar"] button[data-variant="pills"] :is(div, span, p) {{
  white-space: normal; text-overflow: clip; text-align: left; height: auto;
}}
[data-testid="stSidebar"] button[data-variant="pills"] {{ padding-block: 0.3rem; }}
{formula}
</style>"""
