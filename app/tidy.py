"""The numbers behind the charts: each cell's trace as tidy CSV or as JSON.

CSV, long format, one value per row: ``t,cell,quantity,unit,value``.
``cell`` is the app's cell kind (rnn, jordan, gru, mgu, lstm, lstm_nofg);
``unit`` is the hidden unit's index, empty for a per-step scalar. Quantities:

- per unit: ``hidden`` (h_t), ``cell_state`` (an LSTM's c_t), ``gate_<name>``
  (each gate's activation: input, forget, candidate, output, reset, update),
  ``grad_hidden`` (∂L/∂h_t), ``grad_cell`` (∂L/∂c_t);
- per step: ``grad_hidden_norm`` and ``grad_cell_norm`` (what the gradient
  flow chart draws) and ``jacobian_norm`` (‖∂s_t/∂s_{t−1}‖).

A bidirectional network's backward direction has the same quantities with
``_reverse`` appended (``hidden_reverse``, ``jacobian_norm_reverse`` is
‖∂s_t/∂s_{t+1}‖). Values have 9 significant digits; nan is written as an
empty field, ±inf as ``inf``/``-inf``.

JSON: ``{"app", "settings": {"query", "link", "fields"}, "cells": {kind: ...}}``
with each cell's arrays at full precision, ``per_unit[q]`` as [t][unit] and
``per_step[q]`` as [t], non-finite values as null.

Sizes grow as T · H · quantities: the default settings (T = 100, H = 16,
Elman and LSTM) give about 16 000 rows (0.6 MB of CSV); the largest settings
(T = 2000, H = 256, several gated cells, bidirectional) reach millions of rows
and hundreds of MB of CSV, which is why the app's download buttons build the
file only when clicked and the command line writes it in chunks.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from typing import Any

import numpy as np

from app.compute import norms_over_time
from app.explorer.state import Settings
from app.explorer.views.common import Runs
from app.export import link_query, short_settings
from app.links import CELL_NAMES

COLUMNS = ("t", "cell", "quantity", "unit", "value")
VALUE_FORMAT = "%.9g"
DIRECTIONS = (("", ""), ("_reverse", "_reverse"))  # (trace attribute suffix, quantity suffix)
MIME = {"csv": "text/csv", "json": "application/json"}


def quantities(trace) -> Iterator[tuple[str, np.ndarray]]:
    """(quantity name, values) of one trace: (T, H) per unit, or (T,) per step."""
    for attr_suffix, suffix in DIRECTIONS:
        hidden = getattr(trace, "hidden" + attr_suffix)
        if hidden is None:
            continue
        yield "hidden" + suffix, hidden
        cell = getattr(trace, "cell" + attr_suffix)
        if cell is not None:
            yield "cell_state" + suffix, cell
        for gate, values in (getattr(trace, "gates" + attr_suffix) or {}).items():
            yield f"gate_{gate}{suffix}", values
        grad_hidden = getattr(trace, "grad_hidden" + attr_suffix)
        grad_cell = getattr(trace, "grad_cell" + attr_suffix)
        yield "grad_hidden" + suffix, grad_hidden
        if grad_cell is not None:
            yield "grad_cell" + suffix, grad_cell
        yield "grad_hidden_norm" + suffix, norms_over_time(grad_hidden)
        if grad_cell is not None:
            yield "grad_cell_norm" + suffix, norms_over_time(grad_cell)
        jacobian = getattr(trace, "state_jacobian_norm" + attr_suffix)
        if jacobian is not None:
            yield "jacobian_norm" + suffix, jacobian


GATE_COUNT = {"rnn": 0, "jordan": 0, "gru": 3, "mgu": 2, "lstm": 4, "lstm_nofg": 3}
CELL_STATE_KINDS = ("lstm", "lstm_nofg")


def estimated_rows(settings: Settings) -> int:
    """About how many CSV rows ``trace_csv`` gives (without running anything)."""
    T, H = settings.steps, settings.hidden_size
    rows = 0
    for kind in settings.cells:
        with_cell = kind in CELL_STATE_KINDS
        per_unit = 2 + GATE_COUNT[kind] + 2 * with_cell
        per_step = 2 + with_cell
        directions = 2 if settings.bidirectional and kind != "jordan" else 1
        rows += directions * (per_unit * T * H + per_step * T)
    return rows


def _finished(settings: Settings, runs: Runs | None):
    runs = Runs(settings) if runs is None else runs
    return list(runs.finished())


# ---- CSV -------------------------------------------------------------------------------


def iter_trace_csv(settings: Settings, runs: Runs | None = None) -> Iterator[str]:
    """The CSV in pieces (the header, then one piece per cell and quantity)."""
    yield ",".join(COLUMNS) + "\n"
    with np.errstate(all="ignore"):
        for kind, run in _finished(settings, runs):
            for quantity, values in quantities(run.trace):
                yield _csv_block(kind, quantity, np.asarray(values, dtype=np.float64))


def trace_csv(settings: Settings, runs: Runs | None = None) -> str:
    """Every shown cell's trace as tidy CSV (columns t,cell,quantity,unit,value)."""
    return "".join(iter_trace_csv(settings, runs))


def _csv_block(kind: str, quantity: str, values: np.ndarray) -> str:
    """Rows of one (T, H) or (T,) array, t-major then unit."""
    T = values.shape[0]
    per_unit = values.ndim == 2
    units = values.shape[1] if per_unit else 1
    flat = values.reshape(-1)
    text = np.char.mod(VALUE_FORMAT, flat).astype(object)
    text[np.isnan(flat)] = ""
    text[flat == np.inf] = "inf"
    text[flat == -np.inf] = "-inf"
    t = np.repeat(np.arange(T), units).astype(str).astype(object)
    unit = np.tile(np.arange(units).astype(str), T).astype(object) if per_unit else ""
    rows = t + f",{kind},{quantity}," + unit + "," + text + "\n"
    return "".join(rows.tolist())


# ---- JSON ------------------------------------------------------------------------------


def settings_record(settings: Settings) -> dict[str, Any]:
    """The settings as the JSON carries them: the link's query (only what differs
    from the defaults), the query string itself and every field's value."""
    return {
        "query": settings.to_query(),
        "link": "?" + link_query(settings),
        "fields": dataclasses.asdict(settings),
    }


def trace_record(settings: Settings, runs: Runs | None = None) -> dict[str, Any]:
    """The JSON's content as a dict (see the module docstring)."""
    runs = Runs(settings) if runs is None else runs
    cells = {}
    with np.errstate(all="ignore"):
        for kind in settings.cells:
            run = runs.get(kind)
            record: dict[str, Any] = {"name": CELL_NAMES[kind], "error": run.error}
            trace = run.trace
            if trace is not None:
                record.update(
                    steps=int(np.asarray(trace.hidden).shape[0]),
                    hidden_size=int(np.asarray(trace.hidden).shape[1]),
                    loss=_number(trace.loss),
                    grad_norm=_number(trace.grad_norm),
                    clip_scale=_number(trace.clip_scale),
                    nonfinite_forward=trace.nonfinite_forward,
                    nonfinite_backward=trace.nonfinite_backward,
                    parameter_grad_norms={
                        n: _number(norms_over_time(np.ravel(g)[None, :])[0])
                        for n, g in trace.grads.items()
                    },
                    per_unit={},
                    per_step={},
                )
                for quantity, values in quantities(trace):
                    values = np.asarray(values, dtype=np.float64)
                    group = "per_unit" if values.ndim == 2 else "per_step"
                    record[group][quantity] = _nested(values)
            cells[kind] = record
    return {"app": "Gradient Flow Lab", "settings": settings_record(settings), "cells": cells}


def trace_json(settings: Settings, runs: Runs | None = None) -> str:
    """``trace_record`` as JSON text (strict JSON: non-finite values are null)."""
    return json.dumps(trace_record(settings, runs), allow_nan=False, separators=(",", ":"))


def _number(value) -> float | None:
    value = float(value)
    return value if np.isfinite(value) else None


def _nested(values: np.ndarray) -> list:
    """Nested lists of floats with None where not finite."""
    return np.where(np.isfinite(values), values, None).tolist()


def file_name(settings: Settings, fmt: str) -> str:
    """``trace_<short settings>.<csv|json>``."""
    return f"trace_{short_settings(settings)}.{fmt}"
