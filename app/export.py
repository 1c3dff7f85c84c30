"""Figures → PNG and SVG for slides, rendered by kaleido in Debian's Chromium.

``figure_image`` is the one function every exported figure passes through:
the download buttons (``app.views.common.chart``) and the command line
(``python -m app.figures``) both call it. It adds a small caption with the
settings that made the figure (cells, T, H, radius, seed and the link's
query), so that a figure pasted in a slide can be made again.

One kaleido export server per process, started on the first export (about
3 s: it launches Chromium), then about 0.2-0.5 s per image. The server is not
thread-safe (Streamlit runs each session in its own thread), hence one lock.
MathJax is off: it would be fetched from a CDN, and the figures use HTML tags
(<sub>, <sup>) rather than LaTeX.
"""

from __future__ import annotations

import hashlib
import re
import textwrap
import threading
from typing import Any
from urllib.parse import urlencode

import kaleido
import plotly.graph_objects as go

from app import compute
from app.explorer.state import Settings
from app.links import CELL_NAMES
from app.style import styled

FORMATS = ("png", "svg")
MIME = {"png": "image/png", "svg": "image/svg+xml"}
FORMAT_HELP = {
    "png": "Download this chart as a PNG image (twice the screen size, for slides)",
    "svg": "Download this chart as an SVG image (vector, for slides and print)",
}
PNG_SCALE = 2
EXPORT_WIDTH = 960  # px (a PNG is twice that); charts without their own width
CAPTION_FONT = 12  # px
CAPTION_LINE = 16  # px per caption line
CAPTION_COLOUR = {"light": "#555555", "dark": "#AAAAAA"}  # by theme
LEGEND_ROW = 28  # px per row of a 16 px legend
CAPTION_GAP = 10  # px between what is above the caption and the caption
APP_NAME = "Gradient Flow Lab"
# plotly.js's defaults, for a figure that does not set them
DEFAULT_MARGIN = {"l": 80, "r": 80, "t": 100, "b": 80}
DEFAULT_HEIGHT = 450

_SERVER_LOCK = threading.Lock()
_server_started = False


def figure_image(fig: go.Figure, settings: Settings, fmt: str) -> bytes:
    """``fig`` as PNG (scale 2) or SVG bytes, static, with the settings' caption.

    The first call of a process starts the export server (about 3 s)."""
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}, got {fmt!r}")
    spec = export_spec(styled(fig, settings), settings)
    layout = spec["layout"]
    options = {
        "format": fmt,
        "width": layout["width"],
        "height": layout["height"],
        "scale": PNG_SCALE if fmt == "png" else 1,
    }
    with _SERVER_LOCK:
        _start_server()
        image = kaleido.calc_fig_sync(spec, opts=options)
    return stable_ids(image) if fmt == "svg" else image


def stable_ids(svg: bytes) -> bytes:
    """The SVG with plotly.js's random figure id (in its clip paths' and defs'
    ids) replaced by a hash of the drawing: the same figure gives the same
    file (kind to version control), different figures still differ."""
    found = re.search(rb'id="defs-([0-9a-f]{4,})"', svg)
    if found is None:
        return svg
    uid = re.compile(rb"(?<=[a-z-])" + found.group(1) + rb"(?![0-9a-f])")
    stable = hashlib.sha1(uid.sub(b"", svg)).hexdigest()[: len(found.group(1))]
    return uid.sub(stable.encode(), svg)


def _start_server() -> None:
    global _server_started
    if not _server_started:
        kaleido.start_sync_server(mathjax=False, silence_warnings=True)
        _server_started = True


def stop_server() -> None:
    """Close the export server (and its Chromium), e.g. at the end of a script."""
    global _server_started
    with _SERVER_LOCK:
        if _server_started:
            kaleido.stop_sync_server(silence_warnings=True)
            _server_started = False


# ---- the exported figure -----------------------------------------------------------


def export_spec(fig: go.Figure, settings: Settings) -> dict[str, Any]:
    """The figure as exported: a plain dict without in-chart sliders or frames,
    a fixed width, and the caption under the plot (the bottom margin and the
    height grow by the caption's height, so the plot keeps its size)."""
    spec = fig.to_dict()  # a copy (AssembledFigure: its layout is a copy)
    spec.pop("frames", None)
    layout = {k: v for k, v in spec.get("layout", {}).items() if k not in ("sliders",)}
    width = int(layout.get("width") or EXPORT_WIDTH)
    height = int(layout.get("height") or DEFAULT_HEIGHT)
    margin = {**DEFAULT_MARGIN, **(layout.get("margin") or {})}
    plot_width = max(1, width - margin["l"] - margin["r"])
    plot_height = max(1, height - margin["t"] - margin["b"])

    # a legend drawn under the plot (y < 0) reaches into the bottom margin
    bottom = margin["b"]
    legend = layout.get("legend") or {}
    shown = _legend_shown(layout, spec.get("data") or [])
    if shown and isinstance(legend.get("y"), int | float) and legend["y"] < 0:
        below = -legend["y"] * plot_height
        if legend.get("yanchor") != "bottom":  # "auto" puts a legend below the plot on its top
            below += LEGEND_ROW * _legend_rows(spec.get("data") or [], width)
        bottom = max(bottom, int(below) + 4)

    lines = caption_lines(settings, characters=int((width - 20) / (0.58 * CAPTION_FONT)))
    caption_height = CAPTION_LINE * len(lines) + CAPTION_GAP
    new_bottom = bottom + caption_height
    title = layout.get("title")
    if isinstance(title, dict) and title.get("x") == 0 and "pad" not in title:
        # the page pads a chart; an image flush with its left edge needs its own
        layout["title"] = {**title, "pad": {"l": 10}}
    layout["width"] = width
    layout["height"] = height + new_bottom - margin["b"]
    layout["margin"] = {**margin, "b": new_bottom}
    layout["annotations"] = [
        *(layout.get("annotations") or []),
        {
            "text": "<br>".join(lines),
            "xref": "paper",
            "yref": "paper",
            "x": (10 - margin["l"]) / plot_width,  # 10 px from the image's left edge
            "xanchor": "left",
            "y": (6 - new_bottom) / plot_height,  # 6 px above the image's bottom edge
            "yanchor": "bottom",
            "align": "left",
            "showarrow": False,
            "font": {"size": CAPTION_FONT, "color": CAPTION_COLOUR[settings.theme]},
        },
    ]
    spec["layout"] = layout
    # plotly.js names each trace's SVG group after a random uid unless one is set
    spec["data"] = [{"uid": str(i), **trace} for i, trace in enumerate(spec.get("data") or [])]
    return spec


def _legend_shown(layout: dict, traces: list) -> bool:
    """Whether plotly.js draws the legend: as set, else with two or more entries."""
    if layout.get("showlegend") is not None:
        return bool(layout["showlegend"])
    entries = [
        t for t in traces if t.get("type", "scatter") != "heatmap" and t.get("showlegend", True)
    ]
    return len(entries) >= 2


def _legend_rows(traces: list, width: int) -> int:
    """About how many rows a horizontal legend of ``traces`` takes at 16 px."""
    names = [str(t.get("name") or "") for t in traces if t.get("showlegend", True)]
    characters = sum(len(re.sub(r"<[^>]+>", "", n)) + 6 for n in names)
    return 1 + int(characters * 9.5 // max(1, width - 100))


def caption_lines(settings: Settings, characters: int = 140) -> list[str]:
    """The caption: what made the figure, and the link's query that makes it again.

    ``settings``: the explorer's ``Settings``, or another page's settings that
    say their own facts (``caption_facts()``) and the path of their page
    (``PAGE_PATH``), as the training lab's do."""
    content = settings.content
    if hasattr(content, "caption_facts"):
        facts = [APP_NAME, *content.caption_facts()]
    else:
        cells = ", ".join(CELL_NAMES[k] for k in content.cells)
        facts = [APP_NAME, cells, f"T = {content.seq_len}", f"H = {content.hidden_size}"]
        facts.append(radius_text(content))
        facts.append(f"seed {content.seed}")
    query = link_query(content)
    path = getattr(content, "PAGE_PATH", "")
    link = f"link: {path}?{query}" if query else f"link: {path}? (every setting at its default)"
    lines = textwrap.wrap(" · ".join(facts), characters, break_on_hyphens=False)
    lines += textwrap.wrap(link, characters, break_on_hyphens=False) or [link]
    return lines


def radius_text(settings: Settings) -> str:
    """What sets the recurrent weights' size: w for one unit, else ρ(W_hh)."""
    if settings.single_unit:
        return f"w = {settings.recurrent_weight:g}"
    if settings.matrix_for_size is not None:
        return "W_hh typed in by hand"
    if settings.spectral_radius is not None:
        return f"ρ = {settings.spectral_radius:g}"
    # the value the sidebar shows and the chart is drawn at, never "as drawn"
    kind = settings.focus_cell
    how = "uploaded" if settings.weights is not None else f"{settings.init} init"
    radius = compute.drawn_radius(compute.cell_spec(settings, kind))
    return f"ρ = {radius:.3f} ({CELL_NAMES[kind]}'s W_hh, {how})"


def link_query(settings: Settings) -> str:
    """The app link's query string for ``settings`` (without the "?")."""
    return urlencode(settings.to_query(), safe=",;")


# ---- file names ----------------------------------------------------------------------


def short_settings(settings: Settings) -> str:
    """A few words for a file name: cells, T, H, w or ρ, seed, and a short hash
    of the whole link when other settings differ from their defaults, so that
    two different figures never share a name. (Another page's settings: its
    task, cells, T, H, seed and the hash.)"""
    content = settings.content
    if hasattr(content, "caption_facts"):
        words = [content.task, "-".join(content.cells), f"T{content.steps}"]
        words += [f"H{content.hidden_size}", f"seed{content.seed}"]
        return "_".join([*words, hashlib.sha1(link_query(content).encode()).hexdigest()[:6]])
    parts = ["-".join(content.cells), f"T{content.seq_len}", f"H{content.hidden_size}"]
    named = {"cell", "T", "H", "seed"}
    if content.single_unit:
        parts.append(f"w{content.recurrent_weight:g}")
        named.add("wh")
    elif content.spectral_radius is not None and content.matrix_for_size is None:
        parts.append(f"rho{content.spectral_radius:g}")
        named.add("rho")
    parts.append(f"seed{content.seed}")
    query = content.to_query()
    if set(query) - named:
        parts.append(hashlib.sha1(link_query(content).encode()).hexdigest()[:6])
    return "_".join(parts)


def file_name(key: str, settings: Settings, fmt: str) -> str:
    """``<chart key>_<short settings>.<fmt>``, e.g.
    ``gradient_flow_rnn_T60_H1_w1.1_seed0_3f2a9c.svg``."""
    return f"{key}_{short_settings(settings)}.{fmt}"
