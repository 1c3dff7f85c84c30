"""The page's layout, in every theme: what the explorer says must be what it shows.

``layout_css`` is one ``<style>`` element for ``st.html``:

- the tab bar starts below Streamlit's page header (60 px, fixed over the
  top of the page; opaque in the dark theme, where it hid the tab names),
  and wraps onto a second row instead of scrolling sideways (a scrolled tab
  list put its last tabs off the screen, or its first under the sidebar).
"""

from __future__ import annotations

from app.state import Settings

HEADER_HEIGHT = "3.75rem"  # Streamlit 1.67's stHeader, drawn over the page


def layout_css(settings: Settings) -> str:
    """The ``<style>`` element (see the module's docstring)."""
    return f"""<style>
.block-container {{ padding-top: calc({HEADER_HEIGHT} - 0.5rem); padding-bottom: 2rem; }}
[data-testid="stTabs"] [role="tablist"] {{
  flex-wrap: wrap; overflow: visible; row-gap: 0.25rem;
}}
</style>"""
