"""What follows the gradient-flow chart's in-chart slider: the
fifty-steps-back sentence of every frame (rewritten in the browser as the
slider moves, ``app.chart_keys``) and the button that makes the frame's
value the setting."""

from __future__ import annotations

import numpy as np
import streamlit as st

from app import chart_keys
from app.explorer import session
from app.explorer.state import Settings
from app.explorer.views.common import name
from app.text import sci

STEPS_BACK = 50  # fifty steps back: the worked example of course notes 002


FIFTY_ELEMENT = "gfl-fifty-gradient_flow"  # the sentence the in-chart slider updates


def knob_label(value: float, values: np.ndarray) -> str:
    """The knob's value as the in-chart slider labels it (two decimals), or
    with three when it is off that slider's grid (ρ of W_hh as drawn)."""
    on_grid = np.any(np.isclose(values, value, rtol=0, atol=1e-12))
    return f"{value:.2f}" if on_grid else f"{value:.3f}"


def fifty_text(knob: str, label: str, ratios: list[tuple[str, float]]) -> str:
    """The fifty-steps-back sentence (HTML) at knob = label."""
    parts = [
        f"<strong>{name(k)}</strong> {sci(r, 5)}" + (" (no gradient gets there)" if r == 0 else "")
        for k, r in ratios
    ]
    return (
        f"Fifty steps back, at {knob} = {label}: ‖∂L/∂h<sub>T−51</sub>‖ / "
        "‖∂L/∂h<sub>T−1</sub>‖ = " + "; ".join(parts) + "."
    )


def ratios_back(rows: dict[str, np.ndarray]) -> list[tuple[str, float]]:
    """(kind, ‖∂L/∂h_{T−51}‖ / ‖∂L/∂h_{T−1}‖) of each (T,) row that reaches that far."""
    out = []
    for kind, norms in rows.items():
        if norms.shape[0] > STEPS_BACK and norms[-1] > 0:
            out.append((kind, float(norms[-1 - STEPS_BACK] / norms[-1])))
    return out


def follow_scrub(settings: Settings, sweeps: dict, values: np.ndarray, setting: str):
    """What follows the in-chart slider: the fifty-steps-back sentence of each
    frame, and a button that makes the frame's value the setting. ``setting``:
    the knob's label; off the grid, the slider has a step of its own there
    (``flow_chart.with_setting_step``), whose text is the page's own."""
    knob = "w" if settings.single_unit else "ρ"
    labels = [f"{v:.2f}" for v in values]
    choices = [float(v) for v in values]
    texts = []
    for v, label in enumerate(labels):
        ratios = ratios_back({kind: sweep[0][v] for kind, sweep in sweeps.items()})
        texts.append(fifty_text(knob, label, ratios) if ratios else "")
    if setting not in labels:
        at = sum(1 for label in labels if float(label) < float(setting))
        labels.insert(at, setting)
        choices.insert(at, float(setting))
        texts.insert(at, "")

    def use(index: int) -> None:
        use_knob(settings.single_unit, choices[index])

    return chart_keys.Follow(
        labels=labels,
        setting=setting,
        element=FIFTY_ELEMENT,
        texts=texts,
        use=f"Use {knob} = {{}} (make it the setting and the link)",
        on_use=use,
    )


def use_knob(single_unit: bool, value: float) -> None:
    """Make ``value`` the setting of the in-chart slider's knob (a callback:
    it runs before the script, so it sets the sidebar's widget too)."""
    state = st.session_state
    knob = "recurrent_weight" if single_unit else "spectral_radius"
    settings = state[session.SETTINGS_KEY]
    changes = {knob: value} if single_unit else {knob: value, "recurrent_matrix": None}
    state[session.SETTINGS_KEY] = settings.replace(**changes)
    state[knob] = value
