"""The training lab's whole state: one frozen ``LabSettings``, one table of fields.

Built like the explorer's ``app.state.Settings`` and from the same pieces
(``Field``, ``check_value``, ``parse_value``, ``format_value``): every
control is one row of ``LAB_FIELDS``; ``to_query`` writes the link and
``from_query`` reads it back, forgivingly. The page is in the link's path
(``/training_lab``), the seed is a field, so a link reproduces a training
curve bit for bit.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from app.links import (
    ACTIVATION_FIELD,
    CELL_KINDS,
    CELL_NAMES,
    INIT_FIELD,
    SPECTRAL_RADIUS_FIELD,
    THEMES,
    Field,
    check_value,
    format_value,
    parse_value,
)

TASKS = ("adding", "copy", "sine", "text")
TASK_NAMES = {
    "adding": "Adding two marked numbers",
    "copy": "Copy symbols across a gap",
    "sine": "Predict the next value of a sine",
    "text": "Predict the next character",
}
OPTIMIZERS = ("sgd", "momentum", "adam")
OPTIMIZER_NAMES = {"sgd": "SGD", "momentum": "SGD with momentum 0.9", "adam": "Adam"}
# A second copy of each cell, trained with one remedy off: clipping, or weight decay.
CONTRASTS = ("none", "clip", "decay")
CONTRAST_NAMES = {"none": "nothing else", "clip": "clipping", "decay": "weight decay"}
VALIDATE_EVERY = 25  # updates between two validation losses
MAX_WORK = 4e10  # updates × lines × seeds × T × B × H(H + 8): a few minutes on one core

LAB_FIELDS: tuple[Field, ...] = (
    Field("task", "task", "choice", "adding", "Task", TASKS),
    Field("steps", "T", "int", 50, "Sequence length T", low=2, high=400),
    Field("copy_length", "len", "int", 5, "Copy: symbols to remember", low=1, high=20),
    Field("cells", "cell", "choices", ("rnn", "gru", "lstm"), "Cells to train", CELL_KINDS),
    Field("hidden_size", "H", "int", 32, "Hidden size H", low=1, high=128),
    INIT_FIELD,
    SPECTRAL_RADIUS_FIELD,
    ACTIVATION_FIELD,
    Field("optimizer", "opt", "choice", "adam", "Optimizer", OPTIMIZERS),
    Field("lr", "lr", "float", 0.01, "Learning rate", low=1e-5, high=10.0),
    Field("batch", "B", "int", 32, "Batch size", low=1, high=256),
    Field("clip", "clip", "float", 1.0, "Clipping threshold θ", low=1e-3, high=1e3, optional=True),
    Field("weight_decay", "wd", "float", None, "Weight decay λ", low=1e-7, high=1.0, optional=True),
    Field("truncation", "k", "int", None, "Truncation window k", low=1, high=400, optional=True),
    Field("updates", "n", "int", 1500, "Updates", low=1, high=5000),
    Field("seed", "seed", "int", 0, "Random seed", low=0, high=2**31 - 1),
    Field("seed_count", "seeds", "int", 1, "Seeds side by side", low=1, high=5),
    Field("contrast", "vs", "choice", "none", "Also train without", CONTRASTS),
    Field("cliff_w", "cw", "float", 6.0, "Cliff: start w", low=-2.0, high=10.0),
    Field("cliff_b", "cb", "float", -3.5, "Cliff: start b", low=-8.0, high=4.0),
    Field("cliff_lr", "clr", "float", 1.0, "Cliff: learning rate", low=1e-3, high=10.0),
    Field("cliff_clip", "ctheta", "float", 1.0, "Cliff: clipping θ", low=1e-3, high=100.0),
    Field("projector", "proj", "bool", False, "Projector mode"),
    Field("theme", "theme", "choice", "light", "Theme", THEMES),
)
LAB_FIELD_BY_NAME = {f.name: f for f in LAB_FIELDS}
LAB_FIELD_BY_KEY = {f.key: f for f in LAB_FIELDS}


def _default(name: str) -> Any:
    return LAB_FIELD_BY_NAME[name].default


@dataclass(frozen=True)
class LabSettings:
    """Every control of the training lab; hashable. ``clip``, ``weight_decay``,
    ``truncation`` and ``spectral_radius`` are None when off."""

    task: str = _default("task")
    steps: int = _default("steps")
    copy_length: int = _default("copy_length")
    cells: tuple[str, ...] = _default("cells")
    hidden_size: int = _default("hidden_size")
    init: str = _default("init")
    spectral_radius: float | None = _default("spectral_radius")
    activation: str = _default("activation")
    optimizer: str = _default("optimizer")
    lr: float = _default("lr")
    batch: int = _default("batch")
    clip: float | None = _default("clip")
    weight_decay: float | None = _default("weight_decay")
    truncation: int | None = _default("truncation")
    updates: int = _default("updates")
    seed: int = _default("seed")
    seed_count: int = _default("seed_count")
    contrast: str = _default("contrast")
    cliff_w: float = _default("cliff_w")
    cliff_b: float = _default("cliff_b")
    cliff_lr: float = _default("cliff_lr")
    cliff_clip: float = _default("cliff_clip")
    projector: bool = _default("projector")
    theme: str = _default("theme")

    def __post_init__(self) -> None:
        for f in LAB_FIELDS:
            object.__setattr__(self, f.name, check_value(f, getattr(self, f.name)))
        if self.task == "copy" and self.steps < 2 * self.copy_length + 1:
            raise ValueError(
                f"steps must be at least 2 × copy_length + 1 = {2 * self.copy_length + 1} "
                f"for the copy task, got {self.steps}"
            )

    PAGE_PATH = "training_lab"  # the page's address in a link: /training_lab?…

    @property
    def content(self) -> LabSettings:
        """These settings with the display fields at their defaults."""
        return dataclasses.replace(self, projector=False, theme="light")

    def caption_facts(self) -> list[str]:
        """What a figure's caption says made it (``app.export.caption_lines``)."""
        cells = ", ".join(CELL_NAMES[k] for k in self.cells)
        facts = [f"training lab: {self.task}, T = {self.steps}", cells, f"H = {self.hidden_size}"]
        facts.append(f"{self.optimizer} lr {self.lr:g}")
        facts.append("no clipping" if self.clip is None else f"clip θ = {self.clip:g}")
        if self.weight_decay is not None:
            facts.append(f"weight decay {self.weight_decay:g}")
        facts.append(f"{self.updates} updates, batch {self.batch}, seed {self.seed}")
        return facts

    @property
    def seeds(self) -> tuple[int, ...]:
        return tuple(range(self.seed, self.seed + self.seed_count))

    @property
    def validate_every(self) -> int:
        return VALIDATE_EVERY

    @property
    def work(self) -> float:
        """A size of the run's work, compared with ``MAX_WORK`` (the budget)."""
        H = self.hidden_size
        lines = len(self.cells) * (1 if self.contrast == "none" else 2)
        return (
            float(self.updates) * self.seed_count * lines * self.steps * (self.batch * H * (H + 8))
        )

    def replace(self, **changes: Any) -> LabSettings:
        for name in changes:
            if name not in LAB_FIELD_BY_NAME:
                raise ValueError(f"LabSettings has no field {name!r}")
        return dataclasses.replace(self, **changes)

    def to_query(self) -> dict[str, str]:
        """The fields that differ from their defaults, as ``{url_key: text}``."""
        return {
            f.key: format_value(f, getattr(self, f.name))
            for f in LAB_FIELDS
            if getattr(self, f.name) != f.default
        }

    @classmethod
    def from_query(cls, params: Mapping[str, Any]) -> tuple[LabSettings, list[str]]:
        """Settings from a link, and the keys left at their defaults because
        they were unknown or could not be used."""
        values: dict[str, Any] = {}
        ignored: list[str] = []
        for key, raw in params.items():
            found = LAB_FIELD_BY_KEY.get(key)
            if isinstance(raw, list | tuple):
                raw = raw[-1] if raw else ""
            try:
                if found is None:
                    raise ValueError(key)
                values[found.name] = parse_value(found, str(raw))
            except (ValueError, OverflowError):
                ignored.append(key)
        try:
            return cls(**values), ignored
        except ValueError:  # fields that do not fit together (copy's T): the task's own T
            values.pop("steps", None)
            values.pop("copy_length", None)
            return cls(**values), [*ignored, "T"]
