"""Charts' titles wrapped for the narrowest chart the page draws (app.titles),
and a legend above the plot kept under the title."""

from __future__ import annotations

import copy
import re

from app.charts import LEGEND_ON_TOP, TITLE_FONT, themed_layout
from app.explorer.state import Settings
from app.style import PROJECTOR_TITLE, style_spec
from app.titles import (
    CHART_MIN_WIDTH,
    LINE_SPACING,
    TITLE_CHARACTER,
    TOOLBAR_WIDTH,
    visible_length,
    wrap_title,
)

LONG = "All the way back: the product of the step norms against ‖∂L/∂h<sub>t</sub>‖"


def lines(text: str) -> list[str]:
    return text.split("<br>")


def test_every_line_fits_the_width_and_the_first_leaves_room_for_the_toolbar():
    for size, width in ((TITLE_FONT, CHART_MIN_WIDTH[False]), (28, CHART_MIN_WIDTH[True])):
        wrapped = lines(wrap_title(LONG, size, width))
        assert len(wrapped) >= 2
        widths = [visible_length(line) * size * TITLE_CHARACTER for line in wrapped]
        assert widths[0] <= width - TOOLBAR_WIDTH
        assert max(widths) <= width
        # the same words in the same order, tags whole
        assert " ".join(wrapped) == LONG
        assert all(line.count("<sub>") == line.count("</sub>") for line in wrapped)


def test_a_short_title_stays_on_one_line_and_old_breaks_are_redone():
    assert wrap_title("Global gradient norm against θ", 28, 600) == "Global gradient norm against θ"
    assert wrap_title("Global<br>gradient", 20, 520) == "Global gradient"


def test_the_top_margin_and_height_grow_by_the_lines_the_title_gains():
    one = themed_layout({}, title="Short", height=400, margin={"t": 70})
    two = themed_layout({}, title=LONG, height=400, margin={"t": 70})
    gained = round(two["title"]["text"].count("<br>") * TITLE_FONT * LINE_SPACING)
    assert gained > 0
    assert two["margin"]["t"] - one["margin"]["t"] == gained
    assert two["height"] - one["height"] == gained


def test_a_legend_above_the_plot_hangs_under_the_title_in_projector_mode_too():
    layout = themed_layout({}, title=LONG, height=500, legend=LEGEND_ON_TOP, margin={"t": 120})
    spec = {"data": [{"type": "scatter", "y": [1, 2]}], "layout": layout}
    for settings_layout in (layout, _projector(spec)):
        title, legend = settings_layout["title"], settings_layout["legend"]
        size = title["font"]["size"]
        n = title["text"].count("<br>") + 1
        height = settings_layout["height"]
        assert legend["yref"] == "container" and legend["yanchor"] == "top"
        # the legend's top is below the title's last line
        assert (1 - legend["y"]) * height >= n * size * LINE_SPACING
    assert _projector(spec)["title"]["font"]["size"] == PROJECTOR_TITLE


def _projector(spec: dict) -> dict:
    """``spec``'s layout as projector mode draws it."""
    styled = copy.deepcopy(spec)
    style_spec(styled, dark=False, projector=True)
    return styled["layout"]


def test_no_title_of_the_default_charts_is_wider_than_the_narrowest_chart():
    from app.figures import all_figures

    for projector in (False, True):
        settings = Settings(projector=projector)
        width = CHART_MIN_WIDTH[projector]
        for key, fig in all_figures(settings).items():
            layout = fig.to_dict()["layout"]
            if projector:
                layout = _projector(fig.to_dict())
            title = (layout.get("title") or {}).get("text") or ""
            size = layout["title"]["font"]["size"] if title else 0
            for line in re.split(r"<br>", title):
                assert visible_length(line) * size * TITLE_CHARACTER <= width, (key, line)
