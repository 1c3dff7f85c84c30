"""Data → Plotly figures. Drawing only: no engine, no Streamlit.

One theme for every chart, readable on a projector: text ≥ 16 px, lines
3 px, the Okabe–Ito palette with one colour per cell kind in every chart, log
axes labelled in powers of ten. Values a log axis cannot show (0, inf, nan)
are masked (nan) before they reach a figure.

Here: the theme, the log axes and the pieces every chart shares, and plain
lines over time. The gradient-flow chart is ``app.flow_chart``; the detail
views' heatmaps, eigenvalues, bars and phase diagram are ``app.panels``.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go

from app.axis_exits import log_window, name_exits
from app.titles import CHART_MIN_WIDTH, fit_title

# Okabe & Ito (2008), colour-blind safe; yellow (#F0E442) left out: too pale on white.
OKABE_ITO = {
    "black": "#000000",
    "orange": "#E69F00",
    "sky_blue": "#56B4E9",
    "green": "#009E73",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "purple": "#CC79A7",
    "grey": "#6E6E6E",
}
CELL_COLOURS = {
    "rnn": OKABE_ITO["vermillion"],
    "jordan": OKABE_ITO["purple"],
    "gru": OKABE_ITO["green"],
    "mgu": OKABE_ITO["sky_blue"],
    "lstm": OKABE_ITO["blue"],
    "lstm_nofg": OKABE_ITO["orange"],
}
# The gates' own colours, none near a cell's (CIEDE2000 ≥ 18 from each; the
# cells' would make a gate read as a cell), at 3:1 or more on both the light
# and the dark background, and apart under colour-vision deficiencies
# (tests/test_colour_vision.py); the candidate, not a gate, stays black.
GATE_PALETTE = {
    "teal": "#1F7A7A",
    "olive": "#639108",
    "violet": "#953FA6",
    "crimson": "#C91D56",
    "ochre": "#706010",
}
GATE_COLOURS = {
    "input": GATE_PALETTE["teal"],
    "forget": GATE_PALETTE["olive"],
    "candidate": OKABE_ITO["black"],
    "output": GATE_PALETTE["violet"],
    "reset": GATE_PALETTE["crimson"],
    "update": GATE_PALETTE["ochre"],
}
# Colour is never the only carrier (WCAG 1.4.1): each palette colour has its
# own marker shape, drawn on a few points of every line of that colour, and
# shown in the legend.
MARKER_OF_COLOUR = {
    OKABE_ITO["vermillion"]: "circle",
    OKABE_ITO["purple"]: "star",
    OKABE_ITO["green"]: "diamond",
    OKABE_ITO["sky_blue"]: "triangle-up",
    OKABE_ITO["blue"]: "square",
    OKABE_ITO["orange"]: "triangle-down",
    OKABE_ITO["black"]: "x",
    OKABE_ITO["grey"]: "cross",
    GATE_PALETTE["teal"]: "pentagon",
    GATE_PALETTE["olive"]: "hexagon",
    GATE_PALETTE["violet"]: "hourglass",
    GATE_PALETTE["crimson"]: "bowtie",
    GATE_PALETTE["ochre"]: "star-diamond",
}
MARKERS_SHOWN = 9  # markers per line, spread along it by Plotly (``marker.maxdisplayed``)
MARKER = 9  # px


def line_marker(colour: str) -> dict | None:
    """The marker drawn on a few points of a line of ``colour`` (with mode
    "lines+markers"); None for a colour outside the palette."""
    symbol = MARKER_OF_COLOUR.get(str(colour).upper())
    if symbol is None:
        return None
    return {"symbol": symbol, "size": MARKER, "color": colour, "maxdisplayed": MARKERS_SHOWN}


def line_mode(colour: str) -> dict:
    """``mode`` and ``marker`` of a line trace of ``colour`` (see ``line_marker``)."""
    marker = line_marker(colour)
    return {"mode": "lines"} if marker is None else {"mode": "lines+markers", "marker": marker}


# a horizontal legend between the title and the plot, clear of any slider below
LEGEND_ON_TOP = {"orientation": "h", "x": 0, "xanchor": "left", "y": 1.02, "yanchor": "bottom"}
FONT = 16
TITLE_FONT = 20
LINE = 3
BOTTOM_MARGIN = 70  # px under the plot: tick labels and the axis title
DIVERGING = "RdBu_r"  # blue below, red above the middle; safe for red-green blindness
SEQUENTIAL = "Viridis"


_AXIS_THEME = {
    "title": {"font": {"size": FONT + 2}},
    "tickfont": {"size": FONT},
    "showline": True,
    "mirror": True,
    "linecolor": "#444",
    "gridcolor": "#E6E6E6",
    "zeroline": False,
    "ticks": "outside",
    "tickcolor": "#444",
}
_AXIS_NAME = re.compile(r"^[xy]axis\d*$")


def theme_layout(title: str, height: int = 460) -> dict:
    """The theme's layout as a plain dict (see ``themed``); axes come from ``themed_layout``."""
    # No named template: "plotly_white" would be copied into every figure
    # (half of a small chart's drawing time and of its bytes); these are the
    # few of its settings the app needs.
    return {
        "template": "none",
        "paper_bgcolor": "white",
        "plot_bgcolor": "white",
        "title": {
            "text": title,
            "font": {"size": TITLE_FONT},
            "x": 0.0,
            "xanchor": "left",
            "y": 0.99,
            "yanchor": "top",
            "yref": "container",
        },
        "font": {"size": FONT, "family": "Arial, Helvetica, sans-serif", "color": "#111"},
        "legend": {"font": {"size": FONT}, "bgcolor": "rgba(255,255,255,0.8)"},
        "hoverlabel": {"font": {"size": FONT}},
        "height": height,
        "margin": {"l": 90, "r": 30, "t": 70, "b": BOTTOM_MARGIN},
    }


def merged(base: dict, over: dict) -> dict:
    """``base`` with ``over`` laid on it, nested dicts merged (as ``update_layout``
    does). Nested dicts of ``over`` are copied: shared between two axes, one
    font dict was enlarged twice in projector mode."""
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict):
            out[key] = merged(out[key] if isinstance(out.get(key), dict) else {}, value)
        else:
            out[key] = value
    return out


def themed_layout(layout: dict, *, title: str, height: int = 460, **extra) -> dict:
    """A plain layout dict with the theme laid over it (every x and y axis
    too), then ``extra`` laid over that."""
    out = merged(layout, theme_layout(title, height))
    for key in {"xaxis", "yaxis", *(k for k in out if _AXIS_NAME.match(k))}:
        out[key] = merged(out.get(key) or {}, _AXIS_THEME)
    out = merged(out, extra) if extra else out
    fit_title(out, TITLE_FONT, CHART_MIN_WIDTH[False])
    return out


def themed(fig: go.Figure, *, title: str, height: int = 460, **extra) -> go.Figure:
    """The one theme: fonts, margins, legend, hover text; ``extra``: more layout.

    The layout is themed as a plain dict and set once: a chain of
    ``update_layout`` / ``update_xaxes`` calls checks every property again on
    each call (about 60 ms a figure, against a few ms)."""
    layout = fig.layout.to_plotly_json()
    fig.layout = themed_layout(layout, title=title, height=height, **extra)
    return fig


def labelled_hline(
    fig: go.Figure,
    y: float,
    text: str | None,
    *,
    line: dict,
    log: bool,
    side: str = "left",
) -> None:
    """A horizontal line at ``y`` with ``text`` just above it, at the plot's ``side``.

    plotly.js places an annotation on a log axis at 10^y, and ``add_hline``'s
    own annotation does not know the axis type, so the label is placed here.
    """
    shape, label = hline_parts(y, text, line=line, log=log, side=side)
    fig.add_shape(shape)
    if label is not None:
        fig.add_annotation(label)


def hline_parts(
    y: float, text: str | None, *, line: dict, log: bool, side: str = "left"
) -> tuple[dict, dict | None]:
    """``labelled_hline``'s shape and annotation (None without text) as plain dicts."""
    shape = {
        "type": "line",
        "xref": "x domain",
        "x0": 0,
        "x1": 1,
        "yref": "y",
        "y0": y,
        "y1": y,
        "line": line,
    }
    if not text:
        return shape, None
    label = {
        "text": text,
        "xref": "x domain",
        "x": 0.0 if side == "left" else 1.0,
        "xanchor": side,
        "yref": "y",
        "y": float(np.log10(y)) if log else y,
        "yanchor": "bottom",
        "showarrow": False,
        "font": {"size": FONT},
    }
    return shape, label


def vline_parts(x: float, text: str | None = None, *, line: dict) -> tuple[dict, dict | None]:
    """A vertical line at ``x`` across the plot, and ``text`` centred just above
    it (None without text), as plain dicts: what ``add_vline`` makes, without
    its 13 ms a call (a truncated sweep draws one line per chunk)."""
    shape = {
        "type": "line",
        "xref": "x",
        "x0": x,
        "x1": x,
        "yref": "y domain",
        "y0": 0,
        "y1": 1,
        "line": line,
    }
    if not text:
        return shape, None
    label = {
        "text": text,
        "xref": "x",
        "x": x,
        "xanchor": "center",
        "yref": "y domain",
        "y": 1,
        "yanchor": "bottom",
        "showarrow": False,
        "font": {"size": FONT},
    }
    return shape, label


def animate_to(frames: list | None, *, duration_ms: int = 0, **options) -> list:
    """The ``args`` of a Plotly "animate" control: show ``frames`` (None: play
    them all) in the browser, moving only the data, never redrawing the axes."""
    return [
        frames,
        {
            "mode": "immediate",
            "frame": {"duration": duration_ms, "redraw": False},
            "transition": {"duration": 0},
            **options,
        },
    ]


def after_clipping_bar(names: Sequence[str], values: np.ndarray, colour) -> go.Bar:
    """Hatched bars, outlined in ``colour`` (one or one per bar): what clipping leaves."""
    return go.Bar(
        x=list(names),
        y=masked(values),
        name="after clipping",
        marker={
            "color": "white",
            "line": {"color": colour, "width": 3},
            "pattern": {"shape": "/", "fgcolor": colour},
        },
    )


def log_axis() -> dict:
    return {"type": "log", "exponentformat": "power", "showexponent": "all"}


def log_ticks(low: float, high: float) -> tuple[list[float], list[str]]:
    """Tick values and labels for a log axis spanning 10^low … 10^high.

    Over a few decades: 1, 2, 5 × 10ⁿ written out; wider: powers of ten
    (every one, or every second … so that at most about nine show). Plotly's
    own minor labels are drawn smaller than 16 px, so the app sets them."""
    span = high - low
    if span <= 2.5:
        mantissas = (1, 1.5, 2, 3, 5, 7) if span <= 1 else (1, 2, 5)
        values = [
            m * 10.0**e
            for e in range(int(np.floor(low)), int(np.ceil(high)) + 1)
            for m in mantissas
        ]
        values = [v for v in values if low <= np.log10(v) <= high]
        return values, [plain_number(v) for v in values]
    step = max(1, int(np.ceil(span / 9)))
    first = int(np.ceil(max(low, -320) / step) * step)
    exponents = list(range(first, int(np.floor(min(high, 308))) + 1, step))
    return [10.0**e for e in exponents], [_power(e) for e in exponents]


def _power(exponent: int) -> str:
    return {0: "1", 1: "10"}.get(exponent, f"10<sup>{exponent}</sup>".replace("-", "−"))


def plain_number(value: float) -> str:
    exponent = int(np.floor(np.log10(value) + 1e-9))
    if -3 <= exponent <= 4:
        return f"{value:.{max(0, -exponent + 1)}g}" if value < 1 else f"{value:g}"
    mantissa = float(f"{value / 10.0**exponent:.2g}")
    return _power(exponent) if mantissa == 1 else f"{mantissa:g}×{_power(exponent)}"


def set_log_y(
    fig: go.Figure,
    arrays,
    *,
    decades: float = 40.0,
    extra_top: float = 0.0,
    also: Sequence[np.ndarray | None] = (),
) -> None:
    """Make the y axis logarithmic over ``arrays``' positive finite values,
    with readable ticks (see ``log_ticks``). ``also``: values the range may
    widen to take in (an in-chart slider's frames) as far as ``decades``
    allows, while every value of ``arrays`` stays in view."""
    fig.update_yaxes(**log_y_axis(arrays, decades=decades, extra_top=extra_top, also=also))


def log_y_axis(
    arrays,
    *,
    decades: float = 40.0,
    extra_top: float = 0.0,
    also: Sequence[np.ndarray | None] = (),
) -> dict:
    """``set_log_y``'s axis settings as a plain dict."""
    rng = log_range(arrays, decades)
    if rng is None:
        return log_axis()
    wider = log_range(list(arrays) + list(also), 1e9)
    room = decades - (rng[1] - rng[0])
    if wider is not None and room > 0:
        up = min(max(0.0, wider[1] - rng[1]), room / 2)
        down = min(max(0.0, rng[0] - wider[0]), room - up)
        up = min(max(0.0, wider[1] - rng[1]), room - down)
        rng = [rng[0] - down, rng[1] + up]
    rng = [rng[0], rng[1] + extra_top]
    values, labels = log_ticks(*rng)
    return {
        **log_axis(),
        "range": rng,
        "autorange": False,
        "tickmode": "array",
        "tickvals": values,
        "ticktext": labels,
    }


def typed(values: np.ndarray, dtype: str = "f8") -> dict:
    """An array as Plotly's typed-array spec (dtype, base64 bytes, shape).

    It is what Plotly writes for a NumPy array anyway; handing it over ready
    spares plotly.py converting and validating each array (41 frames × lines
    per chart), which is most of a rerun's drawing time."""
    array = np.ascontiguousarray(values, dtype="<" + dtype)
    spec = {"dtype": dtype, "bdata": base64.b64encode(array.tobytes()).decode("ascii")}
    if array.ndim > 1:
        spec["shape"] = ",".join(str(n) for n in array.shape)
    return spec


FLOAT32_NORMAL = (float(np.finfo(np.float32).tiny), float(np.finfo(np.float32).max))


def typed_for_drawing(values: np.ndarray) -> dict:
    """``typed`` in float32 when every finite nonzero |value| lies in float32's
    normal range (then each keeps 7 significant digits, far below a pixel on
    any axis), else float64.

    For the in-chart slider's frames: 41 of them go to the browser on every
    rerun that redraws the chart, and half the bytes make that message faster
    to send, copy and decode. A vanishing gradient can fall below 1e-38;
    those frames stay float64, so nothing drawn changes."""
    finite = np.abs(values[np.isfinite(values)])
    finite = finite[finite > 0]
    low, high = FLOAT32_NORMAL
    fits = finite.size == 0 or (finite.min() >= low and finite.max() <= high)
    return typed(values, "f4" if fits else "f8")


def masked(values: np.ndarray | None) -> np.ndarray | None:
    """float64 copy with 0, ±inf and nan replaced by nan (a log axis skips them)."""
    if values is None:
        return None
    out = np.array(values, dtype=np.float64)
    out[~np.isfinite(out) | (out <= 0)] = np.nan
    return out


def power_ticks(low: float, high: float, at_most: int = 8) -> tuple[list, list]:
    """Tick values (exponents) and labels 10<sup>n</sup> for a log10 colour bar."""
    if not (np.isfinite(low) and np.isfinite(high)) or high <= low:
        low, high = -1.0, 1.0
    lo, hi = int(np.floor(low)), int(np.ceil(high))
    step = max(1, int(np.ceil((hi - lo) / at_most)))
    exps = list(range(lo, hi + 1, step))
    return exps, [_power(e) for e in exps]


def log_range(arrays: Sequence[np.ndarray | None], decades: float = 40.0) -> list | None:
    """[log10 low, log10 high] covering the positive finite values, at most
    ``decades`` tall unless a line would then be wholly off the axis, with a
    little room: ``axis_exits.log_window``, the one rule of every log axis."""
    return log_window(arrays, decades)


def legend_rows(names: Sequence[str], characters_per_row: int = 48) -> int:
    """About how many rows a horizontal legend of ``names`` takes in a chart
    about 520 px wide (a 1280 px screen with the sidebar open) at 16 px;
    tags such as <sub> take no room."""
    rows, used = 1, 0
    for label in names:
        width = len(re.sub(r"<[^>]+>", "", label)) + 6  # the line sample and gap
        if used and used + width > characters_per_row:
            rows, used = rows + 1, 0
        used += width
    return rows


def legend_at_foot(fig: go.Figure, characters_per_row: int = 40) -> tuple[dict, int]:
    """A horizontal legend of ``fig``'s named traces at the foot of the figure,
    under the x axis's title, and the px it takes there (to add to the bottom
    margin and the height). Placed at a fraction of the plot's height under
    it instead, a legend of several names ran into the axis's title.
    ``characters_per_row`` is for projector mode's larger text."""
    names = [t.name for t in fig.data if t.name and t.showlegend is not False]
    rows = legend_rows(names, characters_per_row)
    legend = {"orientation": "h", "x": 0, "xanchor": "left", "y": 0, "yanchor": "bottom"}
    return {**legend, "yref": "container"}, 12 + 28 * rows


# ---- lines over time ------------------------------------------------------------------


@dataclass(frozen=True)
class Line:
    """One curve: its name, colour, steps (N,) and values (N,), dash style."""

    name: str
    colour: str
    steps: np.ndarray
    values: np.ndarray
    dash: str = "solid"
    width: float = LINE


def lines_figure(
    lines: Sequence[Line],
    *,
    title: str,
    y_title: str,
    log: bool = False,
    reference: float | None = None,
    reference_text: str = "",
    y_range: list | None = None,
    height: int = 440,
    backward: bool = False,
) -> go.Figure:
    """Curves over time on a linear or log axis, with an optional horizontal line.

    On a log axis a line that leaves it is named where it leaves, in words on
    the chart (``axis_exits``), read from the last step back when ``backward``
    (a gradient carried back in time)."""
    fig = go.Figure()
    for line in lines:
        values = (
            masked(line.values) if log else np.where(np.isfinite(line.values), line.values, np.nan)
        )
        fig.add_trace(
            go.Scatter(
                x=line.steps,
                y=values,
                name=line.name,
                line={"color": line.colour, "width": line.width, "dash": line.dash},
                **line_mode(line.colour),
            )
        )
    if reference is not None:
        style = {"color": OKABE_ITO["black"], "width": 2, "dash": "dash"}
        # its words in the legend, not over the plot: the lines run along it
        labelled_hline(fig, reference, None, line=style, log=log)
        if reference_text:
            fig.add_trace(
                go.Scatter(
                    x=[None],
                    y=[None],
                    mode="lines",
                    name=reference_text,
                    line=style,
                    hoverinfo="skip",
                )
            )
    # the legend at the foot of the figure, under the axis title: anchored to
    # the plot instead, a legend of several rows grew up into the title
    rows = legend_rows([line.name for line in lines] + ([reference_text] if reference_text else []))
    fig.update_layout(
        xaxis_title="time step t",
        yaxis={"title": {"text": y_title}},
        legend={
            "orientation": "h",
            "x": 0,
            "xanchor": "left",
            "y": 0,
            "yanchor": "bottom",
            "yref": "container",
        },
    )
    if log:
        extra = [] if reference is None else [np.array([reference])]
        set_log_y(fig, [masked(line.values) for line in lines] + extra)
        name_exits(fig, lines, backward=backward, font_size=FONT)
    elif y_range is not None:
        fig.update_yaxes(range=y_range, autorange=False)
    foot = 80 + 28 * rows
    return themed(fig, title=title, height=height + foot - BOTTOM_MARGIN, margin={"b": foot})
