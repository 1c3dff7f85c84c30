"""The gradient-flow chart: ‖∂L/∂h_t‖ over t, one line per cell, and the
in-chart slider whose frames redraw it in the browser. Drawing only."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import plotly.graph_objects as go

from app.alt_text import plain
from app.axis_exits import axis_exits, exit_parts
from app.charts import (
    FONT,
    LEGEND_ON_TOP,
    OKABE_ITO,
    Line,
    animate_to,
    hline_parts,
    legend_rows,
    line_mode,
    log_y_axis,
    masked,
    themed_layout,
    typed,
    typed_for_drawing,
)


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


STEPS_FRAME = "steps"  # the base frame holding the x the frames share


def scrub_parts(scrub: Scrub) -> ScrubParts:
    """The frames and slider of ``scrub``, written as the plain specification
    Plotly would write for them. Their arrays are typed already, so there is
    nothing for plotly.py to check: building 41 ``go.Frame``s cost about half
    a second of a classroom server's rerun for the same dicts."""
    finite = [masked(v) for frame in scrub.lines for v in frame]
    finite = np.concatenate([v[np.isfinite(v)] for v in finite]) if finite else np.array([])
    extremes = np.array([finite.min(), finite.max()]) if finite.size else np.array([])
    return ScrubParts(_scrub_frames(scrub), _scrub_slider(scrub), extremes)


def gradient_flow_figure(
    lines: Sequence[Line],
    *,
    steps: int,
    first_step: int = 0,
    threshold: float | None = None,
    threshold_text: str = "",
    chunk: int | None = None,
    scrub: Scrub | ScrubParts | None = None,
    active: int | None = None,
    words_at: str = "",
    setting_label: str | None = None,
    title: str = "How far back the gradient reaches: ‖∂L/∂h<sub>t</sub>‖",
) -> go.Figure:
    """‖∂L/∂h_t‖ over t (from ``first_step`` on) on a log axis, one line per curve; the clipping
    threshold as a horizontal line, the truncation chunks as vertical lines,
    and an in-browser slider over ``scrub``'s frames (starting at ``active``).

    Built as one plain specification: without ``scrub`` a ``go.Figure``
    checked once; with it an ``AssembledFigure`` (its frames were checked
    when ``scrub_parts`` drew them, its traces are typed arrays).

    A line that leaves the y axis is named where it leaves, in words on the
    chart (``axis_exits``); ``words_at`` begins each sentence ("at ρ = 0.90: "),
    since they describe the current settings, not the slider's other frames.

    ``setting_label``: the knob's value when it is off the slider's grid (ρ
    of W_hh as drawn, say 0.630): the slider gets a step of its own there,
    showing ``lines`` (see ``with_setting_step``), and starts on it, so that
    its read-out says the number the chart is drawn at."""
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
                **line_mode(line.colour),
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
        boundaries = boundaries[boundaries > first_step]
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
        "xaxis": {
            "title": {
                "text": "time step t" + (f" (the last {steps - first_step})" if first_step else "")
            },
            "range": [first_step - 0.5, steps - 0.5],
        },
        "yaxis": {
            "title": {"text": "‖∂L/∂h<sub>t</sub>‖ (log scale)"},
            **log_y_axis(all_values, also=frame_values),
        },
        "hovermode": "x unified",
        "showlegend": True,
    }
    exits = axis_exits(lines, layout["yaxis"].get("range", [-308, 308]), backward=True)
    exit_notes, layout["meta"] = exit_parts(
        exits,
        {plain(line.name): line.colour for line in lines},
        layout["yaxis"].get("range", [-308, 308]),
        layout["xaxis"]["range"],
        font_size=FONT,
        prefix=words_at,
    )
    annotations += exit_notes
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
    slider, frames = {**scrub.slider, "active": active or 0}, scrub.frames
    if setting_label is not None:
        slider, frames = with_setting_step(slider, frames, lines, setting_label)
    layout["sliders"] = [slider]
    return AssembledFigure({"data": data, "layout": layout, "frames": frames})


SETTING_FRAME = "setting"  # the frame of the knob's own value, off the grid


def with_setting_step(
    slider: dict, frames: list, lines: Sequence[Line], label: str
) -> tuple[dict, list]:
    """The slider and frames with one more step, at ``label``'s place in
    value order, showing ``lines`` as drawn (x and y: it is the one frame not
    drawn on the frames' steps); the slider starts on it."""
    value = float(label)
    steps = list(slider["steps"])
    at = sum(1 for step in steps if float(step["label"]) < value)
    steps.insert(at, {"label": label, "method": "animate", "args": animate_to([SETTING_FRAME])})
    frame = {
        "name": SETTING_FRAME,
        "data": [
            {
                "type": "scatter",
                "x": typed(line.steps, _int_dtype(line.steps)),
                "y": typed_for_drawing(masked(line.values)),
            }
            for line in lines
        ],
        "traces": list(range(len(lines))),
    }
    shown = [f for f in frames if f["name"] != STEPS_FRAME]
    base = [f for f in frames if f["name"] == STEPS_FRAME]
    if base:
        frame["baseframe"] = STEPS_FRAME
    return {**slider, "steps": steps, "active": at}, [*shown[:at], frame, *shown[at:], *base]


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


def _frame_names(scrub: Scrub) -> list[str]:
    return [f"{v:.2f}" for v in scrub.values]


def _scrub_frames(scrub: Scrub) -> list[dict]:
    # The steps, when the frames draw fewer than the figure, go once in a base
    # frame that every frame names, not in each of 41 frames × lines.
    indices = list(range(len(scrub.lines[0]))) if scrub.lines else []
    base = {} if scrub.steps is None else {"baseframe": STEPS_FRAME}
    frames = [
        {
            **base,
            "data": [{"y": typed_for_drawing(masked(v)), "type": "scatter"} for v in frame],
            "name": name,
            "traces": indices,
        }
        for name, frame in zip(_frame_names(scrub), scrub.lines, strict=True)
    ]
    if scrub.steps is not None:
        x = typed(scrub.steps, _int_dtype(scrub.steps))
        frames.append(
            {
                "data": [{"x": x, "type": "scatter"} for _ in indices],
                "name": STEPS_FRAME,
                "traces": indices,
            }
        )
    return frames


def _scrub_slider(scrub: Scrub) -> dict:
    # every step carries its value, which the read-out above the rail shows;
    # forty-odd labels under the rail would overlap, so they are drawn transparent
    names = _frame_names(scrub)
    return {
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
            for name in names
        ],
    }
