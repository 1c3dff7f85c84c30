"""What the explorer says is what it shows (issue 13): every preset's
sentence states its chart's numbers, one number for ρ, a preset's pill
that clears, and the course notes named where the app leans on them.
Through AppTest, with test_app's helpers."""

from __future__ import annotations

import numpy as np
import pytest

from app.explorer.presets import PRESETS
from app.links import CELL_NAMES
from tests.test_app import click_preset, decode, figures, fresh, open_view

# ---- every preset's sentence against its chart ------------------------------------------


def _chart_ratio(fig: dict, measure) -> float:
    """The measure read off the drawn line: y at t = T−1−n over y at T−1 (masked = 0)."""
    line = CELL_NAMES[measure.kind]
    if measure.what == "c":
        line += ": ‖∂L/∂c<sub>t</sub>‖ (cell state)"
    trace = next(t for t in fig["data"] if t.get("name") == line)
    x, y = decode(trace["x"]).astype(int), np.nan_to_num(decode(trace["y"]).astype(float))
    last = int(x.max())
    return float(y[x == last - measure.steps_back][0] / y[x == last][0])


@pytest.mark.parametrize("preset", list(PRESETS))
def test_every_preset_sentence_states_its_charts_numbers(preset):
    """Each number the sentence above the charts states is the drawn line's ratio."""
    from app.explorer.preset_text import sentence
    from app.explorer.views.common import Runs

    at = click_preset(fresh(), preset)
    said = next(i.value for i in at.info if preset in i.value)
    expected = sentence(preset, Runs(PRESETS[preset].settings))
    assert expected.text in said
    fig = figures(at)["gradient_flow"]
    for measure in expected.measures:
        assert measure.text in said
        assert _chart_ratio(fig, measure) == pytest.approx(measure.value, rel=1e-9, abs=1e-300)
    if "fifty steps back" in said:
        assert any(m.steps_back == 50 for m in expected.measures)


def test_tanh_note_says_what_tanh_does_to_an_explosion():
    at = click_preset(fresh(), "Exploding (w = 1.1)")
    text = " ".join(m.value for m in at.markdown)
    assert "shrinks faster still" not in text
    assert "against 117 × for the linear unit" in text


def test_preset_pill_clears_as_soon_as_a_control_leaves_the_preset():
    at = click_preset(fresh(), "Vanishing (w = 0.9)")
    assert at.pills(key="preset").value == "Vanishing (w = 0.9)"
    at = at.slider(key="seq_len").set_value(61).run()
    assert at.pills(key="preset").value is None
    assert not any(i.value.startswith("**Vanishing") for i in at.info)


def test_rho_slider_shows_the_drawn_radius_the_caption_gives():
    """One number for ρ: the slider shows W_hh's drawn ρ, as the caption under it."""
    at = fresh()
    slider = at.slider(key="spectral_radius")
    caption = next(c.value for c in at.sidebar.caption if "W_hh as drawn: ρ = " in c.value)
    shown = caption.split("ρ = ")[1][:5]
    assert f"{slider.value:.3f}" == shown
    # a key press from there (one step, 0.05) lands on the in-chart slider's grid
    at = slider.set_value(float(shown) + 0.05).run()
    landed = at.slider(key="spectral_radius").value
    assert landed == round(round((float(shown) + 0.05) / 0.05) * 0.05, 2)
    assert at.query_params["rho"] == f"{landed:g}"


def test_in_chart_slider_starts_on_the_drawn_rho_the_sidebar_shows():
    """W_hh as drawn (ρ = 0.630, off the 0.05 grid): the in-chart slider has a
    step there and starts on it, its frame the lines as drawn, one number."""
    at = fresh()
    fig = figures(at)["gradient_flow"]
    slider = fig["layout"]["sliders"][0]
    shown = slider["steps"][slider["active"]]["label"]
    assert shown == f"{at.slider(key='spectral_radius').value:.3f}"
    frame = next(f for f in fig["frames"] if f["name"] == "setting")
    for drawn, framed in zip(fig["data"], frame["data"], strict=False):
        np.testing.assert_allclose(decode(framed["y"]), decode(drawn["y"]), rtol=1e-6)
    labels = [float(s["label"]) for s in slider["steps"]]
    assert labels == sorted(labels)


def test_no_text_leans_on_the_notes_without_naming_them():
    """'the notes' figure' means nothing to a student without the notes: every
    mention names the course notes and the claim."""
    at = click_preset(fresh(), "Vanishing (w = 0.9)")
    said = [e.value for e in [*at.info, *at.markdown, *at.sidebar.caption]]
    said.append(at.slider(key="hidden_size").help)
    at = open_view(click_preset(at, "Elman against LSTM"), "Why it vanishes")
    said += [e.value for e in at.markdown]
    assert not [text for text in said if "the notes'" in text or "notes' figure" in text]
    assert any("course notes 002" in text for text in said)
