"""A chart drawn again in its place within one script run.

The gradient-flow chart is sent first without its in-chart slider, whose
runs are made once the rest of the page is sent; the chart with the slider
then replaces it. Streamlit refuses an element key used earlier in the same
run (``StreamlitDuplicateElementKey``), even when the first element is gone,
replaced in its placeholder. Without this module the whole page was drawn a
second time to show the slider: a third of a settings change's server CPU
under forty students (bench/classroom.py). Here the replaced content's keys
are taken off the run's register first, so the page never holds a key twice.

This reads one private field of Streamlit 1.67's run context (the register,
a ``ThreadSafeSet``); requirements.txt pins that version, and
tests/test_app.py fails if the chart stops being drawn in place.
"""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st
from streamlit.runtime.scriptrunner_utils.script_run_context import get_script_run_ctx


class Slot:
    """A placeholder whose content can be drawn again in the same run.

    ``keys``: the element keys the content uses (a chart's, its controls')."""

    def __init__(self, keys: tuple[str, ...]) -> None:
        self._placeholder = st.empty()
        self._keys = keys
        self._drawn = False

    def draw(self, content: Callable[[], None]) -> None:
        """Draw ``content`` here, replacing what was drawn before."""
        if self._drawn:
            _release(self._keys)
        self._drawn = True
        with self._placeholder.container():
            content()


def _release(keys: tuple[str, ...]) -> None:
    ctx = get_script_run_ctx()
    if ctx is None:  # outside a script run nothing is registered
        return
    register = ctx.shared.widget_user_keys_this_run
    with register._lock:
        register._data.difference_update(keys)
