"""The app's whole state: one frozen ``Settings`` and one table of its fields.

Like TensorFlow Playground's ``State``/``PROPS``: every control is one field,
listed once in ``FIELDS`` with its type, default, allowed values or range and
a short URL key. ``Settings.to_query`` writes a link, ``from_query`` reads one
back, forgivingly: a value it cannot use falls back to the default and its key
is reported. The seed is a field, so a pasted link reproduces the run exactly.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
import re
from collections.abc import Mapping
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
SIGNALS = ("noise", "impulse", "sine", "constant", "impulse_zeros")
SETUPS = ("many_to_one", "many_to_many", "one_to_one")
LOSSES = ("mse", "bce", "cross_entropy")
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


FIELDS: tuple[Field, ...] = (
    Field("cells", "cell", "choices", ("rnn", "lstm"), "Cells to show", CELL_KINDS),
    # the Elman RNN: its phase diagram has a border to see (an LSTM's is all blue)
    Field("focus", "focus", "choice", "rnn", "Cell for the detail views", CELL_KINDS),
    Field("bidirectional", "bi", "bool", False, "Bidirectional"),
    Field("reset_after", "reset", "bool", False, "GRU: reset gate after W_hn"),
    Field("hidden_size", "H", "int", 16, "Hidden size H", low=1, high=256),
    Field("input_weight", "wx", "float", 1.0, "Input weight", low=-3.0, high=3.0),
    Field("recurrent_weight", "wh", "float", 0.9, "Recurrent weight", low=-3.0, high=3.0),
    Field("bias", "b", "float", 0.0, "Bias", low=-3.0, high=3.0),
    Field("gates_by_hand", "gates", "bool", False, "Set the gate weights by hand"),
    Field(
        "gate_input_weight",
        "gwx",
        "float",
        0.0,
        "Gates' input weight",
        low=-3.0,
        high=3.0,
    ),
    Field(
        "gate_recurrent_weight",
        "gwh",
        "float",
        0.0,
        "Gates' recurrent weight",
        low=-3.0,
        high=3.0,
    ),
    Field("gate_bias", "gb", "float", 0.0, "Gates' bias", low=-5.0, high=5.0),
    Field("init", "init", "choice", "uniform", "Initialisation of W_hh", INITS),
    Field(
        "spectral_radius",
        "rho",
        "float",
        None,
        "Spectral radius of W_hh",
        low=0.0,
        high=3.0,
        optional=True,
    ),
    Field("recurrent_matrix", "Whh", "matrix", None, "W_hh cell by cell", optional=True),
    Field("activation", "act", "choice", "tanh", "Activation", ACTIVATIONS),
    Field("seq_len", "T", "int", 100, "Sequence length T", low=2, high=2000),
    Field(
        "last_steps",
        "last",
        "int",
        None,
        "Gradient flow: the last N steps",
        low=2,
        high=2000,
        optional=True,
    ),
    Field("signal", "x", "choice", "noise", "Input signal", SIGNALS),
    Field("setup", "setup", "choice", "many_to_one", "Set-up", SETUPS),
    Field("loss", "loss", "choice", "mse", "Loss", LOSSES),
    Field(
        "truncation",
        "k",
        "int",
        None,
        "Truncation window k",
        low=1,
        high=2000,
        optional=True,
    ),
    Field(
        "clip",
        "clip",
        "float",
        None,
        "Clipping threshold θ",
        low=1e-6,
        high=1e6,
        optional=True,
    ),
    Field("forget_bias", "fb", "float", 3.0, "LSTM forget-gate bias", low=-5.0, high=10.0),
    Field("seed", "seed", "int", 0, "Random seed", low=0, high=2**31 - 1),
    Field("weights", "npz", "digest", None, "Uploaded weights", optional=True),
    Field("projector", "proj", "bool", False, "Projector mode"),
    Field("theme", "theme", "choice", "light", "Theme", THEMES),
)
# How the charts look, not what they show: presets leave these as they are.
DISPLAY_FIELDS = ("projector", "theme")
FIELD_BY_NAME = {f.name: f for f in FIELDS}
FIELD_BY_KEY = {f.key: f for f in FIELDS}


def _default(name: str) -> Any:
    return FIELD_BY_NAME[name].default


@dataclass(frozen=True)
class Settings:
    """Every control's value; hashable, so it can key a cache.

    ``recurrent_matrix`` is W_hh (rows of floats) typed in by hand, for
    H ≤ 4; ``spectral_radius``, ``truncation`` and ``clip`` are None when off.
    ``weights`` is the digest of uploaded weights (``app.upload``), or None.
    ``focus`` is always one of ``cells`` (the first when given another).
    ``last_steps``: the gradient-flow view's charts show only the last N steps
    (None: all), so that a long run's last steps stay readable.
    """

    cells: tuple[str, ...] = _default("cells")
    focus: str = _default("focus")
    bidirectional: bool = _default("bidirectional")
    reset_after: bool = _default("reset_after")
    hidden_size: int = _default("hidden_size")
    input_weight: float = _default("input_weight")
    recurrent_weight: float = _default("recurrent_weight")
    bias: float = _default("bias")
    gates_by_hand: bool = _default("gates_by_hand")
    gate_input_weight: float = _default("gate_input_weight")
    gate_recurrent_weight: float = _default("gate_recurrent_weight")
    gate_bias: float = _default("gate_bias")
    init: str = _default("init")
    spectral_radius: float | None = _default("spectral_radius")
    recurrent_matrix: tuple[tuple[float, ...], ...] | None = _default("recurrent_matrix")
    activation: str = _default("activation")
    seq_len: int = _default("seq_len")
    last_steps: int | None = _default("last_steps")
    signal: str = _default("signal")
    setup: str = _default("setup")
    loss: str = _default("loss")
    truncation: int | None = _default("truncation")
    clip: float | None = _default("clip")
    forget_bias: float = _default("forget_bias")
    seed: int = _default("seed")
    weights: str | None = _default("weights")
    projector: bool = _default("projector")
    theme: str = _default("theme")

    def __post_init__(self) -> None:
        for f in FIELDS:
            object.__setattr__(self, f.name, check_value(f, getattr(self, f.name)))
        if self.focus not in self.cells:  # one Settings, one link, for one screen
            object.__setattr__(self, "focus", self.cells[0])

    # ---- derived values the views use -------------------------------------
    @property
    def steps(self) -> int:
        """The number of time steps simulated: T, or 1 for one-to-one."""
        return 1 if self.setup == "one_to_one" else self.seq_len

    @property
    def first_step_shown(self) -> int:
        """The first step the gradient-flow chart draws (``last_steps``)."""
        if self.last_steps is None:
            return 0
        return max(0, self.steps - self.last_steps)

    @property
    def focus_cell(self) -> str:
        """The cell the detail views show: ``focus`` if shown, else the first."""
        return self.focus if self.focus in self.cells else self.cells[0]

    @property
    def single_unit(self) -> bool:
        return self.hidden_size == 1

    @property
    def matrix_for_size(self) -> tuple[tuple[float, ...], ...] | None:
        """``recurrent_matrix`` if it fits the hidden size, else None."""
        m = self.recurrent_matrix
        if m is None or len(m) != self.hidden_size or self.hidden_size > MAX_GRID_SIZE:
            return None
        return m

    @property
    def content(self) -> Settings:
        """These settings with the display fields at their defaults: what is shown."""
        return dataclasses.replace(self, **{n: _default(n) for n in DISPLAY_FIELDS})

    def replace(self, **changes: Any) -> Settings:
        """A copy with ``changes``, each checked (ValueError names the field)."""
        for name, value in changes.items():
            if name not in FIELD_BY_NAME:
                raise ValueError(f"Settings has no field {name!r}")
            changes[name] = check_value(FIELD_BY_NAME[name], value)
        return dataclasses.replace(self, **changes)

    # ---- links ------------------------------------------------------------
    def to_query(self) -> dict[str, str]:
        """The fields that differ from what a link without them gives, as
        ``{url_key: text}``: their default, or for ``focus`` the cell it falls
        back to (so ``?cell=gru`` stays that short)."""
        implied = {f.name: f.default for f in FIELDS}
        implied["focus"] = Settings(cells=self.cells).focus
        return {
            f.key: format_value(f, getattr(self, f.name))
            for f in FIELDS
            if getattr(self, f.name) != implied[f.name]
        }

    @classmethod
    def from_query(cls, params: Mapping[str, Any]) -> tuple[Settings, list[str]]:
        """Settings from a link's parameters, and the keys that were not used.

        Unknown keys and values that cannot be read or are out of range are
        left at their defaults and reported; the others are kept. A digest of
        uploaded weights this process does not hold counts as unusable.
        """
        from app import upload  # upload reads the field table: imported here

        values: dict[str, Any] = {}
        ignored: list[str] = []
        for key, raw in params.items():
            field = FIELD_BY_KEY.get(key)
            if field is None:
                ignored.append(key)
                continue
            if isinstance(raw, list | tuple):  # st.query_params.to_dict keeps lists
                raw = raw[-1] if raw else ""
            try:
                values[field.name] = parse_value(field, str(raw))
            except ValueError:
                ignored.append(key)
                continue
            held = field.kind != "digest" or upload.recall(values[field.name]) is not None
            if not held:
                del values[field.name]
                ignored.append(key)
        return cls(**values), ignored


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
