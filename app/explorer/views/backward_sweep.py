"""The backward sweep: backpropagation through time played as a film.

‖∂L/∂h_t‖ on a log axis, one line per cell, revealed from the last step
T − 1 back to step 0 by a Play button and a slider that run in the browser
(Plotly frames, no rerun). Each frame moves only a marker per cell and a
"curtain", a filled rectangle in the background colour that leaves the steps
not yet reached faint, so a frame is a few numbers, not a line: 200 frames of
a T = 2000 run stay a few kilobytes and play smoothly.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from app import charts, flow_chart
from app.compute import gradient_ratio, norms_over_time, sample_steps
from app.explorer.state import Settings
from app.explorer.views.common import (
    MAX_STEPS_DRAWN,
    TEXT_BESIDE,
    Runs,
    chart,
    colour,
    download_row,
    name,
)
from app.text import sci, text_column

KEY = "backward_sweep"
MAX_FRAMES = 200  # at most one frame per step; beyond T = 200 a frame moves several steps
SWEEP_SECONDS = 10.0  # how long a whole sweep should take, when the frames allow
FRAME_MS_RANGE = (40, 100)  # per frame: at least 10 frames per second, at most 25
CURTAIN = "rgba(255,255,255,0.82)"  # the background colour (white, or dark once styled)
MARKER_SIZE = 13
CONTROLS_MARGIN = 230  # px under the plot: axis title, then Play/Pause, then the slider
TITLE = "Backward sweep: ‖∂L/∂h<sub>t</sub>‖ from step T−1 back to 0"


@dataclass(frozen=True)
class SweepLine:
    """One cell's line: its legend name, colour and (T,) ‖∂L/∂h_t‖ with
    0, ±inf and nan masked to nan (a log axis cannot show them)."""

    name: str
    colour: str
    norms: np.ndarray


def sweep_lines(runs: Runs) -> list[SweepLine]:
    """A line per cell shown whose run the engine accepted (forward direction)."""
    return [
        SweepLine(name(kind), colour(kind), charts.masked(norms_over_time(run.trace.grad_hidden)))
        for kind, run in runs.finished()
    ]


def sweep_stops(steps: int) -> np.ndarray:
    """The step each frame reaches, in play order: T − 1, T − 2, …, 0 when
    T ≤ 200, else 200 steps evenly spread from T − 1 down to 0. (F,) ints."""
    if steps <= MAX_FRAMES:
        return np.arange(steps - 1, -1, -1)
    return np.unique(np.round(np.linspace(0, steps - 1, MAX_FRAMES)).astype(int))[::-1]


def frame_ms(frames: int) -> int:
    """Milliseconds per frame: a sweep of about SWEEP_SECONDS, within FRAME_MS_RANGE."""
    low, high = FRAME_MS_RANGE
    return int(min(high, max(low, round(1000 * SWEEP_SECONDS / max(frames, 1)))))


def _value(norms: np.ndarray, step: int) -> float | None:
    """The norm at ``step`` for a frame (None where masked: not drawn)."""
    value = float(norms[step])
    return value if np.isfinite(value) and value > 0 else None


def sweep_figure(
    lines: Sequence[SweepLine], *, steps: int, chunk: int | None = None, title: str = TITLE
) -> go.Figure:
    """The animated figure: traces are the lines (one per cell), the curtain,
    then one marker per cell; frame k puts the markers at step ``sweep_stops[k]``
    and the curtain's edge there. It opens on the last frame (the whole line);
    Play starts again from T − 1. Returns an ``AssembledFigure`` (read it with
    ``to_dict()``) when T ≥ 2, a plain figure without controls when T = 1."""
    stops = sweep_stops(steps)
    drawn = sample_steps(steps, MAX_STEPS_DRAWN)
    fig = go.Figure()
    for line in lines:
        fig.add_trace(
            go.Scatter(
                x=drawn,
                y=charts.typed(line.norms[drawn]),
                name=line.name,
                **(charts.line_mode(line.colour) if steps > 1 else {"mode": "markers"}),
                line={"color": line.colour, "width": charts.LINE},
                hovertemplate="t = %{x}<br>%{y:.3e}<extra>" + line.name + "</extra>",
            )
        )
    charts.set_log_y(fig, [line.norms for line in lines])
    low, high = fig.layout.yaxis.range or (-1.0, 1.0)
    if fig.layout.yaxis.range is None:  # nothing finite to show: keep the curtain in bounds
        fig.update_yaxes(range=[low, high], autorange=False)
    left = -1.0  # left of the x range's −0.5
    bottom, top = 10.0 ** (low - 1), 10.0 ** (high + 1)  # beyond the y range, clipped
    last = int(stops[-1])
    fig.add_trace(
        go.Scatter(
            x=_curtain_x(left, last),
            y=[bottom, bottom, top, top, bottom],
            mode="lines",
            fill="toself",
            fillcolor=CURTAIN,
            line={"width": 0},
            hoverinfo="skip",
            showlegend=False,
            name="not yet reached",
        )
    )
    for line in lines:
        fig.add_trace(
            go.Scatter(
                x=[last],
                y=[_value(line.norms, last)],
                mode="markers",
                marker={
                    "color": line.colour,
                    "symbol": charts.MARKER_OF_COLOUR.get(line.colour, "circle"),
                    "size": MARKER_SIZE,
                    "line": {"color": "white", "width": 1.5},
                },
                showlegend=False,
                name=line.name,
                hovertemplate="t = %{x}<br>%{y:.3e}<extra>" + line.name + "</extra>",
            )
        )
    if chunk is not None and chunk < steps:
        boundaries = np.arange(chunk, steps, chunk) - 0.5
        if boundaries.size <= 60:
            dotted = {"color": charts.OKABE_ITO["grey"], "width": 2, "dash": "dot"}
            fig.update_layout(
                shapes=[
                    *fig.layout.shapes,
                    *(charts.vline_parts(b, line=dotted)[0] for b in boundaries),
                ]
            )
    fig.update_layout(
        xaxis={"title": {"text": "time step t"}, "range": [-0.5, steps - 0.5]},
        yaxis={"title": {"text": "‖∂L/∂h<sub>t</sub>‖ (log scale)"}},
        showlegend=True,
        hovermode="closest",
    )
    top_margin = 64 + 28 * charts.legend_rows([line.name for line in lines])
    # the margins through ``themed``, which grows the top one for a wrapped title
    if steps < 2:
        return charts.themed(
            fig,
            title=title,
            height=420 + top_margin,
            legend=charts.LEGEND_ON_TOP,
            margin={"t": top_margin},
        )
    fig = charts.themed(
        fig,
        title=title,
        height=420 + top_margin + CONTROLS_MARGIN - 70,
        legend=charts.LEGEND_ON_TOP,
        margin={"t": top_margin, "b": CONTROLS_MARGIN},
    )
    spec = fig.to_dict()
    curtain = len(lines)
    markers = list(range(curtain + 1, curtain + 1 + len(lines)))
    spec["frames"] = [
        {
            "name": str(int(stop)),
            "data": [{"type": "scatter", "x": _curtain_x(left, int(stop))}]
            + [
                {"type": "scatter", "x": [int(stop)], "y": [_value(line.norms, int(stop))]}
                for line in lines
            ],
            "traces": [curtain, *markers],
        }
        for stop in stops
    ]
    spec["layout"]["sliders"] = [_slider(stops, steps)]
    spec["layout"]["updatemenus"] = [_play_pause(frame_ms(len(stops)))]
    return flow_chart.AssembledFigure(spec)


def _curtain_x(left: float, stop: int) -> list[float]:
    return [left, stop, stop, left, left]


def _slider(stops: np.ndarray, steps: int) -> dict:
    """The slider's steps run left to right in t, as the time axis above it
    does (the frames, played, run from T − 1 back to 0: the handle follows
    the curtain leftwards); it starts at t = 0, the whole sweep."""
    jump = {"mode": "immediate", "frame": {"duration": 0, "redraw": False}}
    along_t = np.sort(stops)
    return {
        "active": 0,
        "currentvalue": {
            "prefix": "step t = ",
            "font": {"size": charts.FONT + 2, "color": "#111"},
        },
        "pad": {"t": 140},  # under the buttons: side by side they crowd a narrow chart
        "len": 1.0,
        "x": 0.0,
        # one label per frame under the rail would overlap; the read-out above shows it
        "font": {"size": 1, "color": "rgba(0,0,0,0)"},
        "ticklen": 3,
        "steps": [
            {
                "label": f"{stop} ({steps - 1 - stop} steps back)",
                "method": "animate",
                "args": [[str(int(stop))], {**jump, "transition": {"duration": 0}}],
            }
            for stop in along_t
        ],
    }


def _play_pause(duration_ms: int) -> dict:
    """Play (from where the slider is; from T − 1 again once at the end) and Pause."""
    return {
        "type": "buttons",
        "direction": "left",
        "showactive": False,
        "x": 0.0,
        "xanchor": "left",
        "y": 0.0,
        "yanchor": "top",
        "pad": {"t": 80, "r": 10},
        "font": {"size": charts.FONT},
        "buttons": [
            {
                "label": "▶ Play",
                "method": "animate",
                "args": charts.animate_to(None, duration_ms=duration_ms, fromcurrent=True),
            },
            {
                "label": "❚❚ Pause",
                "method": "animate",
                "args": charts.animate_to([None]),
            },
        ],
    }


def animated_figure(settings: Settings, runs: Runs) -> go.Figure | None:
    """The chart as the page draws it (None when no cell could run)."""
    lines = sweep_lines(runs)
    if not lines:
        return None
    return sweep_figure(lines, steps=settings.steps, chunk=settings.truncation)


def static_figure(animated: go.Figure) -> go.Figure:
    """The last frame of ``animated`` without its controls: what is exported."""
    spec = animated.to_dict()
    spec.pop("frames", None)
    layout = {k: v for k, v in spec["layout"].items() if k not in ("sliders", "updatemenus")}
    if "sliders" in spec["layout"]:
        layout["margin"] = {**layout["margin"], "b": 70}
        layout["height"] = layout["height"] - (CONTROLS_MARGIN - 70)
    return flow_chart.AssembledFigure({**spec, "layout": layout})


def figures(settings: Settings, runs: Runs) -> dict[str, go.Figure]:
    """The view's chart as exported: the whole sweep, without Play or slider."""
    animated = animated_figure(settings, runs)
    return {} if animated is None else {KEY: static_figure(animated)}


def render(settings: Settings, runs: Runs) -> None:
    animated = animated_figure(settings, runs)
    if animated is None:
        st.info("No cell could run with these settings; see the message above.")
        return
    left, right = st.columns(TEXT_BESIDE, gap="medium")
    with left:
        chart(fig=animated, key=KEY, settings=settings, downloads=False, alone=True)
        download_row(KEY, settings, lambda: static_figure(animated))
    with right:
        text_column(*_explain(settings, runs))


def _explain(settings: Settings, runs: Runs) -> list[str]:
    T = settings.steps
    if T < 2:
        return [
            "With a single step there is nothing to walk back through: the gradient "
            "reaches h₀ straight from the loss."
        ]
    paragraphs = [
        "Press **▶ Play** under the chart to watch backpropagation through time: the "
        f"marker starts at the last step, t = {T - 1}, and walks back to t = 0, each step "
        "multiplying the gradient by one more Jacobian ∂hₜ/∂hₜ₋₁; drag the slider to "
        "stop at any step."
    ]
    parts = []
    for kind, run in runs.finished():
        ratio = gradient_ratio(norms_over_time(run.trace.grad_hidden), T - 1)
        if ratio is None:
            continue
        trend = "shrank" if ratio < 1 else "grew"
        if ratio == 0:
            parts.append(f"the {name(kind)}'s is 0 (no gradient gets there)")
        else:
            parts.append(f"the {name(kind)}'s is {sci(ratio)} times it ({trend})")
    if parts:
        paragraphs.append(
            f"By t = 0, {T - 1} steps back, compared with ‖∂L/∂h at t = {T - 1}‖: "
            + "; ".join(parts)
            + "."
            + (
                f" Truncation at k = {settings.truncation} stops the line at the first "
                "dotted boundary."
                if settings.truncation is not None and settings.truncation < T
                else ""
            )
        )
    return paragraphs
