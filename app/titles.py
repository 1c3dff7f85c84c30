"""Charts' titles that fit their chart: wrapped between words, server-side.

plotly.js does not wrap a title; one wider than its chart is cut at the
chart's edge ("…step norms ag" at 1400 px in projector mode). The page never
draws a chart narrower than ``CHART_MIN_WIDTH`` (``app.page_layout``), so a
title wrapped for that width fits every chart the page draws; the estimate
of a line's width (``TITLE_CHARACTER`` per character) errs wide.
"""

from __future__ import annotations

import re

# px: the narrowest the page draws a chart (app.page_layout), projector → width;
# titles are wrapped to fit it
CHART_MIN_WIDTH = {False: 520, True: 600}
TITLE_CHARACTER = 0.56  # em: a title character's mean width in Arial, a little over
LINE_SPACING = 1.3  # plotly.js's line height, in font sizes
# px: Plotly's toolbar over the top right corner of a chart on hover (three
# buttons, app.views.common.CHART_CONFIG), beside a title's first line
TOOLBAR_WIDTH = 100
LEGEND_GAP = 8  # px between a title and a legend under it
TITLE_PAD = 6  # px over a title's first line: at 0.99 of the height, 28 px text was cut


def visible_length(text: str) -> int:
    """How many characters of ``text`` are drawn (tags such as <sub> are not)."""
    return len(re.sub(r"<[^>]+>", "", text))


def wrap_title(text: str, size: float, width: float) -> str:
    """``text`` with <br> between words, so that no line is wider than
    ``width`` px at ``size`` px (by TITLE_CHARACTER), the first no wider
    than ``width`` less Plotly's toolbar beside it; any <br> it had is
    replaced. A word longer than a line stays whole."""
    character = size * TITLE_CHARACTER
    first, per_line = (max(8, int(w / character)) for w in (width - TOOLBAR_WIDTH, width))
    lines: list[str] = []
    for word in re.sub(r"<br\s*/?>", " ", text).split():
        room = first if len(lines) == 1 else per_line
        if lines and visible_length(f"{lines[-1]} {word}") <= room:
            lines[-1] = f"{lines[-1]} {word}"
        else:
            lines.append(word)
    return "<br>".join(lines)


def fit_title(layout: dict, size: float, width: float) -> None:
    """Wrap ``layout``'s title for a chart ``width`` px wide at ``size`` px,
    in place; the top margin and the height grow by the lines it gains (or
    shrink by those it loses), so that the plot keeps its size and a legend
    above the plot stays clear of the title."""
    title = layout.get("title")
    if not isinstance(title, dict) or not isinstance(title.get("text"), str):
        return
    before = title["text"].count("<br>")
    title["text"] = wrap_title(title["text"], size, width)
    gained = round((title["text"].count("<br>") - before) * size * LINE_SPACING)
    margin = layout.get("margin")
    if gained and isinstance(margin, dict) and isinstance(margin.get("t"), int | float):
        margin["t"] += gained
        if isinstance(layout.get("height"), int | float):
            layout["height"] += gained
    height = layout.get("height")
    if title.get("yref") != "container" or title.get("yanchor") != "top" or not height:
        return
    lines = title["text"].count("<br>") + 1
    # plotly.js centres a title's lines on its anchor's line: a title of
    # n lines rose (n - 1) / 2 lines over the top of the chart
    title["y"] = round(1 - (TITLE_PAD + (lines - 1) * size * LINE_SPACING / 2) / height, 4)
    legend = layout.get("legend")
    if isinstance(legend, dict) and _above_the_plot(legend):
        # just under the title, in the figure's coordinates: plotly.js then
        # starts the plot under the legend however many rows it wraps into
        # (a legend anchored to the plot grew up into the title instead)
        under_title = TITLE_PAD + lines * size * LINE_SPACING + LEGEND_GAP
        legend.update(yref="container", yanchor="top", y=round(1 - under_title / height, 4))


def _above_the_plot(legend: dict) -> bool:
    y = legend.get("y")
    if not isinstance(y, int | float):
        return False
    if legend.get("yref") == "container":
        return y > 0.5 and legend.get("yanchor") == "top"
    return y >= 1 and legend.get("yanchor") == "bottom"
