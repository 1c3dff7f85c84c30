"""How a figure looks on the screen in use: projector mode and the dark theme.

``styled`` is a last step applied to every figure just before it is drawn or
exported; the charts themselves (``app.charts``) are drawn once, light, at
screen sizes. Projector mode makes text at least 22 px (titles larger), lines
at least 4 px, markers bigger, grid lines stronger and text pure black (or
white). The dark theme turns the backgrounds dark and the text, axes and
black lines light; the Okabe–Ito colours stay as they are, since each of them
but black stays readable on dark grey.

``page_css`` darkens the Streamlit page around the charts: Streamlit 1.67
cannot switch its own theme from Python (``st.context.theme`` only reads it),
so the dark theme is a small style sheet over the page's ``data-testid``s.
"""

from __future__ import annotations

import copy
import re
from typing import Any

import plotly.graph_objects as go

from app.explorer.state import Settings
from app.flow_chart import AssembledFigure
from app.titles import CHART_MIN_WIDTH, fit_title

# ---- the two palettes -----------------------------------------------------------

DARK_BACKGROUND = "#0E1117"  # Streamlit's own dark background, so a chart blends in
DARK_PANEL = "#262730"  # Streamlit's dark secondary background (sidebar, inputs)
DARK_TEXT = "#FAFAFA"
DARK_ICON = "#B8BAC4"  # the "?" help icons on the dark panel (7:1)
DARK_TRACK = "#7A7D88"  # an off toggle's track on the dark panel (3:1 and more)

PROJECTOR_FONT = 22  # px, the least any text may be
PROJECTOR_AXIS_TITLE = 24
PROJECTOR_TITLE = 28
PROJECTOR_LINE = 4  # px, the least a drawn line may be
FONT_SCALE = PROJECTOR_FONT / 16  # the charts' text is 16 px
LINE_SCALE = 1.6
MARKER_SCALE = 1.5
OUTLINE_MIN = 2  # px, markers' and bars' outlines in projector mode
CONTROLS_SHIFT = 15  # px more under the plot for sliders and buttons (ticks grow too)

# (dark, projector) → the colours every chart shares
TEXT = {
    (False, False): None,
    (False, True): "#000000",
    (True, False): DARK_TEXT,
    (True, True): "#FFFFFF",
}
AXIS_LINE = {
    (False, False): None,
    (False, True): "#000000",
    (True, False): "#BBBBBB",
    (True, True): "#FFFFFF",
}
GRID = {
    (False, False): None,
    (False, True): "#B0B0B0",
    (True, False): "#30343C",
    (True, True): "#5C616B",
}

_AXIS_KEY = re.compile(r"^[xy]axis\d*$")
_COLORBAR_TRACES = {"heatmap", "contour", "histogram2d", "histogram2dcontour", "surface"}
_HEX = re.compile(r"^#([0-9a-fA-F]{3}|[0-9a-fA-F]{6})$")
_RGB = re.compile(r"^rgba?\(\s*([\d.]+)\s*,\s*([\d.]+)\s*,\s*([\d.]+)\s*(?:,\s*([\d.]+)\s*)?\)$")
_NAMED = {"black": (0, 0, 0), "white": (255, 255, 255)}


def styled(fig: go.Figure, settings: Settings) -> go.Figure:
    """A copy of ``fig`` in projector mode and/or the dark theme, as
    ``settings`` ask; ``fig`` itself when neither is on. ``fig`` is not changed.

    An ``AssembledFigure`` (or any figure with frames) comes back as an
    ``AssembledFigure``, so that its frames are not checked again."""
    dark, projector = settings.theme == "dark", settings.projector
    if not dark and not projector:
        return fig
    spec = copy.deepcopy(fig.to_dict())
    style_spec(spec, dark=dark, projector=projector)
    if isinstance(fig, AssembledFigure) or spec.get("frames"):
        return AssembledFigure(spec)
    return go.Figure(spec)


def style_spec(spec: dict, *, dark: bool, projector: bool) -> None:
    """Restyle a figure's plain specification (its ``to_dict()``) in place."""
    layout = spec.setdefault("layout", {})
    traces = spec.setdefault("data", [])
    frame_traces = [t for frame in spec.get("frames") or [] for t in frame.get("data") or []]
    # the colours first, everywhere (frames too: a frame may set a line's colour)
    for part in [*traces, *frame_traces, layout]:
        _map_colours(part, dark=dark, projector=projector)
    _style_layout(layout, traces, dark=dark, projector=projector)
    for trace in traces:
        _style_trace(trace, dark=dark, projector=projector)
    if projector:
        for trace in frame_traces:
            _thicken(trace)


# ---- colours --------------------------------------------------------------------


def parse_colour(text: Any) -> tuple[int, int, int, float] | None:
    """(r, g, b, alpha) of a "#rgb", "#rrggbb", "rgb(…)", "rgba(…)", "black"
    or "white" colour; None for anything else (other names, colour scales)."""
    if not isinstance(text, str):
        return None
    text = text.strip().lower()
    if text in _NAMED:
        return (*_NAMED[text], 1.0)
    match = _HEX.match(text)
    if match:
        digits = match.group(1)
        if len(digits) == 3:
            digits = "".join(d * 2 for d in digits)
        return int(digits[0:2], 16), int(digits[2:4], 16), int(digits[4:6], 16), 1.0
    match = _RGB.match(text)
    if match:
        r, g, b = (round(float(match.group(i))) for i in (1, 2, 3))
        alpha = 1.0 if match.group(4) is None else float(match.group(4))
        return r, g, b, alpha
    return None


def format_colour(r: int, g: int, b: int, alpha: float = 1.0) -> str:
    if alpha >= 1.0:
        return f"#{r:02X}{g:02X}{b:02X}"
    return f"rgba({r},{g},{b},{alpha:g})"


def relative_luminance(colour: str) -> float:
    """WCAG relative luminance (0 black … 1 white) of an opaque colour."""
    parsed = parse_colour(colour)
    if parsed is None:
        raise ValueError(f"not a colour: {colour!r}")

    def linear(channel: int) -> float:
        c = channel / 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b, _ = parsed
    return 0.2126 * linear(r) + 0.7152 * linear(g) + 0.0722 * linear(b)


def contrast(first: str, second: str) -> float:
    """WCAG contrast ratio of two colours, 1 … 21."""
    a, b = sorted((relative_luminance(first), relative_luminance(second)), reverse=True)
    return (a + 0.05) / (b + 0.05)


def restyle_colour(text: Any, *, dark: bool, projector: bool) -> Any:
    """One colour as the theme wants it. Only greys change (black, white and
    the greys between): in the dark theme white becomes the background, black
    the text colour and other greys their mirror image; in projector mode
    greys darker than light grey darken by half on white (lighten on dark).
    Colours with hue, transparent ones and anything unparsed stay as they are."""
    parsed = parse_colour(text)
    if parsed is None:
        return text
    r, g, b, alpha = parsed
    if alpha == 0 or max(r, g, b) - min(r, g, b) > 12:
        return text
    value = (r + g + b) / 3
    if projector and value < 200:
        value = 0 if value <= 20 else value * 0.5
    if dark:
        if value >= 240:
            return format_colour(*_rgb(DARK_BACKGROUND), alpha)
        if value <= 20:
            return format_colour(*_rgb(TEXT[(True, projector)]), alpha)
        value = 255 - value
    level = round(value)
    return format_colour(level, level, level, alpha)


def _rgb(colour: str) -> tuple[int, int, int]:
    r, g, b, _ = parse_colour(colour)
    return r, g, b


def _map_colours(node: Any, *, dark: bool, projector: bool) -> None:
    """Every value under a key ending in "color" (a colour or a list of them),
    recursively; typed arrays ({"dtype", "bdata"}) are left alone."""
    if isinstance(node, list):
        for item in node:
            _map_colours(item, dark=dark, projector=projector)
        return
    if not isinstance(node, dict) or "bdata" in node:
        return
    for key, value in node.items():
        if key.endswith("color") and isinstance(value, str):
            node[key] = restyle_colour(value, dark=dark, projector=projector)
        elif key.endswith("color") and isinstance(value, list):
            node[key] = [restyle_colour(v, dark=dark, projector=projector) for v in value]
        elif isinstance(value, dict | list):
            _map_colours(value, dark=dark, projector=projector)


# ---- layout ---------------------------------------------------------------------


def _style_layout(layout: dict, traces: list, *, dark: bool, projector: bool) -> None:
    key = (dark, projector)
    text, axis_line, grid = TEXT[key], AXIS_LINE[key], GRID[key]
    font = layout.setdefault("font", {})
    if text is not None:
        font["color"] = text
    if dark:
        layout["paper_bgcolor"] = DARK_BACKGROUND
        layout["plot_bgcolor"] = DARK_BACKGROUND
        layout["modebar"] = {
            **(layout.get("modebar") or {}),
            "bgcolor": "rgba(0,0,0,0)",
            "color": "#9DA0A6",
            "activecolor": "#FFFFFF",
        }
        if "unified" in str(layout.get("hovermode", "")):
            hover = layout.setdefault("hoverlabel", {})
            hover["bgcolor"] = DARK_PANEL
            hover.setdefault("font", {})["color"] = text
    axes = [k for k in layout if _AXIS_KEY.match(k)]
    if not axes and _has_cartesian(traces):
        layout["xaxis"], layout["yaxis"] = {}, {}
        axes = ["xaxis", "yaxis"]
    for name in axes:
        axis = layout[name]
        if axis_line is not None:
            axis["linecolor"] = axis_line
            axis["tickcolor"] = axis_line
            axis["zerolinecolor"] = axis_line
        if grid is not None:
            axis["gridcolor"] = grid
        if projector:
            axis.update(linewidth=2, tickwidth=2, ticklen=8, gridwidth=1.5, automargin=True)
    legend = layout.get("legend")
    if projector and isinstance(legend, dict) and "bgcolor" in legend:
        parsed = parse_colour(legend["bgcolor"])
        if parsed is not None:  # opaque, so no line shows through the names
            legend["bgcolor"] = format_colour(*parsed[:3])
    for slider in layout.get("sliders") or []:
        _style_slider(slider, dark=dark, text=text, axis_line=axis_line)
    for menu in layout.get("updatemenus") or []:
        if dark:  # light buttons: plotly.js draws a hovered button #F4FAFF whatever the theme
            menu.update(bgcolor="#E4E5E8", bordercolor="#8A8D93")
            menu.setdefault("font", {})["color"] = "#111111"
    if projector:
        _enlarge_fonts(layout)
        # after the enlargement, not before: a title scaled twice (33 px) ran
        # into the in-chart slider's label under the plot
        for name in axes:
            title = layout[name].get("title")
            if isinstance(title, dict):
                title_font = title.setdefault("font", {})
                title_font["size"] = max(title_font.get("size", 0), PROJECTOR_AXIS_TITLE)
        title = layout.get("title")
        if isinstance(title, dict):
            title_font = title.setdefault("font", {})
            title_font["size"] = max(title_font.get("size", 0), PROJECTOR_TITLE)
        elif isinstance(title, str):
            layout["title"] = {"text": title, "font": {"size": PROJECTOR_TITLE}}
        font["size"] = max(font.get("size", 0), PROJECTOR_FONT)
        for shape in layout.get("shapes") or []:
            _widen(shape.get("line"))
        _make_room(layout)
        fit_title(layout, PROJECTOR_TITLE, CHART_MIN_WIDTH[True])  # larger text, fewer words a line


def _style_slider(slider: dict, *, dark: bool, text: str | None, axis_line: str | None) -> None:
    if dark:
        slider.update(bgcolor="#B0B3B8", activebgcolor="#E4E5E8", bordercolor="#8A8D93")
        slider["tickcolor"] = axis_line
    if text is not None:
        for font in (slider.get("font"), (slider.get("currentvalue") or {}).get("font")):
            if isinstance(font, dict) and not _transparent(font):
                font["color"] = text
        slider.setdefault("currentvalue", {}).setdefault("font", {}).setdefault("color", text)


def _make_room(layout: dict) -> None:
    """Larger text needs larger top and bottom margins (the title, a legend
    above the plot, a slider below it); the figure grows by as much, so the
    plot keeps its size. Sliders and buttons under the plot move down as
    far as the larger axis labels above them."""
    for control in [*(layout.get("sliders") or []), *(layout.get("updatemenus") or [])]:
        pad = control.get("pad")
        if isinstance(pad, dict) and isinstance(pad.get("t"), int | float):
            pad["t"] = round(pad["t"] * FONT_SCALE) + CONTROLS_SHIFT
    margin = layout.get("margin")
    if not isinstance(margin, dict):
        return
    extra = 0
    for side in ("t", "b"):
        if isinstance(margin.get(side), int | float):
            grown = round(margin[side] * FONT_SCALE)
            extra += grown - margin[side]
            margin[side] = grown
    if isinstance(layout.get("height"), int | float):
        layout["height"] = layout["height"] + extra


def _transparent(font: dict) -> bool:
    parsed = parse_colour(font.get("color"))
    return parsed is not None and parsed[3] == 0


def _enlarge_fonts(node: Any, minimum: float = PROJECTOR_FONT) -> None:
    """Every font under ``node`` at least ``minimum`` px and FONT_SCALE × its
    size; fonts drawn transparent (labels hidden on purpose) keep theirs."""
    if isinstance(node, list):
        for item in node:
            _enlarge_fonts(item, minimum)
        return
    if not isinstance(node, dict) or "bdata" in node:
        return
    for key, value in node.items():
        if key.endswith("font") and isinstance(value, dict):
            if not _transparent(value) and "size" in value:
                value["size"] = _at_least(value["size"], FONT_SCALE, minimum)
        elif isinstance(value, dict | list):
            _enlarge_fonts(value, minimum)


def _at_least(size: Any, scale: float, minimum: float) -> Any:
    if isinstance(size, int | float) and not isinstance(size, bool):
        return max(minimum, round(size * scale, 1))
    if isinstance(size, list):
        return [_at_least(s, scale, minimum) for s in size]
    return size


def _widen(line: Any) -> None:
    if isinstance(line, dict):
        line["width"] = _at_least(line.get("width", 2), LINE_SCALE, PROJECTOR_LINE)


# ---- traces ---------------------------------------------------------------------


def _has_cartesian(traces: list) -> bool:
    return not traces or any(t.get("type", "scatter") not in ("pie", "sunburst") for t in traces)


def _style_trace(trace: dict, *, dark: bool, projector: bool) -> None:
    kind = trace.get("type", "scatter")
    if dark and (kind in _COLORBAR_TRACES or "colorbar" in trace):
        colorbar = trace.setdefault("colorbar", {})
        colorbar["outlinecolor"] = AXIS_LINE[(True, projector)]
        colorbar["tickcolor"] = AXIS_LINE[(True, projector)]
    if not projector:
        return
    _enlarge_fonts(trace)
    if kind in _COLORBAR_TRACES or "colorbar" in trace:
        colorbar = trace.setdefault("colorbar", {})
        colorbar["thickness"] = round(colorbar.get("thickness", 30) * 1.3)
        colorbar.update(outlinewidth=2, tickwidth=2, ticklen=8)
        colorbar.setdefault("tickfont", {})
        colorbar["tickfont"]["size"] = max(colorbar["tickfont"].get("size", 0), PROJECTOR_FONT)
    if kind in ("scatter", "scattergl"):
        mode = trace.get("mode", "lines")
        if "lines" in mode or trace.get("fill", "none") != "none":
            trace.setdefault("line", {})
    _thicken(trace)


def _thicken(trace: dict) -> None:
    """Lines 1.6 × wider and at least 4 px, markers 1.5 × bigger, outlines ≥ 2 px."""
    line = trace.get("line")
    if isinstance(line, dict) and line.get("width", 1) != 0:
        _widen(line)
    marker = trace.get("marker")
    if isinstance(marker, dict):
        if "size" in marker:
            marker["size"] = _at_least(marker["size"], MARKER_SCALE, 10)
        outline = marker.get("line")
        width = outline.get("width") if isinstance(outline, dict) else None
        if isinstance(width, int | float) and width > 0:
            outline["width"] = max(OUTLINE_MIN, width * MARKER_SCALE)


# ---- the page -------------------------------------------------------------------

_DARK_PAGE_CSS = f"""
<style>
:root {{ color-scheme: dark; }}
[data-testid="stApp"], [data-testid="stHeader"], [data-testid="stMain"],
[data-testid="stBottomBlockContainer"] {{
  background-color: {DARK_BACKGROUND}; color: {DARK_TEXT};
}}
[data-testid="stSidebar"], [data-testid="stSidebarContent"] {{
  background-color: {DARK_PANEL}; color: {DARK_TEXT};
}}
[data-testid="stApp"] :is(h1, h2, h3, h4, h5, h6, p, li, label, summary, small,
  [data-testid="stMarkdownContainer"], [data-testid="stCaptionContainer"],
  [data-testid="stWidgetLabel"], [data-testid="stExpander"] details,
  [data-testid="stSliderThumbValue"], [data-testid="stSliderTickBarMin"],
  [data-testid="stSliderTickBarMax"], [data-baseweb="tab"], .katex) {{
  color: {DARK_TEXT};
}}
[data-testid="stApp"] :is(input, textarea, [data-baseweb="select"] > div,
  [data-baseweb="input"], [data-baseweb="base-input"], [data-testid="stNumberInputContainer"],
  button:not([kind="primary"]):not([kind="tertiary"]):not([data-baseweb="tab"])) {{
  background-color: {DARK_PANEL}; color: {DARK_TEXT}; border-color: #4A4D57;
}}
[data-testid="stApp"] :is([data-testid="stExpander"] details, [data-baseweb="tab-border"]) {{
  border-color: #4A4D57;
}}
[data-testid="stApp"] button[data-selected="true"]:not([kind="primary"]):not([role="tab"]) {{
  /* the chosen pills (cells, preset, theme): the rule above made them look unchosen */
  background-color: #5C2A30; border-color: #FF6B6B; color: #FFFFFF;
}}
[data-testid="stApp"] input:disabled {{ color: #9A9CA5; -webkit-text-fill-color: #9A9CA5; }}
[data-testid="stApp"] code,
[data-testid="stApp"] [data-testid="stCode"] pre {{
  background-color: #31333F; color: {DARK_TEXT};
}}
[data-testid="stApp"] [data-testid="stAlertContainer"]
  :is(p, li, [data-testid="stMarkdownContainer"]) {{
  color: #1E1E1E;  /* alerts keep their light tint: dark text on it */
}}
[data-baseweb="popover"] :is(ul, li, [role="option"]) {{
  background-color: {DARK_PANEL}; color: {DARK_TEXT};
}}
[data-testid="stApp"] [data-testid="stTooltipIcon"] svg {{
  stroke: {DARK_ICON} !important;  /* Streamlit's light-theme grey vanished on the dark panel */
}}
[data-testid="stApp"] label:has(input[role="switch"]:not(:checked)) > div:not([data-testid]) {{
  background-color: {DARK_TRACK} !important;  /* an off toggle's track, else only its knob shows */
}}
</style>
"""


# The sentences beside each chart, readable from the back of a lecture hall.
_PROJECTOR_PAGE_CSS = """
<style>
[data-testid="stMain"] [data-testid="stMarkdownContainer"] p,
[data-testid="stMain"] [data-testid="stMarkdownContainer"] li,
[data-testid="stMain"] [data-testid="stAlert"] p { font-size: 1.35rem; line-height: 1.45; }
[data-testid="stMain"] .katex { font-size: 1.4em; }
</style>
"""


def page_css(settings: Settings) -> str | None:
    """``<style>`` elements for ``st.html``: the dark page, and in projector
    mode larger text beside the charts; None for the light theme without
    projector mode (Streamlit's own look is kept)."""
    parts = []
    if settings.theme == "dark":
        parts.append(_DARK_PAGE_CSS.strip())
    if settings.projector:
        parts.append(_PROJECTOR_PAGE_CSS.strip())
    return "\n".join(parts) or None


# ---- access: focus, hidden text, contrast (every theme) ----------------------------

FOCUS = {False: "#0B57D0", True: "#FFD23F"}  # dark → the ring's colour
FOCUS_HALO = {False: "#FFFFFF", True: DARK_BACKGROUND}
CHOSEN_TEXT_LIGHT = "#A1172B"  # a chosen pill's text on its pale red: 4.3:1 was too little

# The text alternative beside each chart (app.alt_text): read by screen
# readers, not drawn; its element takes no room in the column either.
_HIDDEN = (
    "position: absolute !important; width: 1px; height: 1px; margin: 0; padding: 0; "
    "overflow: hidden; clip-path: inset(50%); white-space: nowrap; border: 0;"
)

# The keyboard's controls under an animated chart (app.chart_keys).
CHART_KEYS_CSS = """
.gfl-keys { display: flex; flex-wrap: wrap; align-items: center; gap: 0.4rem 0.8rem;
  font-size: 0.95rem; }
.gfl-keys[hidden] { display: none; }
.gfl-keys-label { display: inline-flex; align-items: center; gap: 0.5rem; }
.gfl-keys input[type="range"] { width: 11rem; accent-color: currentColor; }
.gfl-keys-value { font-variant-numeric: tabular-nums; min-width: 9rem; }
.gfl-keys-buttons { display: inline-flex; gap: 0.4rem; }
.gfl-keys button { font: inherit; padding: 0.2rem 0.7rem; border-radius: 0.4rem;
  border: 1px solid currentColor; background: transparent; color: inherit; cursor: pointer; }
"""


def access_css(settings: Settings) -> str:
    """A ``<style>`` element for ``st.html``, in every theme: a focus ring on
    every control that the keyboard reaches (two colours, so that it shows on
    light, dark and coloured backgrounds; thicker in projector mode), the
    charts' text alternatives hidden from sight, formulas that do not scroll
    for a pixel of overflow, and chosen pills' text at 4.5:1 or more."""
    dark = settings.theme == "dark"
    width = 4 if settings.projector else 3
    focus, halo = FOCUS[dark], FOCUS_HALO[dark]
    chosen = (
        ""
        if dark
        else f"""
[data-testid="stApp"] button[data-selected="true"]:not([role="tab"])
  :is(p, span, [data-testid="stMarkdownContainer"]) {{ color: {CHOSEN_TEXT_LIGHT}; }}"""
    )
    return f"""<style>
[data-testid="stApp"] :is(button, a, input, select, textarea, summary, iframe,
  [role="tab"], [role="slider"], [role="radio"], [role="checkbox"], [role="switch"],
  [role="combobox"], [role="option"], [tabindex]):focus-visible {{
  outline: {width}px solid {focus} !important; outline-offset: 2px !important;
  box-shadow: 0 0 0 {width + 3}px {halo} !important;
}}
[data-testid="stApp"] label:has(input[type="checkbox"]:focus-visible) > div:first-child {{
  outline: {width}px solid {focus}; outline-offset: 2px; box-shadow: 0 0 0 {width + 3}px {halo};
}}
[data-testid="stSidebar"] [data-testid="stCode"]
  > div:has([data-testid="stElementToolbarButton"]) {{
  opacity: 1 !important; visibility: visible !important;  /* the link's copy button, unhovered */
}}
.gfl-alt, [data-testid="stElementContainer"]:has(.gfl-alt),
.st-key-gfl_formula_keys {{ {_HIDDEN} }}
[data-testid="stApp"] .katex-display {{ padding: 2px 4px; }}{chosen}
</style>"""
