"""Each chart in words, with its numbers: the text alternative a screen reader
reads in place of the figure (WCAG 1.1.1).

``describe(key, figure)`` reads the figure's own data, so the sentence says
what the chart draws: for a gradient over time, where each line starts and
how far it falls or grows over the last fifty steps; for a heatmap, its size
and its smallest and largest values and where they are; for bars, every bar;
for eigenvalues, how many and the largest |λ|. ``app.views.common.chart``
puts it, visually hidden, next to every chart. Drawing nothing, computing
nothing new: numbers in, a sentence out.
"""

from __future__ import annotations

import base64
import html
import re

import numpy as np

STEPS_BACK = 50  # as the gradient-flow view's text and the notes' worked figure
# Charts whose lines are a gradient carried back in time: read from the last step back.
BACKWARD_KEYS = {"gradient_flow", "backward_sweep"}
# Heatmaps whose colour is log10 of the quantity named on the colour bar.
LOG_COLOUR_KEYS = {"gradient_heatmap", "sensitivity", "phase_diagram"}
OFF_AXIS = "off_axis"  # layout.meta's sentences on lines leaving the axis (app.axis_exits)
DIGITS = 2  # significant digits after the first: 1.23, 4.56·10⁻¹³

_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def number(value: float) -> str:
    """A number as the text alternatives write it: 1.23, 0.0456, 1.00·10⁻¹³,
    −0.717 (three significant digits, a minus sign a screen reader says as
    "minus"; "not finite" for nan and ±inf)."""
    if not np.isfinite(value):
        return "not finite"
    if value == 0:
        return "0"
    exponent = int(np.floor(np.log10(abs(value))))
    mantissa = value / 10.0**exponent
    if round(abs(mantissa), DIGITS) >= 10:  # 9.999 rounds up to the next power
        exponent, mantissa = exponent + 1, mantissa / 10
    if -2 <= exponent <= 3:
        text = f"{value:.{max(0, DIGITS - exponent)}f}"
    else:
        text = f"{mantissa:.{DIGITS}f}·10{str(exponent).translate(_SUPERSCRIPT)}"
    return text.replace("-", "−", 1) if text.startswith("-") else text


def plain(text: str | None) -> str:
    """Plotly's text markup as plain text: h<sub>t</sub> → h_t, 10<sup>3</sup> → 10^3."""
    text = text or ""
    text = re.sub(r"<sub>(.*?)</sub>", r"_\1", text)
    text = re.sub(r"<sup>(.*?)</sup>", r"^\1", text)
    text = re.sub(r"<br\s*/?>", " ", text)
    return html.unescape(re.sub(r"<[^>]+>", "", text)).strip()


def values(spec) -> np.ndarray | None:
    """A trace's array as numbers: a list, a NumPy array or Plotly's typed
    array ({"dtype", "bdata", "shape"}); None when absent."""
    if spec is None:
        return None
    if isinstance(spec, dict) and "bdata" in spec:
        out = np.frombuffer(base64.b64decode(spec["bdata"]), np.dtype(spec["dtype"]))
        if spec.get("shape"):
            out = out.reshape([int(n) for n in str(spec["shape"]).split(",")])
        return out.astype(np.float64)
    try:
        return np.asarray(spec, dtype=np.float64)
    except (TypeError, ValueError):
        return None


def describe(key: str, figure) -> str:
    """The sentence for the chart ``key`` drawn from ``figure`` (a Plotly
    figure or its ``to_dict()``): its title, then one clause per trace shown."""
    spec = figure if isinstance(figure, dict) else figure.to_dict()
    layout = spec.get("layout") or {}
    title = plain(_text(layout.get("title")))
    parts = []
    for index, trace in enumerate(spec.get("data") or []):
        if trace.get("showlegend") is False and trace.get("type") != "heatmap":
            continue
        if trace.get("hoverinfo") == "skip":  # a guide (|λ| = 1) or the sweep's curtain
            continue
        part = _trace_clause(key, trace, layout, index)
        if part:
            parts.append(part)
    # where lines leave the axis (``app.axis_exits``), as the chart writes it
    meta = layout.get("meta")
    parts += list(meta.get(OFF_AXIS) or []) if isinstance(meta, dict) else []
    head = f"Chart: {title}." if title else "Chart."
    return " ".join([head, *(p + "." for p in parts)]) if parts else head + " Nothing to draw."


def _text(title) -> str:
    return title.get("text", "") if isinstance(title, dict) else str(title or "")


def _axis_title(layout: dict, axis: str, fallback: str) -> str:
    name = plain(_text((layout.get(axis) or {}).get("title"))) or fallback
    return re.sub(r"\s*\(log scale\)", "", name)


def _trace_clause(key: str, trace: dict, layout: dict, index: int) -> str | None:
    kind = trace.get("type", "scatter")
    name = plain(trace.get("name")) or f"trace {index + 1}"
    if kind == "heatmap":
        return _heatmap_clause(key, trace, layout, index)
    x, y = values(trace.get("x")), values(trace.get("y"))
    if y is None:
        return None
    if x is None or x.shape != y.shape:
        x = np.arange(y.size, dtype=np.float64)
    if kind == "bar":
        labels = trace.get("x") or []
        bars = [f"{label} {number(v)}" for label, v in zip(labels, y, strict=False)]
        return f"{name}: " + ", ".join(bars)
    mode = trace.get("mode", "lines")
    if "lines" not in mode:
        if key == "eigenvalues":
            modulus = np.hypot(x, y)
            modulus = modulus[np.isfinite(modulus)]
            if not modulus.size:
                return None
            return f"{name}: {modulus.size} eigenvalues, the largest |λ| = {number(modulus.max())}"
        return f"{name}: {np.isfinite(y).sum()} points"
    quantity = _axis_title(layout, "yaxis", "value")
    if key in BACKWARD_KEYS:
        return _backward_clause(name, quantity, x, y)
    return _line_clause(name, x, y)


def _finite(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    keep = np.isfinite(x) & np.isfinite(y)
    return x[keep], y[keep]


def backward_points(x: np.ndarray, y: np.ndarray) -> tuple[int, float, int, float] | None:
    """(last step, its value, earlier step, its value): the last drawn point
    and the first drawn point at most STEPS_BACK steps before it, for a
    gradient read back from the end; None when fewer than two are drawn."""
    keep = np.isfinite(x) & np.isfinite(y) & (y > 0)
    x, y = x[keep], y[keep]
    if x.size < 2:
        return None
    last = int(np.argmax(x))
    within = np.flatnonzero(x >= x[last] - STEPS_BACK)
    early = int(within[np.argmin(x[within])])
    if early == last:
        return None
    return int(x[last]), float(y[last]), int(x[early]), float(y[early])


def _backward_clause(name: str, quantity: str, x: np.ndarray, y: np.ndarray) -> str:
    points = backward_points(x, y)
    if points is None:
        return f"{name}: fewer than two steps drawn"
    t1, v1, t0, v0 = points
    trend = "falls" if v0 < v1 else "grows" if v0 > v1 else "stays"
    what = "" if "‖" in name else f" {quantity}"  # a line named by its own quantity
    return (
        f"{name}:{what} {trend} from {number(v1)} at step {t1} to {number(v0)} at step "
        f"{t0} (a factor {number(v0 / v1)} over {t1 - t0} steps)"
    )


def _line_clause(name: str, x: np.ndarray, y: np.ndarray) -> str:
    x, y = _finite(x, y)
    if x.size == 0:
        return f"{name}: nothing finite to draw"
    low, high = int(np.argmin(y)), int(np.argmax(y))
    return (
        f"{name}: {number(y[0])} at step {x[0]:g}, {number(y[-1])} at step {x[-1]:g}; "
        f"lowest {number(y[low])} at step {x[low]:g}, highest {number(y[high])} at step "
        f"{x[high]:g}"
    )


def _heatmap_clause(key: str, trace: dict, layout: dict, index: int) -> str | None:
    z = values(trace.get("z"))
    if z is None or z.ndim != 2:
        return None
    x = values(trace.get("x"))
    y = values(trace.get("y"))
    x = np.arange(z.shape[1]) if x is None or x.size != z.shape[1] else x
    y = np.arange(z.shape[0]) if y is None or y.size != z.shape[0] else y
    x_name = _axis_title(layout, _axis_key(trace.get("xaxis"), "x"), "") or _any_title(layout, "x")
    y_name = _axis_title(layout, _axis_key(trace.get("yaxis"), "y"), "") or _any_title(layout, "y")
    colour = trace.get("colorbar") or {}
    quantity = plain(_text(colour.get("title"))) or plain(trace.get("name")) or "value"
    panel = _panel_title(layout, index)
    name = f"{panel}: " if panel else ""
    finite = np.isfinite(z)
    if not finite.any():
        return f"{name}{z.shape[0]} × {z.shape[1]} cells, none finite"
    masked = np.where(finite, z, np.nan)
    low = np.unravel_index(np.nanargmin(masked), z.shape)
    high = np.unravel_index(np.nanargmax(masked), z.shape)
    shown = (lambda v: 10.0**v) if key in LOG_COLOUR_KEYS else (lambda v: v)
    return (
        f"{name}{z.shape[0]} rows ({y_name}) × {z.shape[1]} columns ({x_name}); {quantity} from "
        f"{number(shown(z[low]))} ({x_name} {x[low[1]]:g}, {y_name} {y[low[0]]:g}) to "
        f"{number(shown(z[high]))} ({x_name} {x[high[1]]:g}, {y_name} {y[high[0]]:g})"
    )


def _axis_key(ref: str | None, letter: str) -> str:
    """A trace's axis reference ("x", "x2") as its layout key ("xaxis", "xaxis2")."""
    ref = ref or letter
    return letter + "axis" + ref[1:]


def _any_title(layout: dict, letter: str) -> str:
    """The first title of any ``letter`` axis (stacked panels title only the last)."""
    for key in sorted(k for k in layout if re.fullmatch(letter + r"axis\d*", k)):
        title = _axis_title(layout, key, "")
        if title:
            return title
    return letter


def _panel_title(layout: dict, index: int) -> str:
    """A stacked heatmap's panel title (make_subplots' annotations, in order)."""
    notes = [a for a in layout.get("annotations") or [] if str(a.get("yref", "")) == "paper"]
    titles = [a for a in notes if a.get("xref") == "paper" and a.get("yanchor") == "bottom"]
    return plain(titles[index].get("text")) if index < len(titles) else ""


def hidden_paragraph(key: str, text: str) -> str:
    """The HTML of the visually hidden text alternative next to chart ``key``."""
    return f'<p class="gfl-alt" data-alt-for="{html.escape(key)}">{html.escape(text)}</p>'
