"""The app's whole state: one frozen ``Settings`` and one table of its fields.

Like TensorFlow Playground's ``State``/``PROPS``: every control is one field,
listed once in ``FIELDS`` with its type, default, allowed values or range and
a short URL key. ``Settings.to_query`` writes a link, ``from_query`` reads one
back, forgivingly: a value it cannot use falls back to the default and its key
is reported. The seed is a field, so a pasted link reproduces the run exactly.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from app.links import (
    ACTIVATION_FIELD,
    CELL_KINDS,
    INIT_FIELD,
    MAX_GRID_SIZE,
    SPECTRAL_RADIUS_FIELD,
    THEMES,
    Field,
    check_value,
    format_value,
    parse_value,
)

SIGNALS = ("noise", "impulse", "sine", "constant", "impulse_zeros")
SETUPS = ("many_to_one", "many_to_many", "one_to_one")
LOSSES = ("mse", "bce", "cross_entropy")
PRESENTED = ("flow", "sweep")  # the charts the presenter view can show


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
    INIT_FIELD,
    SPECTRAL_RADIUS_FIELD,
    Field("recurrent_matrix", "Whh", "matrix", None, "W_hh cell by cell", optional=True),
    ACTIVATION_FIELD,
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
    # the presenter view (app.presenter): one chart full screen, for the lecture
    Field("present", "show", "choice", None, "Presenter view", PRESENTED, optional=True),
    # the gradient-flow chart's y axis locked at 10^y_low … 10^y_high (app.lecture)
    Field(
        "y_low",
        "ylo",
        "int",
        None,
        "Locked y axis: lowest power of ten",
        low=-330,
        high=330,
        optional=True,
    ),
    Field(
        "y_high",
        "yhi",
        "int",
        None,
        "Locked y axis: highest power of ten",
        low=-330,
        high=330,
        optional=True,
    ),
    # one other value of one knob, drawn beside the first on the gradient-flow chart
    Field(
        "compare_seed",
        "seed2",
        "int",
        None,
        "Compare with seed",
        low=0,
        high=2**31 - 1,
        optional=True,
    ),
    Field(
        "compare_radius",
        "rho2",
        "float",
        None,
        "Compare with ρ (w for one unit)",
        low=0.0,
        high=3.0,
        optional=True,
    ),
)
# How the charts look, not what they show: presets leave these as they are.
DISPLAY_FIELDS = ("projector", "theme")
# How a lecture shows the charts (the presenter view, a locked axis): presets
# leave these as they are too, and a preset still matches under them.
LECTURE_FIELDS = ("present", "y_low", "y_high")
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
    present: str | None = _default("present")
    y_low: int | None = _default("y_low")
    y_high: int | None = _default("y_high")
    compare_seed: int | None = _default("compare_seed")
    compare_radius: float | None = _default("compare_radius")

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
        """These settings with the display (and lecture) fields at their
        defaults: what is shown."""
        shown_as = DISPLAY_FIELDS + LECTURE_FIELDS
        return dataclasses.replace(self, **{n: _default(n) for n in shown_as})

    @property
    def compared(self) -> Settings | None:
        """The settings drawn beside these on the gradient-flow chart, or None:
        the other seed and/or the other ρ (w for one unit; W_hh is then drawn
        from the seed and rescaled, as the ρ slider does)."""
        if self.compare_seed is None and self.compare_radius is None:
            return None
        changes: dict[str, Any] = {"compare_seed": None, "compare_radius": None}
        if self.compare_seed is not None:
            changes["seed"] = self.compare_seed
        if self.compare_radius is not None and self.single_unit:
            changes["recurrent_weight"] = self.compare_radius
        elif self.compare_radius is not None:
            changes.update(spectral_radius=self.compare_radius, recurrent_matrix=None)
        return dataclasses.replace(self, **changes)

    @property
    def y_lock(self) -> tuple[int, int] | None:
        """(lowest, highest) power of ten of the locked y axis, or None when
        it follows the lines (either end off, or the ends in the wrong order)."""
        if self.y_low is None or self.y_high is None or self.y_low >= self.y_high:
            return None
        return self.y_low, self.y_high

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
