"""Data → Plotly figures. Drawing only: no engine, no Streamlit.

One theme for every chart, readable on a projector: text ≥ 16 px, lines
3 px, the Okabe–Ito palette with one colour per cell kind in every chart, log
axes labelled in powers of ten. Values a log axis cannot show (0, inf, nan)
are masked (nan) before they reach a figure.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

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
GATE_COLOURS = {
    "input": OKABE_ITO["sky_blue"],
    "forget": OKABE_ITO["green"],
    "candidate": OKABE_ITO["black"],
    "output": OKABE_ITO["purple"],
    "reset": OKABE_ITO["orange"],
    "update": OKABE_ITO["blue"],
}
# a horizontal legend between the title and the plot, clear of any slider below
LEGEND_ON_TOP = {"orientation": "h", "x": 0, "xanchor": "left", "y": 1.02, "yanchor": "bottom"}
FONT = 16
TITLE_FONT = 20
LINE = 3
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
        "margin": {"l": 90, "r": 30, "t": 70, "b": 70},
    }


def merged(base: dict, over: dict) -> dict:
    """``base`` with ``over`` laid on it, nested dicts merged (as ``update_layout`` does)."""
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merged(out[key], value)
        else:
            out[key] = value
    return out


def themed_layout(layout: dict, *, title: str, height: int = 460, **extra) -> dict:
    """A plain layout dict with the theme laid over it (every x and y axis
    too), then ``extra`` laid over that."""
    out = merged(layout, theme_layout(title, height))
    for key in {"xaxis", "yaxis", *(k for k in out if _AXIS_NAME.match(k))}:
        out[key] = merged(out.get(key) or {}, _AXIS_THEME)
    return merged(out, extra) if extra else out


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
        return values, [_plain(v) for v in values]
    step = max(1, int(np.ceil(span / 9)))
    first = int(np.ceil(max(low, -320) / step) * step)
    exponents = list(range(first, int(np.floor(min(high, 308))) + 1, step))
    return [10.0**e for e in exponents], [_power(e) for e in exponents]


def _power(exponent: int) -> str:
    return {0: "1", 1: "10"}.get(exponent, f"10<sup>{exponent}</sup>".replace("-", "−"))


def _plain(value: float) -> str:
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
    ``decades`` below the highest, with a little room."""
    finite = [a[np.isfinite(a) & (a > 0)] for a in arrays if a is not None]
    finite = [a for a in finite if a.size]
    if not finite:
        return None
    top = max(float(np.log10(a.max())) for a in finite)
    bottom = min(float(np.log10(a.min())) for a in finite)
    bottom = max(bottom, top - decades)
    pad = max(0.3, 0.05 * (top - bottom))
    return [bottom - pad, top + pad]


# ---- 1. gradient flow -----------------------------------------------------------


@dataclass(frozen=True)
class Line:
    """One curve: its name, colour, steps (N,) and values (N,), dash style."""

    name: str
    colour: str
    steps: np.ndarray
    values: np.ndarray
    dash: str = "solid"
    width: float = LINE


@dataclass(frozen=True)
class Scrub:
    """Precomputed frames for the in-chart slider.

    label: "w" or "ρ"; values: (V,); lines: V lists of (N,) arrays, one per
    line of the figure, in the same order; active: the index to start on;
    steps: (N,) the lines' x when it is not the figure's (fewer steps than
    the figure draws: a long run's 41 frames stay small).
    """

    label: str
    values: np.ndarray
    lines: list = field(default_factory=list)
    active: int = 0
    steps: np.ndarray | None = None


@dataclass(frozen=True)
class ScrubParts:
    """A Scrub drawn once: its frames and slider as checked plain dicts, and the
    smallest and largest positive value its lines reach (for the y range).

    Checking 41 frames' arrays is most of a chart's drawing time, and the
    frames do not change when the setting they sweep moves, so the app keeps
    these parts and only patches the slider's starting position."""

    frames: list
    slider: dict
    extremes: np.ndarray


def scrub_parts(scrub: Scrub) -> ScrubParts:
    fig = go.Figure()
    _add_scrub(fig, scrub)
    spec = fig.to_plotly_json()
    finite = [masked(v) for frame in scrub.lines for v in frame]
    finite = np.concatenate([v[np.isfinite(v)] for v in finite]) if finite else np.array([])
    extremes = np.array([finite.min(), finite.max()]) if finite.size else np.array([])
    return ScrubParts(list(spec["frames"]), spec["layout"]["sliders"][0], extremes)


def gradient_flow_figure(
    lines: Sequence[Line],
    *,
    steps: int,
    threshold: float | None = None,
    threshold_text: str = "",
    chunk: int | None = None,
    scrub: Scrub | ScrubParts | None = None,
    active: int | None = None,
    title: str = "How far back the gradient reaches: ‖∂L/∂h<sub>t</sub>‖",
) -> go.Figure:
    """‖∂L/∂h_t‖ over t on a log axis, one line per curve; the clipping
    threshold as a horizontal line, the truncation chunks as vertical lines,
    and an in-browser slider over ``scrub``'s frames (starting at ``active``).

    Built as one plain specification: without ``scrub`` a ``go.Figure``
    checked once; with it an ``AssembledFigure`` (its frames were checked
    when ``scrub_parts`` drew them, its traces are typed arrays)."""
    if isinstance(scrub, Scrub):
        active = scrub.active if active is None else active
        scrub = scrub_parts(scrub)
    data = []
    for line in lines:
        data.append(
            {
                "type": "scatter",
                "x": typed(line.steps, _int_dtype(line.steps)),
                "y": typed(masked(line.values)),
                "name": line.name,
                "mode": "lines",
                "line": {"color": line.colour, "width": line.width, "dash": line.dash},
                "hovertemplate": "t = %{x}<br>%{y:.3e}<extra>" + line.name + "</extra>",
            }
        )
    all_values = [masked(line.values) for line in lines]
    frame_values = [] if scrub is None else [scrub.extremes]
    shapes, annotations = [], []
    if threshold is not None:
        all_values.append(np.array([threshold]))
        shape, label = hline_parts(
            threshold,
            threshold_text or f"clipping threshold θ = {threshold:g}",
            line={"color": OKABE_ITO["black"], "width": 2, "dash": "dashdot"},
            log=True,
        )
        shapes.append(shape)
        annotations.append(label)
    if chunk is not None and chunk < steps:
        boundaries = np.arange(chunk, steps, chunk) - 0.5
        if boundaries.size <= 60:
            shapes += [
                {
                    "type": "line",
                    "xref": "x",
                    "x0": float(b),
                    "x1": float(b),
                    "yref": "y domain",
                    "y0": 0,
                    "y1": 1,
                    "line": {"color": OKABE_ITO["grey"], "width": 2, "dash": "dot"},
                }
                for b in boundaries
            ]
    layout = {
        "xaxis": {"title": {"text": "time step t"}, "range": [-0.5, steps - 0.5]},
        "yaxis": {
            "title": {"text": "‖∂L/∂h<sub>t</sub>‖ (log scale)"},
            **log_y_axis(all_values, also=frame_values),
        },
        "hovermode": "x unified",
        "showlegend": True,
    }
    if shapes:
        layout["shapes"] = shapes
    if annotations:
        layout["annotations"] = annotations
    top = 64 + 28 * legend_rows([line.name for line in lines])
    if scrub is None:
        layout = themed_layout(
            layout, title=title, height=420 + top, legend=LEGEND_ON_TOP, margin={"t": top}
        )
        return go.Figure({"data": data, "layout": layout})
    layout = themed_layout(
        layout, title=title, height=520 + top, legend=LEGEND_ON_TOP, margin={"t": top, "b": 150}
    )
    layout["sliders"] = [{**scrub.slider, "active": active or 0}]
    return AssembledFigure({"data": data, "layout": layout, "frames": scrub.frames})


def _int_dtype(values: np.ndarray) -> str:
    """The smallest of Plotly's integer typed-array dtypes that holds ``values``."""
    top = int(np.max(np.abs(values))) if len(values) else 0
    return "i2" if top < 2**15 else "i4"


class AssembledFigure(go.Figure):
    """A figure put together from parts that were each checked when built.

    Plotly re-checks every frame whenever a Figure is made from a dict (about
    1 ms per frame); ``to_dict`` — what Streamlit and ``to_json`` read —
    returns the assembled specification as it is; read the figure through it
    (its ``data``, ``layout`` and ``frames`` attributes stay empty)."""

    def __init__(self, spec: dict) -> None:
        super().__init__()
        self._assembled = spec

    def to_dict(self) -> dict:
        return {**self._assembled, "layout": dict(self._assembled["layout"])}

    def to_plotly_json(self) -> dict:
        return self.to_dict()


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


def _add_scrub(fig: go.Figure, scrub: Scrub) -> None:
    names = [f"{v:.2f}" for v in scrub.values]
    # every step carries its value, which the read-out above the rail shows;
    # forty-odd labels under the rail would overlap, so they are drawn transparent
    indices = list(range(len(scrub.lines[0]))) if scrub.lines else []
    x = {} if scrub.steps is None else {"x": typed(scrub.steps, _int_dtype(scrub.steps))}
    fig.frames = [
        go.Frame(
            name=name,
            data=[go.Scatter(y=typed(masked(values)), **x) for values in frame],
            traces=indices,
        )
        for name, frame in zip(names, scrub.lines, strict=True)
    ]
    fig.update_layout(
        sliders=[
            {
                "active": scrub.active,
                "currentvalue": {
                    "prefix": f"drag to scrub {scrub.label} ({names[0]} … {names[-1]}) = ",
                    "font": {"size": FONT + 2, "color": "#111"},
                },
                "pad": {"t": 80},
                "len": 1.0,
                "x": 0.0,
                "font": {"size": 1, "color": "rgba(0,0,0,0)"},
                "ticklen": 4,
                "steps": [
                    {
                        "label": name,
                        "method": "animate",
                        "args": animate_to([name]),
                    }
                    for i, name in enumerate(names)
                ],
            }
        ],
    )


# ---- heatmaps ----------------------------------------------------------------------


def log_heatmap_figure(
    magnitude: np.ndarray,
    steps: np.ndarray,
    *,
    title: str,
    colour_title: str,
    y_title: str = "unit",
    y_values: np.ndarray | None = None,
    x_title: str = "time step t",
    height: int = 420,
    square: bool = False,
) -> go.Figure:
    """log10 of a magnitude (rows × steps) as a heatmap, ticks in powers of ten.

    Cells that are 0 or not finite stay blank."""
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.log10(masked(magnitude))
    finite = z[np.isfinite(z)]
    low, high = (float(finite.min()), float(finite.max())) if finite.size else (-1, 1)
    low = max(low, high - 40)  # a colour scale over more than 40 decades reads as two colours
    ticks, labels = power_ticks(low, high, at_most=max(3, height // 90))
    heatmap = {
        "type": "heatmap",
        # float32 logarithms: three digits more than a colour can show, half the bytes
        "z": typed(z, "f4"),
        "x": steps,
        "y": y_values if y_values is not None else np.arange(z.shape[0]),
        "colorscale": SEQUENTIAL,
        "zmin": low,
        "zmax": high,
        "colorbar": {
            "title": {"text": colour_title, "font": {"size": FONT}, "side": "right"},
            "tickvals": ticks,
            "ticktext": labels,
            "tickfont": {"size": FONT},
        },
        "hovertemplate": "x = %{x}<br>y = %{y}<br>log<sub>10</sub> = %{z:.2f}<extra></extra>",
    }
    yaxis = {"title": {"text": y_title}}
    if y_values is None:  # units: whole numbers only
        yaxis.update(dtick=max(1, int(np.ceil(z.shape[0] / 8))), tick0=0)
    if square:
        yaxis.update(scaleanchor="x", autorange="reversed")
    layout = {"xaxis": {"title": {"text": x_title}}, "yaxis": yaxis}
    # one plain specification, checked once (see ``themed``)
    return go.Figure(
        {"data": [heatmap], "layout": themed_layout(layout, title=title, height=height)}
    )


@dataclass(frozen=True)
class Panel:
    """One heatmap row of a stacked figure: (H, N) values over the steps."""

    name: str
    values: np.ndarray
    diverging: bool


def stacked_heatmaps_figure(
    panels: Sequence[Panel], steps: np.ndarray, *, title: str, shared_range: bool = False
) -> go.Figure:
    """Heatmaps (unit × step) stacked over a shared time axis; signed values on a
    diverging scale centred at 0, gates (0 … 1) on a sequential one."""
    n = len(panels)
    fig = make_subplots(
        rows=n,
        cols=1,
        shared_xaxes=True,
        vertical_spacing=0.08 if n > 1 else 0.0,
        subplot_titles=[p.name for p in panels],
    )
    for row, panel in enumerate(panels, start=1):
        values = np.where(np.isfinite(panel.values), panel.values, np.nan)
        if panel.diverging:
            finite = np.abs(values[np.isfinite(values)])
            bound = float(finite.max()) if finite.size and finite.max() > 0 else 1.0
            scale = {"colorscale": DIVERGING, "zmin": -bound, "zmax": bound}
        else:
            scale = {"colorscale": SEQUENTIAL, "zmin": 0.0, "zmax": 1.0}
        top = 1 - (row - 1) / n
        fig.add_trace(
            go.Heatmap(
                z=typed(values),
                x=steps,
                y=np.arange(values.shape[0]),
                colorbar={
                    "y": top - 0.5 / n,
                    "len": 0.9 / n,
                    "tickfont": {"size": FONT},
                    "thickness": 18,
                },
                showscale=not shared_range or row == 1,
                hovertemplate="t = %{x}<br>unit %{y}<br>%{z:.3g}<extra>" + panel.name + "</extra>",
                **scale,
            ),
            row=row,
            col=1,
        )
        dtick = max(1, int(np.ceil(values.shape[0] / 6)))
        fig.update_yaxes(title_text="unit", dtick=dtick, tick0=0, row=row, col=1)
    fig.update_xaxes(title_text="time step t", row=n, col=1)
    fig = themed(fig, title=title, height=max(320, 230 * n + 60))
    fig.update_annotations(font_size=FONT + 1)
    return fig


# ---- lines over time ------------------------------------------------------------------


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
) -> go.Figure:
    """Curves over time on a linear or log axis, with an optional horizontal line."""
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
                mode="lines",
                line={"color": line.colour, "width": line.width, "dash": line.dash},
            )
        )
    if reference is not None:
        labelled_hline(
            fig,
            reference,
            reference_text,
            line={"color": OKABE_ITO["black"], "width": 2, "dash": "dash"},
            log=log,
        )
    fig.update_layout(
        xaxis_title="time step t",
        yaxis={"title": {"text": y_title}},
        legend={"orientation": "h", "y": -0.25, "x": 0},
    )
    if log:
        extra = [] if reference is None else [np.array([reference])]
        set_log_y(fig, [masked(line.values) for line in lines] + extra)
    elif y_range is not None:
        fig.update_yaxes(range=y_range, autorange=False)
    return themed(fig, title=title, height=height)


# ---- 3. eigenvalues ----------------------------------------------------------------------

BLOCK_SYMBOLS = {
    "main": "circle",
    "input": "triangle-up",
    "forget": "square",
    "output": "diamond",
    "reset": "triangle-down",
    "update": "cross",
}


def eigenvalues_figure(
    eigenvalues: dict[str, np.ndarray], *, colour: str, title: str, block_names: dict
) -> go.Figure:
    """Eigenvalues in the complex plane, one marker per gate block, with the unit circle."""
    fig = go.Figure()
    angle = np.linspace(0, 2 * np.pi, 200)
    fig.add_trace(
        go.Scatter(
            x=np.cos(angle),
            y=np.sin(angle),
            mode="lines",
            name="|λ| = 1",
            line={"color": OKABE_ITO["grey"], "width": 2, "dash": "dash"},
            hoverinfo="skip",
        )
    )
    reach = 1.0
    for block, values in eigenvalues.items():
        values = np.asarray(values, dtype=complex)
        values = values[np.isfinite(values)]
        if values.size:
            reach = max(reach, float(np.max(np.abs(values))))
        fig.add_trace(
            go.Scatter(
                x=values.real,
                y=values.imag,
                mode="markers",
                name=block_names.get(block, block),
                marker={
                    "color": colour,
                    "size": 12,
                    "symbol": BLOCK_SYMBOLS.get(block, "circle"),
                    "line": {"width": 1, "color": "white"},
                    "opacity": 0.85,
                },
                hovertemplate="%{x:.3f} %{y:+.3f}i<extra>"
                + block_names.get(block, block)
                + "</extra>",
            )
        )
    bound = 1.1 * reach
    fig.update_layout(
        xaxis={"title": {"text": "real part"}, "range": [-bound, bound], "zeroline": True},
        yaxis={
            "title": {"text": "imaginary part"},
            "range": [-bound, bound],
            "scaleanchor": "x",
            "zeroline": True,
        },
        legend={"orientation": "h", "y": -0.2, "x": 0},
    )
    return themed(fig, title=title, height=520)


# ---- 4. clipping -----------------------------------------------------------------------------


def clipping_bars_figure(
    names: Sequence[str],
    before: np.ndarray,
    after: np.ndarray | None,
    *,
    colour: str,
    title: str,
) -> go.Figure:
    """Each parameter's gradient norm before (solid) and after (hatched) clipping;
    ``after`` None when clipping is off."""
    fig = go.Figure()
    fig.add_trace(
        go.Bar(
            x=list(names),
            y=masked(before),
            name="before clipping" if after is not None else "gradient norm",
            marker_color=colour,
        )
    )
    if after is not None:
        fig.add_trace(after_clipping_bar(names, after, colour))
    fig.update_layout(
        barmode="group",
        xaxis_title="parameter",
        yaxis={"title": {"text": "‖∂L/∂θ‖ (log scale)"}},
        legend={"orientation": "h", "y": 1.02, "x": 1, "xanchor": "right", "yanchor": "bottom"},
    )
    set_log_y(fig, [masked(before), masked(after)])
    fig.update_layout(showlegend=after is not None)
    return themed(fig, title=title, height=480)


def global_norm_figure(
    names: Sequence[str],
    norms: np.ndarray,
    scaled: np.ndarray,
    colours: Sequence[str],
    *,
    threshold: float | None,
) -> go.Figure:
    """Each cell's global gradient norm, what clipping leaves of it (when on), and θ."""
    fig = go.Figure()
    fig.add_trace(
        go.Bar(
            x=list(names),
            y=masked(norms),
            name="global norm ‖g‖",
            marker_color=list(colours),
            text=[_plain(v) if np.isfinite(v) and v > 0 else "" for v in norms],
            textposition="outside",
            textfont={"size": FONT},
        )
    )
    if threshold is not None:
        fig.add_trace(after_clipping_bar(names, scaled, list(colours)))
    values = [masked(norms), masked(scaled)]
    if threshold is not None:
        values.append(np.array([threshold]))
        labelled_hline(
            fig,
            threshold,
            f"θ = {threshold:g}",
            line={"color": OKABE_ITO["black"], "width": 3, "dash": "dashdot"},
            log=True,
            side="right",
        )
    fig.update_layout(
        barmode="group",
        yaxis={"title": {"text": "global norm (log scale)"}},
        legend={"orientation": "h", "y": 1.02, "x": 1, "xanchor": "right", "yanchor": "bottom"},
    )
    set_log_y(fig, values, extra_top=0.5)
    return themed(fig, title="Global gradient norm against θ", height=480)


# ---- 5. phase diagram --------------------------------------------------------------------------


def phase_figure(
    log_norm: np.ndarray,
    radii: np.ndarray,
    lags: np.ndarray,
    overflow: np.ndarray,
    *,
    x_title: str,
    current: float | None,
    title: str,
) -> go.Figure:
    """log10 ‖∂L/∂h_{T−1−k}‖ over the knob (x) and the lag k (y): blue where
    the gradient vanishes, red where it explodes, crosses where it overflowed."""
    finite = log_norm[np.isfinite(log_norm)]
    bound = float(np.max(np.abs(finite))) if finite.size else 1.0
    bound = min(max(bound, 1.0), 40.0)
    ticks, labels = power_ticks(-bound, bound)
    fig = go.Figure(
        go.Heatmap(
            z=typed(np.clip(log_norm, -bound, bound)),
            x=radii,
            y=lags,
            colorscale=DIVERGING,
            zmid=0.0,
            zmin=-bound,
            zmax=bound,
            colorbar={
                "title": {"text": "‖∂L/∂h‖", "font": {"size": FONT}, "side": "right"},
                "tickvals": ticks,
                "ticktext": labels,
                "tickfont": {"size": FONT},
            },
            hovertemplate=x_title
            + " = %{x}<br>k = %{y}<br>log<sub>10</sub>‖∂L/∂h‖ = %{z:.2f}<extra></extra>",
        )
    )
    rows, cols = np.nonzero(overflow)
    if rows.size:
        fig.add_trace(
            go.Scatter(
                x=radii[cols],
                y=lags[rows],
                mode="markers",
                name="overflowed",
                marker={"symbol": "x-thin", "size": 8, "line": {"width": 2, "color": "#000"}},
            )
        )
    if current is not None:
        fig.add_vline(
            x=current,
            line={"color": OKABE_ITO["black"], "width": 3, "dash": "dash"},
            annotation_text="your setting",
            annotation_position="top right",
            annotation_font_size=FONT,
        )
    fig.update_layout(
        xaxis_title=x_title,
        yaxis_title="steps back from the end, k",
        legend={"orientation": "h", "y": -0.2, "x": 0},
    )
    return themed(fig, title=title, height=560)
