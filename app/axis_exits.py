"""Where the lines of a log-axis chart leave it, in words.

A log axis cannot show 0, infinity, or a value beyond its range, and a line
that leaves it silently reads as a line that ends. One rule for every such
chart: ``log_window`` chooses the y range (at most ``decades`` tall, holding a
point of every line when that fits, and as many points as it can), and
``axis_exits`` says, for each line that leaves that range, where it left
("Elman RNN falls below 10⁻⁴² at step 412"). ``exit_parts`` draws an arrow
at each exit and keeps the sentences in the layout's ``meta``, from which
they are written under the chart (``app.views.common.chart``) and read out
in its text alternative (``app.alt_text``).

Drawing only: data in, words and plain dicts out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from app.alt_text import OFF_AXIS, number, plain

CANDIDATES = 200  # bottoms tried when the lines span more than the axis may hold

_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def power_text(exponent: int) -> str:
    """10ⁿ in plain Unicode, readable in a chart and by a screen reader alike."""
    return {0: "1", 1: "10"}.get(exponent, "10" + str(exponent).translate(_SUPERSCRIPT))


def _logs(arrays: Sequence[np.ndarray | None]) -> list[np.ndarray]:
    out = []
    for a in arrays:
        if a is None:
            continue
        a = np.asarray(a, dtype=np.float64)
        keep = np.isfinite(a) & (a > 0)
        if keep.any():
            out.append(np.log10(a[keep]))
    return out


def log_window(arrays: Sequence[np.ndarray | None], decades: float = 40.0) -> list | None:
    """[log10 low, log10 high] for a log axis over ``arrays``' positive finite
    values (None when there are none), with a little room.

    All of them when they span at most ``decades``. Else the window of
    ``decades`` that holds at least one point of every array, and of those
    the one holding the most points (the highest on a tie, where a gradient
    read back from the end starts). When no window of ``decades`` meets every
    array, the window grows until it does: a line in the legend is never
    wholly off the axis."""
    logs = _logs(arrays)
    if not logs:
        return None
    lows = np.array([v.min() for v in logs])
    highs = np.array([v.max() for v in logs])
    bottom, top = float(lows.min()), float(highs.max())
    if top - bottom > decades:
        # a window [a, a + decades] meets array i when a ≤ highs[i] and a + decades ≥ lows[i]
        first, last = float(lows.max()) - decades, float(highs.min())
        first, last = max(first, bottom), min(last, top - decades)
        if first > last:  # no window of ``decades`` meets every line: the least that does
            bottom, top = float(highs.min()), float(lows.max())
        else:
            values = np.concatenate(logs)
            candidates = np.linspace(last, first, CANDIDATES)  # highest first
            counts = [np.count_nonzero((values >= a) & (values <= a + decades)) for a in candidates]
            bottom = float(candidates[int(np.argmax(counts))])
            top = bottom + decades
    pad = max(0.3, 0.05 * (top - bottom))
    return [bottom - pad, top + pad]


@dataclass(frozen=True)
class Exit:
    """Where one line leaves the axis, read in the chart's direction.

    how: "below" / "above" the axis' range, "zero" (0 has no logarithm),
    "overflow" (±inf), "nan"; edge: log10 of the value crossed (below, above)."""

    name: str
    step: float
    how: str
    edge: float | None = None

    def sentence(self) -> str:
        step = f"{self.step:g}"
        edge = self.edge or 0.0
        value = power_text(int(edge)) if edge == int(edge) else number(np.power(10.0, edge))
        return {
            "below": f"{self.name} falls below {value} at step {step}",
            "above": f"{self.name} rises past {value} at step {step}",
            "zero": f"{self.name} drops to 0 (which a log axis cannot show) at step {step}",
            "overflow": f"{self.name} overflows (not finite) at step {step}",
            "nan": f"{self.name} is not a number from step {step}",
        }[self.how]

    def label(self) -> str:
        """The few words at the arrow on the chart (the sentence goes under it)."""
        what = {"zero": "0 at ", "overflow": "∞ at ", "nan": "nan at "}.get(self.how, "")
        return f"{what}step {self.step:g}"


def _where(values: np.ndarray, low: float, high: float) -> np.ndarray:
    """Each value's place against the axis: "" inside, else an ``Exit.how``."""
    values = np.asarray(values, dtype=np.float64)
    out = np.full(values.shape, "", dtype=object)
    with np.errstate(invalid="ignore", over="ignore"):
        bottom, top = np.power(10.0, [low, high])  # inf past a float's range, not an error
        out[np.isnan(values)] = "nan"
        out[np.isinf(values)] = "overflow"
        out[values <= 0] = "zero"
        finite = np.isfinite(values) & (values > 0)
        out[finite & (values < bottom)] = "below"
        out[finite & (values > top)] = "above"
    return out


def axis_exits(lines: Sequence, y_range: Sequence[float], *, backward: bool = True) -> list[Exit]:
    """For each of ``lines`` (``charts.Line``: name, steps, values) that leaves
    the log axis ``y_range`` ([log10 low, log10 high]), the first step where it
    is off it, read from the last step back (``backward``: a gradient carried
    back in time) or from the first on. The edges are the powers of ten just
    inside the range (on an axis of two decades or more, else the range's
    own ends): a point off the axis is past them too, so each sentence is true."""
    low, high = float(y_range[0]), float(y_range[1])
    edges = (np.ceil(low), np.floor(high)) if high - low >= 2 else (low, high)
    exits = []
    for line in lines:
        places = _where(line.values, low, high)
        order = np.arange(places.size)[::-1] if backward else np.arange(places.size)
        off = [i for i in order if places[i]]
        if not off:
            continue
        i = off[0]
        how = places[i]
        edge = (
            float(edges[0] if how == "below" else edges[1]) if how in ("below", "above") else None
        )
        exits.append(Exit(plain(line.name), float(line.steps[i]), how, edge))
    return exits


def exit_parts(
    exits: Sequence[Exit],
    colours: dict[str, str],
    y_range: Sequence[float],
    x_range: Sequence[float],
    *,
    font_size: int,
    prefix: str = "",
) -> tuple[list[dict], dict]:
    """The annotations (an arrow at each exit, in the line's colour, with its
    step) and the layout ``meta`` carrying the whole sentences (``prefix``
    before each), which ``app.views.common.chart`` writes under the chart and
    ``app.alt_text`` reads out: a sentence does not fit in a 400 px chart."""
    annotations = []
    middle = (x_range[0] + x_range[1]) / 2
    stacked = {"below": 0, "above": 0}
    # lines leaving at the same step the same way (a truncation boundary) share one arrow
    groups: dict[tuple, list[Exit]] = {}
    for exit in exits:
        groups.setdefault((exit.step, exit.how, exit.edge), []).append(exit)
    for same in groups.values():
        exit = same[0]
        side = "above" if exit.how in ("above", "overflow") else "below"
        y = y_range[1] if side == "above" else y_range[0]
        shift = 34 * (1 + stacked[side])
        stacked[side] += 1
        colour = colours.get(exit.name, "#111") if len(same) == 1 else "#111111"
        annotations.append(
            {
                "text": exit.label(),
                "x": exit.step,
                "xref": "x",
                "y": y,
                "yref": "y",
                "showarrow": True,
                "arrowhead": 2,
                "arrowwidth": 2,
                "arrowcolor": colour,
                "ax": 0,
                "ay": shift if side == "above" else -shift,
                "xanchor": "right" if exit.step > middle else "left",
                "font": {"size": font_size, "color": "#111"},
                "bgcolor": "rgba(255,255,255,0.85)",
                "bordercolor": colour,
                "borderwidth": 1,
            }
        )
    meta = {OFF_AXIS: [prefix + exit.sentence() for exit in exits]}
    return annotations, meta


def name_exits(fig, lines: Sequence, *, backward: bool, font_size: int) -> None:
    """``exit_parts`` laid on the Plotly figure ``fig`` (its log y range set)
    for those of ``lines`` that leave it."""
    y_range = fig.layout.yaxis.range
    if y_range is None or not lines:
        return
    steps = np.concatenate([np.asarray(line.steps, dtype=np.float64) for line in lines])
    notes, meta = exit_parts(
        axis_exits(lines, y_range, backward=backward),
        {plain(line.name): line.colour for line in lines},
        y_range,
        [float(steps.min()), float(steps.max())] if steps.size else [0, 1],
        font_size=font_size,
    )
    for note in notes:
        fig.add_annotation(note)
    fig.update_layout(meta=meta)
