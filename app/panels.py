"""The detail views' figures: heatmaps over time, the eigenvalues of W_hh,
the clipping bars and the phase diagram. Drawing only: data in, figure out."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from app.charts import (
    BOTTOM_MARGIN,
    DIVERGING,
    FONT,
    OKABE_ITO,
    SEQUENTIAL,
    after_clipping_bar,
    labelled_hline,
    legend_at_foot,
    log_ticks,
    masked,
    plain_number,
    power_ticks,
    set_log_y,
    themed,
    themed_layout,
    typed,
    vline_parts,
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
    ticks, labels = colour_ticks(low, high, at_most=max(3, height // 90))
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
    xaxis = {"title": {"text": x_title}}
    if y_values is None:  # units: whole numbers only
        yaxis.update(dtick=max(1, int(np.ceil(z.shape[0] / 8))), tick0=0)
    extra = {}
    if square:
        # steps against steps, each axis over the steps it holds, ticks at round
        # steps; no fixed aspect (Plotly kept the square by widening an axis past
        # the data, to −20 … 120), and the colour bar under the plot, so that the
        # map keeps the column's width
        n = z.shape[0]
        dtick = round_step(n / 5)
        xaxis.update(range=[-0.5, n - 0.5], dtick=dtick, tick0=0)
        yaxis.update(range=[n - 0.5, -0.5], dtick=dtick, tick0=0)
        heatmap["colorbar"].update(
            orientation="h",
            x=0,
            xanchor="left",
            # at the figure's foot, measured from it: a fraction of the plot
            # ran into the x axis's title when projector mode enlarged it
            yref="container",
            y=0.02,
            yanchor="bottom",
            len=0.75,
            thickness=16,
            title={"text": colour_title, "font": {"size": FONT}, "side": "right"},
        )
        extra["margin"] = {"b": 170}
    layout = {"xaxis": xaxis, "yaxis": yaxis}
    # one plain specification, checked once (see ``themed``)
    return go.Figure(
        {"data": [heatmap], "layout": themed_layout(layout, title=title, height=height, **extra)}
    )


def round_step(approximate: float) -> int:
    """The whole 1, 2 or 5 × 10ⁿ nearest above ``approximate``: a tick spacing."""
    for exponent in range(0, 7):
        for mantissa in (1, 2, 5):
            if mantissa * 10**exponent >= approximate:
                return mantissa * 10**exponent
    return 10**7


def colour_ticks(low: float, high: float, at_most: int = 8) -> tuple[list, list]:
    """At least three ticks for a log10 colour bar over ``low`` … ``high``:
    powers of ten, or 1, 2, 5 × 10ⁿ over a decade or two, or else (a range
    within a factor of two) its ends and middle."""
    ticks, labels = power_ticks(low, high, at_most)
    ticks = [t for t in ticks if low - 1e-9 <= t <= high + 1e-9]
    if len(ticks) >= 3:
        return ticks, [_power_label(t) for t in ticks]
    values, labels = log_ticks(low, high)
    if len(values) >= 3:
        return [float(np.log10(v)) for v in values], labels
    middle = np.linspace(low, high, 3)
    return [float(v) for v in middle], [plain_number(float(f"{10.0**v:.2g}")) for v in middle]


def _power_label(exponent: float) -> str:
    return plain_number(10.0 ** int(exponent))


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
    )
    legend, foot = legend_at_foot(fig)
    return themed(
        fig, title=title, height=520 + foot, legend=legend, margin={"b": BOTTOM_MARGIN + foot}
    )


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
            text=[plain_number(v) if np.isfinite(v) and v > 0 else "" for v in norms],
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
    title = "Global gradient norm" + ("" if threshold is None else " against θ")
    return themed(fig, title=title, height=480)


# ---- 5. phase diagram --------------------------------------------------------------------------


# Diverging colours, light to dark (ColorBrewer RdBu), and the decades of the
# ratio at which each is reached: white only within a fraction of a decade of
# ratio 1, so that the border between blue and red is where the ratio is 1.
PHASE_BLUES = ("#d1e5f0", "#92c5de", "#4393c3", "#2166ac", "#053061")
PHASE_REDS = ("#fddbc7", "#f4a582", "#d6604d", "#b2182b", "#67001f")
PHASE_DECADES = (0.25, 1.0, 3.0, 10.0)  # then the scale's end
ZERO_GREY = "#9E9E9E"


def phase_colourscale(bound: float) -> list:
    """A colour scale over log10 ratios −bound … bound: white at 0 alone, a
    visible tint a quarter of a decade away, darkest at ±bound."""
    stops = [d for d in PHASE_DECADES if d < bound] + [bound]
    blues = [*PHASE_BLUES[: len(stops) - 1], PHASE_BLUES[-1]]
    reds = [*PHASE_REDS[: len(stops) - 1], PHASE_REDS[-1]]
    scale = [[0.5 - d / (2 * bound), c] for d, c in zip(stops[::-1], blues[::-1], strict=True)]
    scale.append([0.5, "#ffffff"])
    scale += [[0.5 + d / (2 * bound), c] for d, c in zip(stops, reds, strict=True)]
    return scale


def phase_figure(
    log_norm: np.ndarray,
    radii: np.ndarray,
    lags: np.ndarray,
    overflow: np.ndarray,
    *,
    x_title: str,
    current: float | None,
    title: str,
    zero: np.ndarray | None = None,
    colour_title: str = "‖∂L/∂h‖",
) -> go.Figure:
    """log10 of a gradient ratio over the knob (x) and the lag k (y): blue
    where the gradient vanishes, red where it explodes, white only near 1
    (``phase_colourscale``); crosses where it overflowed, grey where it is
    exactly 0 (``zero``: no logarithm, and a blank would read as white)."""
    finite = log_norm[np.isfinite(log_norm)]
    bound = float(np.max(np.abs(finite))) if finite.size else 1.0
    bound = min(max(bound, 1.0), 40.0)
    ticks, labels = _symmetric_power_ticks(bound)
    fig = go.Figure(
        go.Heatmap(
            z=typed(np.clip(log_norm, -bound, bound)),
            x=radii,
            y=lags,
            colorscale=phase_colourscale(bound),
            zmid=0.0,
            zmin=-bound,
            zmax=bound,
            colorbar={
                "title": {"text": colour_title, "font": {"size": FONT}, "side": "right"},
                "tickvals": ticks,
                "ticktext": labels,
                "tickfont": {"size": FONT},
            },
            hovertemplate=x_title
            + " = %{x}<br>k = %{y}<br>log<sub>10</sub> ratio = %{z:.2f}<extra></extra>",
        )
    )
    if zero is not None and zero.any():
        fig.add_trace(
            go.Heatmap(
                z=np.where(zero, 1.0, np.nan),
                x=radii,
                y=lags,
                colorscale=[[0, ZERO_GREY], [1, ZERO_GREY]],
                showscale=False,
                name="exactly 0",
                # a guide, like the unit circle: the words are the caption under the chart
                hoverinfo="skip",
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
        # labelled above the plot, clear of its own line and of the map's colours
        shape, label = vline_parts(
            current, "your setting", line={"color": OKABE_ITO["black"], "width": 3, "dash": "dash"}
        )
        fig.add_shape(shape)
        fig.add_annotation(label)
    half = (radii[1] - radii[0]) / 2 if len(radii) > 1 else 0.5
    fig.update_layout(
        # the map's own extent: the label above the line must not widen the axis
        xaxis={"title": {"text": x_title}, "range": [radii[0] - half, radii[-1] + half]},
        yaxis_title="steps back from the end, k",
    )
    legend, foot = legend_at_foot(fig)
    return themed(
        fig, title=title, height=560 + foot, legend=legend, margin={"b": BOTTOM_MARGIN + foot}
    )


def _symmetric_power_ticks(bound: float) -> tuple[list, list]:
    """Ticks 10⁻ⁿˢ … 1 … 10ⁿˢ for a colour bar over log10 −bound … bound: 1,
    the border the map is about, among them, and at least three."""
    step = next(s for s in (1, 2, 5, 10, 20, 50, 100) if bound / s <= 3)
    count = int(bound // step)
    exponents = [k * step for k in range(-count, count + 1)]
    return exponents, [plain_number(10.0**e) for e in exponents]
