"""Colour is never the only carrier (WCAG 1.4.1), and the palette stays apart
for the commonest colour-vision deficiencies.

How: each palette (the cells' colours, the gates' colours) is passed through
Machado, Oliveira & Fernandes (2009)'s simulation matrices at full severity
for protanopia and deuteranopia (and tritanopia), applied to linear-light
sRGB (tests/colour_vision.py, NumPy only); each simulated colour goes to CIE
L*a*b* (D65), and the smallest CIEDE2000 difference over all pairs must stay
at least MIN_DELTA_E_CVD (MIN_DELTA_E with normal vision). A ΔE₀₀ of about 2
is a just-noticeable difference; 10 is two colours nobody takes for one. The
ΔE₀₀ formula is checked against Sharma, Wu & Dalal (2005)'s published pairs.
Besides colour, every palette colour has its own marker shape on its lines.
"""

from __future__ import annotations

import numpy as np
import pytest

from app import charts
from app.explorer.views import gradient_flow, why_vanishes
from tests.colour_vision import closest_pair, delta_e_2000, rgb, simulate
from tests.test_alt_text import SMALL, DirectRuns

MIN_DELTA_E = 20.0
MIN_DELTA_E_CVD = 10.0
PALETTES = {"cells": charts.CELL_COLOURS, "gates": charts.GATE_COLOURS}


def test_delta_e_2000_matches_the_published_pairs():
    # Sharma, Wu & Dalal (2005), Table 1, pairs 1-4, 17 and 25
    first = np.array(
        [
            [50, 2.6772, -79.7751],
            [50, 3.1571, -77.2803],
            [50, 2.8361, -74.0200],
            [50, -1.3802, -84.2814],
            [50, 2.5, 0],
            [60.2574, -34.0099, 36.2677],
        ]
    )
    second = np.array(
        [
            [50, 0, -82.7485],
            [50, 0, -82.7485],
            [50, 0, -82.7485],
            [50, 0, -82.7485],
            [73, 25, -18],
            [60.4626, -34.1751, 39.4387],
        ]
    )
    expected = [2.0425, 2.8615, 3.4412, 1.0000, 27.1492, 1.2644]
    np.testing.assert_allclose(delta_e_2000(first, second), expected, atol=1e-4)


def test_the_simulation_merges_red_and_green():
    """The matrices at work: pure red and a green of the same lightness are
    far apart with normal vision and close for a deuteranope."""
    pair = ["#FF0000", "#4F7F00"]
    normal, _ = closest_pair(pair)
    seen, _ = closest_pair(pair, "deuteranopia")
    assert normal > 40 and seen < normal / 2
    np.testing.assert_allclose(simulate(["#FFFFFF"], "protanopia"), rgb(["#FFFFFF"]), atol=2e-3)


@pytest.mark.parametrize("palette", list(PALETTES))
def test_palette_stays_apart_with_and_without_colour_blindness(palette):
    colours = list(PALETTES[palette].values())
    names = list(PALETTES[palette])
    normal, (i, j) = closest_pair(colours)
    assert normal >= MIN_DELTA_E, (names[i], names[j], normal)
    for kind in ("protanopia", "deuteranopia", "tritanopia"):
        distance, (i, j) = closest_pair(colours, kind)
        assert distance >= MIN_DELTA_E_CVD, (kind, names[i], names[j], distance)


@pytest.mark.parametrize("palette", list(PALETTES))
def test_every_palette_colour_has_its_own_marker(palette):
    symbols = [charts.MARKER_OF_COLOUR.get(c.upper()) for c in PALETTES[palette].values()]
    assert None not in symbols
    assert len(set(symbols)) == len(symbols)


def _lines(spec: dict) -> list[dict]:
    return [t for t in spec["data"] if "lines" in t.get("mode", "") and t.get("name")]


def test_lines_carry_their_colour_s_marker():
    runs = DirectRuns(SMALL)
    with np.errstate(all="ignore"):
        figures = {**gradient_flow.figures(SMALL, runs), **why_vanishes.figures(SMALL, runs)}
    checked = 0
    for key in ("gradient_flow", "jacobian_norms", "product_bound"):
        for trace in _lines(figures[key].to_dict()):
            colour = trace["line"]["color"]
            if colour.upper() not in {c.upper() for c in charts.CELL_COLOURS.values()}:
                continue
            assert trace["mode"] == "lines+markers", (key, trace["name"])
            assert trace["marker"]["symbol"] == charts.MARKER_OF_COLOUR[colour.upper()]
            assert 0 < trace["marker"]["maxdisplayed"] <= 12  # a few, not one per step
            checked += 1
    assert checked >= 6


MIN_DELTA_E_GATE_TO_CELL = 15.0


def test_no_gate_takes_a_cell_s_colour():
    """A gate drawn in a cell's colour reads as that cell (the GRU's update
    gate was the LSTM's blue): every gate colour stays clear of every cell's."""
    from tests.colour_vision import lab

    for gate, colour in charts.GATE_COLOURS.items():
        for cell, cell_colour in charts.CELL_COLOURS.items():
            distance = delta_e_2000(lab(rgb([colour])), lab(rgb([cell_colour])))[0]
            assert distance >= MIN_DELTA_E_GATE_TO_CELL, (gate, cell, distance)


def test_gate_colours_stand_out_on_both_backgrounds():
    from app.style import DARK_BACKGROUND, contrast

    for gate, colour in charts.GATE_COLOURS.items():
        if gate == "candidate":  # black: the dark theme draws it in the text colour
            continue
        assert contrast(colour, "#FFFFFF") >= 3, gate
        assert contrast(colour, DARK_BACKGROUND) >= 3, gate
