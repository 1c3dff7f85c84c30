"""What a link is made of, for both pages: one ``Field`` per control, and how
its value is checked, written and read.

Each page keeps its whole state in one frozen dataclass with one table of
``Field``s (``app.explorer.state.Settings``, ``app.lab.state.LabSettings``),
like TensorFlow Playground's ``State``/``PROPS``. This module holds what the
two tables share: the field kinds and their codec (``check_value``,
``format_value``, ``parse_value``: forgiving at the edge, a ``ValueError``
naming the field for anything it cannot use), and the vocabularies both pages
offer (cell kinds, initialisations, activations, themes).
"""

from __future__ import annotations

import math
import numbers
import re
from dataclasses import dataclass
from typing import Any

# Cell kinds the app shows; "lstm_nofg" is the engine's lstm with forget_gate=False.
CELL_KINDS = ("rnn", "jordan", "gru", "mgu", "lstm", "lstm_nofg")
CELL_NAMES = {
    "rnn": "Elman RNN",
    "jordan": "Jordan",
    "gru": "GRU",
    "mgu": "Minimal GRU",
    "lstm": "LSTM",
    "lstm_nofg": "LSTM without forget gate",
}
INITS = ("uniform", "orthogonal", "identity", "gaussian")
ACTIVATIONS = ("tanh", "relu", "sigmoid", "linear")
THEMES = ("light", "dark")

MAX_GRID_SIZE = 4  # the recurrent matrix is editable cell by cell up to this H
DIGEST_LENGTH = 16  # hex digits of an upload's sha256 that name it in a link


@dataclass(frozen=True)
class Field:
    """One control: its Settings name, URL key, kind, default and allowed values.

    ``kind`` is one of "choice", "choices" (a non-empty tuple of choices),
    "bool", "int", "float", "matrix", "digest" (``DIGEST_LENGTH``
    lower-case hex digits naming uploaded weights). ``optional`` fields also take None
    ("off" in a link). ``low``/``high`` bound numbers (inclusive).
    """

    name: str
    key: str
    kind: str
    default: Any
    label: str
    choices: tuple = ()
    low: float | None = None
    high: float | None = None
    optional: bool = False


# The draw of W_hh and the activation: the same control, key and range on both pages.
INIT_FIELD = Field("init", "init", "choice", "uniform", "Initialisation of W_hh", INITS)
SPECTRAL_RADIUS_FIELD = Field(
    "spectral_radius",
    "rho",
    "float",
    None,
    "Spectral radius of W_hh",
    low=0.0,
    high=3.0,
    optional=True,
)
ACTIVATION_FIELD = Field("activation", "act", "choice", "tanh", "Activation", ACTIVATIONS)


# ---- one field's values -----------------------------------------------------


def check_value(field: Field, value: Any) -> Any:
    """``value`` normalised to the field's type; ValueError if not allowed."""
    if value is None:
        if field.optional:
            return None
        raise ValueError(f"{field.name} cannot be off")
    kind = field.kind
    if kind == "choice":
        if value not in field.choices:
            raise ValueError(
                f"{field.name} must be one of {field.choices}, got {short_repr(value)}"
            )
        return value
    if kind == "choices":
        if isinstance(value, str) or not isinstance(value, tuple | list):
            raise ValueError(f"{field.name} must be a tuple of choices, got {short_repr(value)}")
        chosen = tuple(value)
        if not chosen or any(v not in field.choices for v in chosen):
            raise ValueError(
                f"{field.name} must be a non-empty selection of {field.choices}, "
                f"got {short_repr(value)}"
            )
        # one order for every link: the table's, without repeats
        return tuple(c for c in field.choices if c in chosen)
    if kind == "bool":
        if not isinstance(value, bool):
            raise ValueError(f"{field.name} must be True or False, got {short_repr(value)}")
        return value
    if kind in ("int", "float"):
        number = _number(field, value)
        if not field.low <= number <= field.high:
            raise ValueError(
                f"{field.name} must lie in [{field.low}, {field.high}], got {short_repr(value)}"
            )
        return number
    if kind == "matrix":
        try:
            rows = tuple(tuple(float(v) + 0.0 for v in row) for row in value)
        except (TypeError, ValueError, OverflowError):
            raise ValueError(
                f"{field.name} must be rows of numbers, got {short_repr(value)}"
            ) from None
        size = len(rows)
        if not 1 <= size <= MAX_GRID_SIZE or any(len(r) != size for r in rows):
            raise ValueError(f"{field.name} must be square, 1×1 to 4×4, got {short_repr(value)}")
        if not all(math.isfinite(v) and abs(v) <= 100 for r in rows for v in r):
            raise ValueError(f"{field.name} entries must be finite and within ±100")
        return rows
    if kind == "digest":
        if not (
            isinstance(value, str)
            and len(value) == DIGEST_LENGTH
            and all(c in "0123456789abcdef" for c in value)
        ):
            raise ValueError(
                f"{field.name} must be {DIGEST_LENGTH} lower-case hex digits, "
                f"got {short_repr(value)}"
            )
        return value
    raise AssertionError(f"unknown field kind {kind!r}")


def _number(field: Field, value: Any) -> int | float:
    """``value`` as the field's kind of number, before the range check.

    Whole numbers are compared exactly (a link's 10⁴⁰⁰ must not reach float()).
    """
    if isinstance(value, bool) or not isinstance(value, int | float | numbers.Real):
        raise ValueError(f"{field.name} must be a number, got {short_repr(value)}")
    if field.kind == "int" and isinstance(value, int | numbers.Integral):
        return int(value)
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        raise ValueError(f"{field.name} must be a number, got {short_repr(value)}") from None
    if not math.isfinite(number):
        raise ValueError(f"{field.name} must be finite, got {short_repr(value)}")
    if field.kind == "int":
        if number != int(number):
            raise ValueError(f"{field.name} must be a whole number, got {short_repr(value)}")
        return int(number)
    # 0.9100000000000001 from a slider's arithmetic reads as 0.91;
    # + 0.0: −0.0 is 0.0, as in a link
    return float(f"{number:.12g}") + 0.0


def short_repr(value: Any) -> str:
    """``repr(value)``, at most 80 characters: error messages stay one short line."""
    try:
        text = repr(value)
    except ValueError:  # an int of more than 4300 digits has no repr
        return f"a number of {value.bit_length()} bits"
    return text if len(text) <= 80 else text[:79] + "…"


def format_value(field: Field, value: Any) -> str:
    """The text a link carries for ``value``."""
    if value is None:
        return "off"
    if field.kind == "choices":
        return ",".join(value)
    if field.kind == "bool":
        return "1" if value else "0"
    if field.kind == "float":
        return repr(float(value))
    if field.kind == "matrix":
        return ";".join(",".join(repr(v) for v in row) for row in value)
    return str(value)


# What a link's numbers may look like: ASCII digits, as ``format_value`` writes
# them (int() and float() also take "١٢", "1_0", "inf" and "nan").
INT_TEXT = re.compile(r"[+-]?[0-9]+")
FLOAT_TEXT = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
MAX_TEXT_LENGTH = 1000  # characters of one value: a 4×4 W_hh of reprs takes about 380


def _parsed_number(field: Field, text: str, pattern: re.Pattern, kind: type) -> Any:
    if not pattern.fullmatch(text):
        raise ValueError(f"{field.name}: not a number: {short_repr(text)}")
    return kind(text)


def parse_value(field: Field, text: str) -> Any:
    """The value a link's ``text`` stands for; ValueError if it cannot be used."""
    text = text.strip()
    if len(text) > MAX_TEXT_LENGTH:
        raise ValueError(f"{field.name}: a value of {len(text)} characters is too long")
    if field.optional and text.lower() == "off":
        return None
    kind = field.kind
    if kind == "choices":
        value: Any = tuple(part.strip() for part in text.split(",") if part.strip())
    elif kind == "bool":
        if text.lower() not in ("1", "0", "true", "false"):
            raise ValueError(f"{field.name}: not a yes/no value: {short_repr(text)}")
        value = text.lower() in ("1", "true")
    elif kind == "int":
        value = _parsed_number(field, text, INT_TEXT, int)
    elif kind == "float":
        value = _parsed_number(field, text, FLOAT_TEXT, float)
    elif kind == "matrix":
        value = [
            [_parsed_number(field, v.strip(), FLOAT_TEXT, float) for v in row.split(",")]
            for row in text.split(";")
        ]
    else:
        value = text
    return check_value(field, value)
