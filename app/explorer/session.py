"""The app's one state object in Session State: the ``Settings`` the page is
drawn from, each sidebar widget's value for it, and the way back.

- ``start_session``: a new session starts from its link; later runs from the
  last Settings, with the value of any widget Streamlit forgot restored.
- ``expected``: the Settings the widgets hold, read before any is drawn, so
  the page can draw its charts first (``app.sidebar`` draws the widgets last).
- ``collect``: Settings from the widgets' values, refusing what is not allowed.
- ``sync_link`` / ``share_url``: the Settings in the page's URL.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode, urlsplit

import streamlit as st

from app import inert, upload
from app.explorer.state import FIELD_BY_KEY, FIELD_BY_NAME, Settings
from app.links import check_value, short_repr

SETTINGS_KEY = "_settings"
NOTICE_KEY = "_notices"
NOT_HELD = "the uploaded weights are not on this server; upload the file again"
# Values the off-able sliders show while their toggle is off.
FALLBACK = {"spectral_radius": 1.0, "truncation": 10, "clip": 1.0, "last_steps": 100}
# The comparison's numbers (app.explorer.lecture) are off-able the same way.
FALLBACK.update(compare_seed=1, compare_radius=1.0)
# Fields with a toggle (key name + "_on") beside their number.
TOGGLED = ("truncation", "clip", "last_steps", "compare_seed", "compare_radius")


def widget_values(settings: Settings) -> dict[str, Any]:
    """Every sidebar widget's key → the value it shows for ``settings``."""
    values: dict[str, Any] = {
        f.name: getattr(settings, f.name)
        for f in FIELD_BY_NAME.values()
        if f.kind not in ("matrix", "digest")
    }
    values["cells"] = list(settings.cells)
    for name in TOGGLED:
        value = getattr(settings, name)
        values[name + "_on"] = value is not None
        values[name] = FALLBACK[name] if value is None else value
    radius = settings.spectral_radius  # ρ = 0 is a value, not "off"
    values["spectral_radius"] = FALLBACK["spectral_radius"] if radius is None else radius
    return values


def load_widgets(settings: Settings, *, only_missing: bool) -> None:
    state = st.session_state
    for key, value in widget_values(settings).items():
        if not only_missing or key not in state:
            state[key] = value


def start_session() -> Settings:
    """The Settings this run starts from: the link's on a new session, else the last."""
    state = st.session_state
    if SETTINGS_KEY not in state:
        settings, ignored = Settings.from_query(st.query_params.to_dict())
        settings = fit_upload(settings)
        state[SETTINGS_KEY] = settings
        if ignored:
            notice(link_notice(ignored, st.query_params.to_dict()))
        load_widgets(settings, only_missing=False)
    else:
        settings = state[SETTINGS_KEY]
        if settings.weights is not None and upload.recall(settings.weights) is None:
            # the process let them go (it keeps the last few uploads)
            settings = settings.replace(weights=None)
            state[SETTINGS_KEY] = settings
            notice(f"Back to weights drawn from the seed: {NOT_HELD}.")
        load_widgets(settings, only_missing=True)
    return state[SETTINGS_KEY]


def fit_upload(settings: Settings) -> Settings:
    """``settings`` with H set by the uploaded weights, when there are some."""
    weights = upload.recall(settings.weights)
    if weights is None or settings.hidden_size == weights.hidden_size:
        return settings
    return settings.replace(hidden_size=weights.hidden_size)


NOTICE_ITEMS = 6  # a link's unusable values named one by one; the rest counted


def link_notice(ignored: list[str], params: dict) -> str:
    """One line naming the link's unusable keys and values, each quoted as
    inert text (``app.inert``): a link is written by anyone."""
    parts = []
    for key in ignored[:NOTICE_ITEMS]:
        field = FIELD_BY_KEY.get(key)
        raw = params.get(key, "")
        if isinstance(raw, list | tuple):
            raw = raw[-1] if raw else ""
        if field is None:
            parts.append(f"{inert.code(key)} (not a setting)")
        elif field.kind == "digest":
            parts.append(
                f"{inert.code(f'{key}={raw}')} ({NOT_HELD}; weights drawn from the seed instead)"
            )
        else:
            parts.append(
                f"{inert.code(f'{key}={raw}')} ({field.label}, kept at {_shown(field.default)})"
            )
    more = len(ignored) - NOTICE_ITEMS
    if more > 0:
        parts.append(f"and {more} more")
    return (
        "Some of the link's values could not be used and were left at their "
        "defaults: " + "; ".join(parts) + "."
    )


def _shown(value: Any) -> str:
    if value is None:
        return "off"
    if isinstance(value, tuple):
        return ", ".join(value)
    return str(value)


def notice(text: str) -> None:
    st.session_state.setdefault(NOTICE_KEY, []).append(text)


def pop_notices() -> list[str]:
    return st.session_state.pop(NOTICE_KEY, [])


def sync_link(settings: Settings) -> None:
    """Write ``settings`` to the URL when it differs (only non-default fields)."""
    query = settings.to_query()
    if st.query_params.to_dict() != query:
        st.query_params.from_dict(query)


def share_url(settings: Settings) -> str:
    """The page's full address with ``settings``' link (the page address is
    unknown outside a browser: then the query alone, from "?")."""
    base = st.context.url or ""
    if base and not urlsplit(base).path:  # http://host:port → http://host:port/
        base += "/"
    query = urlencode(settings.to_query(), safe=",;")
    return f"{base}?{query}" if query else (base or "?")


SINGLE_UNIT_FIELDS = (
    "input_weight",
    "recurrent_weight",
    "bias",
    "gates_by_hand",
    "gate_input_weight",
    "gate_recurrent_weight",
    "gate_bias",
)


def drawn(name: str, cells: tuple[str, ...], hidden_size: int | None = None) -> bool:
    """Whether the widget of field ``name`` is drawn for these cells and H (H
    is needed only for the fields that depend on it); a field whose widget is
    not drawn keeps its last value."""
    if name == "focus":
        return len(cells) > 1
    if name == "reset_after":
        return "gru" in cells
    if name == "forget_bias":
        return "lstm" in cells
    if name in SINGLE_UNIT_FIELDS:
        return hidden_size == 1
    if name in ("init", "spectral_radius"):
        return hidden_size > 1
    return True


def expected() -> Settings:
    """The Settings the sidebar's widgets hold at the start of this run, read
    from Session State before any widget is drawn.

    The page draws its charts first and the sidebar last, because the browser
    draws what reaches it first, first: a chart sent after some 35 widgets
    reaches the screen about 70 ms later. ``render`` returns what the widgets
    really gave; ``streamlit_app`` draws the page again in the rare case that
    differs (a cell of W_hh edited by hand)."""
    previous = start_session()
    state = st.session_state
    cells = tuple(state.get("cells") or previous.cells)
    hidden_size = state.get("hidden_size", previous.hidden_size)
    chosen: dict[str, Any] = {"cells": cells}
    for name in widget_values(previous):
        field = FIELD_BY_NAME.get(name)
        if field is None or name == "cells" or name not in state:
            continue
        if drawn(name, cells, hidden_size):
            chosen[name] = state[name]
    if not drawn("focus", cells, hidden_size) or chosen.get("focus") not in cells:
        chosen["focus"] = cells[0]
    for name in TOGGLED:
        if not state.get(name + "_on", False):
            chosen[name] = None
    if previous.spectral_radius is None:
        chosen.pop("spectral_radius", None)
    chosen["theme"] = chosen.get("theme") or previous.theme
    return collect(previous, chosen, quiet=True)


def collect(previous: Settings, chosen: dict[str, Any], *, quiet: bool = False) -> Settings:
    """Settings from the widgets' values; a value that is not allowed keeps the
    previous one and says so (unless ``quiet``)."""
    values = {}
    for name, value in chosen.items():
        try:
            values[name] = check_value(FIELD_BY_NAME[name], value)
        except ValueError:
            if quiet:
                continue
            st.sidebar.warning(
                f"{FIELD_BY_NAME[name].label}: {inert.code(short_repr(value))} is not allowed; "
                f"kept {_shown(getattr(previous, name))}."
            )
    try:
        return previous.replace(**values)
    except ValueError as error:  # pragma: no cover - each value was checked above
        if not quiet:
            st.sidebar.warning(inert.plain(error))
        return previous
