"""The lab's controls: they return a ``LabSettings``; the link follows them.

Each widget is keyed ``lab_<field>`` and loaded from the settings once per
session (from the link on the first run, from a preset when one is picked),
so the widgets and the link never disagree.
"""

from __future__ import annotations

import streamlit as st

from app.inert import plain
from app.lab.presets import LAB_PRESETS, matching_lab_preset
from app.lab.state import (
    CONTRAST_NAMES,
    LAB_FIELD_BY_NAME,
    OPTIMIZER_NAMES,
    TASK_NAMES,
    TASKS,
    LabSettings,
)
from app.links import ACTIVATIONS, CELL_KINDS, CELL_NAMES, INITS

SETTINGS_KEY = "lab_settings"
PRESET_KEY = "lab_preset"
NOTICE_KEY = "lab_notices"
TOGGLED = {"spectral_radius": 1.0, "clip": 1.0, "weight_decay": 1e-3, "truncation": 10}


def key(name: str) -> str:
    return f"lab_{name}"


def settings_from_link() -> LabSettings:
    """The settings this session starts from: the link's, read once."""
    state = st.session_state
    if SETTINGS_KEY not in state:
        settings, ignored = LabSettings.from_query(st.query_params.to_dict())
        state[SETTINGS_KEY] = settings
        state[NOTICE_KEY] = [
            f"The link's {plain(k)} could not be used, so it is at its default." for k in ignored
        ]
        load_widgets(settings)
    return state[SETTINGS_KEY]


def load_widgets(settings: LabSettings) -> None:
    state = st.session_state
    for name in LAB_FIELD_BY_NAME:
        value = getattr(settings, name)
        if name in TOGGLED:
            state[key(name + "_on")] = value is not None
            state[key(name)] = TOGGLED[name] if value is None else value
        elif name == "cells":
            state[key(name)] = list(value)
        else:
            state[key(name)] = value


def _pick_preset() -> None:
    name = st.session_state.get(PRESET_KEY)
    if name in LAB_PRESETS:
        previous = st.session_state[SETTINGS_KEY]
        chosen = LAB_PRESETS[name].settings.replace(
            projector=previous.projector, theme=previous.theme
        )
        st.session_state[SETTINGS_KEY] = chosen
        load_widgets(chosen)


def render() -> LabSettings:
    """Draw the controls; return the settings they hold (and keep the link in step)."""
    current = settings_from_link()
    bar = st.sidebar
    bar.title("Training lab")
    st.session_state[PRESET_KEY] = matching_lab_preset(current)
    bar.pills(
        "Presets — one click sets every control",
        list(LAB_PRESETS),
        key=PRESET_KEY,
        on_change=_pick_preset,
    )
    chosen: dict = {}
    bar.header("Task")
    chosen["task"] = bar.selectbox("Task", TASKS, format_func=TASK_NAMES.get, key=key("task"))
    chosen["steps"] = bar.slider("Sequence length T (steps)", 2, 400, key=key("steps"))
    if chosen["task"] == "copy":
        chosen["copy_length"] = bar.slider("Symbols to remember", 1, 20, key=key("copy_length"))
    bar.header("Networks")
    cells = bar.pills(
        "Cells to train side by side (same data, same seed)",
        CELL_KINDS,
        selection_mode="multi",
        format_func=CELL_NAMES.get,
        key=key("cells"),
    )
    chosen["cells"] = tuple(cells) or current.cells
    chosen["hidden_size"] = bar.slider("Hidden size H (units)", 1, 128, key=key("hidden_size"))
    chosen["activation"] = bar.selectbox("Activation", ACTIVATIONS, key=key("activation"))
    chosen["init"] = bar.selectbox("Initialisation of W_hh", INITS, key=key("init"))
    _optional(bar, chosen, "spectral_radius", "Rescale W_hh to a spectral radius ρ", 0.0, 3.0, 0.05)
    bar.header("Learning")
    chosen["optimizer"] = bar.selectbox(
        "Optimizer", list(OPTIMIZER_NAMES), format_func=OPTIMIZER_NAMES.get, key=key("optimizer")
    )
    chosen["lr"] = bar.number_input(
        "Learning rate", 1e-5, 10.0, format="%.5g", key=key("lr"), step=None
    )
    chosen["batch"] = bar.slider("Batch size", 1, 256, key=key("batch"))
    _optional(bar, chosen, "clip", "Clip the gradient's norm at θ", 0.001, 1000.0, None)
    _optional(bar, chosen, "weight_decay", "Weight decay λ", 1e-7, 1.0, None)
    _optional(bar, chosen, "truncation", "Truncated BPTT, window k", 1, 400, 1)
    chosen["contrast"] = bar.selectbox(
        "Also train each cell without",
        list(CONTRAST_NAMES),
        format_func=CONTRAST_NAMES.get,
        key=key("contrast"),
    )
    chosen["updates"] = bar.slider("Updates", 1, 5000, key=key("updates"))
    chosen["seed"] = bar.number_input("Random seed", 0, 2**31 - 1, key=key("seed"))
    chosen["seed_count"] = bar.slider("Seeds side by side", 1, 5, key=key("seed_count"))
    bar.header("Display")
    chosen["projector"] = bar.toggle("Projector mode", key=key("projector"))
    chosen["theme"] = bar.segmented_control("Theme", ["light", "dark"], key=key("theme")) or "light"
    for name in ("copy_length", "cliff_w", "cliff_b", "cliff_lr", "cliff_clip"):
        chosen.setdefault(name, st.session_state.get(key(name), getattr(current, name)))
    try:
        settings = current.replace(**chosen)
    except ValueError as error:
        st.sidebar.warning(f"{plain(str(error))}. The other settings are kept.")
        settings = current
    st.session_state[SETTINGS_KEY] = settings
    st.query_params.from_dict(settings.to_query())
    return settings


def _optional(bar, chosen: dict, name: str, label: str, low, high, step) -> None:
    on = bar.toggle(label, key=key(name + "_on"))
    value = bar.number_input(
        LAB_FIELD_BY_NAME[name].label,
        low,
        high,
        step=step,
        format="%d" if name == "truncation" else "%.6g",
        key=key(name),
        disabled=not on,
        label_visibility="collapsed",
    )
    chosen[name] = value if on else None
