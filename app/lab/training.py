"""What the training lab computes: networks trained side by side, and their history.

No Streamlit here: the lab's page, its command line (``python -m app.train``)
and the tests all drive a ``Training``. Each chosen cell kind trains on the
same batches (``tasks.make(task, T, B, seed=[seed, u])`` for update u) from
the same seed; with several seeds, each kind's networks are one stacked model
(``engine.stack``), trained side by side in one run. Validation is a fixed
batch of ``VALIDATION_BATCH`` sequences drawn from a seed apart from
training's, scored forward only (``engine.evaluate``).

A ``Training`` advances in slices (``advance``), so a page can draw between
them and a user can stop at any moment; the history it keeps is the same
however the updates were sliced, so a link reproduces a curve bit for bit.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import numpy as np

import engine
from app.compute import ENGINE_KIND, GATE_BLOCKS, _initial_block
from app.lab.state import CONTRAST_NAMES, LabSettings
from app.links import CELL_NAMES

VALIDATION_BATCH = 512
VALIDATION_SEED = 2**31 - 1  # drawn apart from every training batch's seed
LOSS_CAP = 1e300  # losses above this are drawn at the cap (and said to be)
# "Solved": the validation loss at or under this share of the baseline; for
# adding that is a plain mean squared error of 0.01 (the contract's ½‖·‖² is
# half of it, against a baseline of 1/12).
SOLVED_SHARE = {"adding": 0.06, "copy": 0.1, "sine": 0.1, "text": 0.6}


def task_options(settings: LabSettings) -> dict:
    return {"copy": {"length": settings.copy_length}}.get(settings.task, {})


def batch_of(settings: LabSettings, update: int) -> engine.Task:
    """The training batch of update ``update``: the same for every cell."""
    return engine.tasks.make(
        settings.task,
        settings.steps,
        settings.batch,
        seed=settings.seed * 1_000_003 + update,
        **task_options(settings),
    )


def validation_batch(settings: LabSettings) -> engine.Task:
    return engine.tasks.make(
        settings.task,
        settings.steps,
        VALIDATION_BATCH,
        seed=VALIDATION_SEED - settings.seed,
        **task_options(settings),
    )


def build_network(settings: LabSettings, kind: str, seed: int, sizes: tuple[int, int]):
    """One network of ``kind`` for the lab: PyTorch's draw from ``seed``, W_hh's
    gate blocks drawn by ``settings.init`` and rescaled to ``spectral_radius``."""
    engine_kind, forget_gate = ENGINE_KIND[kind]
    D, O = sizes
    H = settings.hidden_size
    model = engine.build(
        engine_kind,
        D,
        H,
        O,
        activation=settings.activation,
        forget_gate=forget_gate,
        seed=seed,
    )
    rng = np.random.default_rng([seed, 2])
    w_hh = model.params["weight_hh"]
    if kind == "jordan":
        w_out = model.params["weight_out"]
        if settings.spectral_radius is not None:  # the loop W_hh W_out, H × H
            w_hh *= _scale(w_hh @ w_out, settings.spectral_radius)
        return model
    for g in range(len(GATE_BLOCKS[kind])):
        rows = slice(g * H, (g + 1) * H)
        w_hh[rows] = _initial_block(settings.init, H, rng, w_hh[rows])
        if settings.spectral_radius is not None:
            w_hh[rows] *= _scale(w_hh[rows], settings.spectral_radius)
    return model


def _scale(matrix: np.ndarray, radius: float) -> float:
    current = float(np.max(np.abs(np.linalg.eigvals(matrix))))
    return 1.0 if current == 0.0 else radius / current


def optimizer(settings: LabSettings):
    decay = settings.weight_decay or 0.0
    if settings.optimizer == "adam":
        return engine.Adam(settings.lr, weight_decay=decay)
    momentum = 0.9 if settings.optimizer == "momentum" else 0.0
    return engine.SGD(settings.lr, momentum=momentum, weight_decay=decay)


@dataclass(frozen=True)
class Line:
    """One curve of the lab: a cell kind, with or without the contrast's remedy."""

    kind: str
    without: str | None = None  # "clip" or "decay": trained with that remedy off

    @property
    def name(self) -> str:
        label = CELL_NAMES[self.kind]
        return label if self.without is None else f"{label}, no {CONTRAST_NAMES[self.without]}"


def lines_of(settings: LabSettings) -> dict[Line, LabSettings]:
    """Each line to train, with the settings it trains with."""
    found = {Line(kind): settings for kind in settings.cells}
    if settings.contrast != "none":
        off = {"clip": {"clip": None}, "decay": {"weight_decay": None}}[settings.contrast]
        for kind in settings.cells:
            found[Line(kind, settings.contrast)] = settings.replace(**off)
    return found


@dataclass
class History:
    """One cell kind's record, one row per update; (U, S, …) with S seeds."""

    updates: list[int] = field(default_factory=list)
    loss: list[np.ndarray] = field(default_factory=list)  # (S,)
    grad_norm: list[np.ndarray] = field(default_factory=list)  # (S,)
    clip_scale: list[np.ndarray] = field(default_factory=list)  # (S,)
    spectral_radius: list[np.ndarray] = field(default_factory=list)  # (S, G)
    lag_norms: list[np.ndarray] = field(default_factory=list)  # (S, T)
    diverged: list[np.ndarray] = field(default_factory=list)  # (S,)
    validated_at: list[int] = field(default_factory=list)
    validation: list[np.ndarray] = field(default_factory=list)  # (S,)

    def array(self, name: str) -> np.ndarray:
        values = getattr(self, name)
        return np.array(values) if values else np.zeros((0,))


@dataclass
class Training:
    """A lab run: one stacked model per cell kind, trained update by update."""

    settings: LabSettings
    seeds: tuple[int, ...] = ()
    models: dict = field(default_factory=dict)
    steppers: dict = field(default_factory=dict)
    history: dict[str, History] = field(default_factory=dict)
    validation: engine.Task | None = None
    done: int = 0  # updates made
    seconds: float = 0.0  # spent in the engine
    # Streamlit runs a live fragment beside the page's own rerun: Stop may come
    # while an update is being made, and must not end the run short of it.
    _updating: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    @classmethod
    def start(cls, settings: LabSettings, seeds: tuple[int, ...] | None = None) -> Training:
        """Every line of ``settings`` built and ready to train; ``seeds``: the
        networks' seeds (default ``settings.seeds``), one stacked model each line."""
        run = cls(settings, seeds=tuple(settings.seeds if seeds is None else seeds))
        run.validation = validation_batch(settings)
        first = batch_of(settings, 0)
        sizes = (first.inputs.shape[-1], first.targets.shape[-1])
        for line, variant in lines_of(settings).items():
            nets = [build_network(variant, line.kind, seed, sizes) for seed in run.seeds]
            # One network alone runs unstacked: the engine's plainer, faster path.
            model = engine.stack(nets) if len(nets) > 1 else nets[0]
            run.models[line] = model
            run.steppers[line] = engine.train(
                model,
                lambda u: batch_of(settings, u),
                optimizer(variant),
                settings.updates,
                clip=variant.clip,
                truncate=variant.truncation,
            )
            run.history[line] = History()
        return run

    @property
    def finished(self) -> bool:
        return self.done >= self.settings.updates

    def advance(self, seconds: float = 0.4, at_most: int | None = None) -> int:
        """Make updates for about ``seconds`` (at least one, at most ``at_most``);
        return how many were made."""
        started = time.perf_counter()
        made = 0
        with np.errstate(all="ignore"):
            while at_most is None or made < at_most:
                with self._updating:
                    if self.finished:
                        break
                    self._one_update()
                made += 1
                if time.perf_counter() - started >= seconds:
                    break
        self.seconds += time.perf_counter() - started
        return made

    def stop(self) -> None:
        """End the run after the update being made, if any: what is drawn then
        is the whole run, its last update included."""
        with self._updating:
            self.settings = self.settings.replace(updates=max(1, self.done))

    def _one_update(self) -> None:
        u = self.done
        for line, stepper in self.steppers.items():
            record = next(stepper)
            kept = self.history[line]
            S = len(self.seeds)
            kept.updates.append(record.update)
            kept.loss.append(np.reshape(record.loss, (S,)))
            kept.grad_norm.append(np.reshape(record.grad_norm, (S,)))
            kept.clip_scale.append(np.reshape(record.clip_scale, (S,)))
            kept.spectral_radius.append(np.reshape(record.spectral_radius, (S, -1)))
            kept.lag_norms.append(np.reshape(record.lag_norms, (S, -1)))
            kept.diverged.append(np.reshape(record.diverged, (S,)))
        self.done = u + 1
        if self.done % self.settings.validate_every == 0 or self.finished:
            self.validate()

    def validate(self) -> None:
        task = self.validation
        for line, model in self.models.items():
            stacked = isinstance(model, engine.StackedModel)
            arrays = _per_model(task, model.size) if stacked else (task.inputs, task.targets)
            loss, _ = engine.evaluate(model, *arrays, loss=task.loss, scored=task.scored)
            kept = self.history[line]
            kept.validated_at.append(self.done)
            kept.validation.append(np.reshape(np.asarray(loss, dtype=np.float64), (-1,)))

    def example(self, line: Line, seed_index: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """What network ``seed_index`` of ``line`` answers on validation sequence
        0 now, and the target: outputs (T, O); target (T, O), or (O,) when only
        the last step is scored."""
        task = self.validation
        target = task.targets[0] if task.scored == "last" else task.targets[:, 0]
        model = self.models[line]
        _, outputs = engine.evaluate(
            model[seed_index] if isinstance(model, engine.StackedModel) else model,
            task.inputs[:, 0],
            target,
            loss=task.loss,
            scored=task.scored,
        )
        return outputs, target

    def solved_at(self, line: Line) -> list[int | None]:
        """Per seed, the first validated update whose loss is at most the
        task's solved share of the baseline (None: not yet)."""
        kept = self.history[line]
        bar = SOLVED_SHARE[self.settings.task] * self.validation.baseline
        found: list[int | None] = [None] * len(self.seeds)
        for at, losses in zip(kept.validated_at, kept.validation, strict=True):
            for s, value in enumerate(losses):
                if found[s] is None and value <= bar:
                    found[s] = at
        return found


def _per_model(task: engine.Task, size: int) -> tuple[np.ndarray, np.ndarray]:
    T = task.inputs.shape[0]
    inputs = np.broadcast_to(task.inputs[:, None], (T, size, *task.inputs.shape[1:]))
    if task.scored == "last":
        targets = np.broadcast_to(task.targets[None], (size, *task.targets.shape))
    else:
        targets = np.broadcast_to(task.targets[:, None], (T, size, *task.targets.shape[1:]))
    return inputs, targets
