"""Many models of one kind and size run as one (contract: "Many models in one run").

    models = engine.stack([m_0, …, m_{M−1}])
    models.size                    # M
    models.params["weight_hh"]     # (M, G·H, H): every entry gains a leading M
    models[i]                      # model i, an ordinary Model (a copy)
    engine.unstack(models)         # [models[0], …, models[M−1]]

``engine.simulate(models, inputs (T, M, D) or (T, M, B, D), …)`` runs all M at
once: the per-step NumPy calls are paid once for the M models, each model's
arithmetic is its own (see ``simulate``).
"""

from dataclasses import dataclass, field

import numpy as np

from engine.model import Model, checked_params, gate_order

# What the models of one stack must share, besides the parameters' shapes.
SHARED = (
    "kind",
    "input_size",
    "hidden_size",
    "output_size",
    "activation",
    "bidirectional",
    "forget_gate",
    "reset_after",
)


@dataclass(frozen=True)
class StackedModel:
    """M models of one kind, sizes, activation, direction, forget_gate and reset_after.

    ``params`` maps PyTorch's names to float64 arrays with a leading M: model
    i's entry is ``params[name][i]`` (shapes in ``engine.param_shapes``). Any
    entry may be replaced by an array of shape (M, ·) before a simulation.
    ``seeds``: each model's ``seed``, in order.
    """

    kind: str
    input_size: int
    hidden_size: int
    output_size: int
    activation: str
    bidirectional: bool
    forget_gate: bool
    reset_after: bool
    seeds: tuple
    params: dict = field(compare=False)

    @property
    def size(self):
        """M, the number of models."""
        return len(self.seeds)

    def __len__(self):
        return self.size

    @property
    def gates(self):
        """Names of the G gate blocks in row order (see ``engine.model.gate_order``)."""
        return gate_order(self.kind, self.forget_gate)

    @property
    def directions(self):
        """Parameter-name suffixes of the directions: ("",) or ("", "_reverse")."""
        return ("", "_reverse") if self.bidirectional else ("",)

    def __getitem__(self, i):
        """Model i as an ordinary ``Model``, its parameters copied."""
        if isinstance(i, bool) or not isinstance(i, int | np.integer):
            raise TypeError(f"a stacked model is indexed by a whole number, got {i!r}")
        if not -self.size <= i < self.size:
            raise IndexError(f"model index {i} is out of range for {self.size} stacked models")
        config = {name: getattr(self, name) for name in SHARED}
        params = {name: np.array(value[i], dtype=np.float64) for name, value in self.params.items()}
        return Model(**config, seed=self.seeds[i], params=params)


def stack(models):
    """One ``StackedModel`` of the M models given, their parameters copied.

    models: a non-empty sequence of ``Model``s sharing kind, input_size,
    hidden_size, output_size, activation, bidirectional, forget_gate and
    reset_after. Raises ValueError naming the argument on any mismatch.
    """
    if isinstance(models, Model | StackedModel) or not hasattr(models, "__len__"):
        raise ValueError(f"models must be a list of models, got {type(models).__name__}")
    models = list(models)
    if not models:
        raise ValueError("models must hold at least one model, got an empty list")
    for i, model in enumerate(models):
        if not isinstance(model, Model):
            raise ValueError(
                f"models[{i}] must be a Model from engine.build, got {type(model).__name__}"
            )
    first = models[0]
    for i, model in enumerate(models[1:], start=1):
        for name in SHARED:
            if getattr(model, name) != getattr(first, name):
                raise ValueError(
                    f"models[{i}].{name} must equal models[0].{name} = "
                    f"{getattr(first, name)!r} to be stacked, got {getattr(model, name)!r}"
                )
    checked = []
    for i, model in enumerate(models):
        try:
            checked.append(checked_params(model))
        except ValueError as error:
            raise ValueError(f"models[{i}].{error}") from None
    params = {name: np.stack([p[name] for p in checked]) for name in checked[0]}
    config = {name: getattr(first, name) for name in SHARED}
    return StackedModel(**config, seeds=tuple(m.seed for m in models), params=params)


def unstack(models):
    """The M models of a ``StackedModel``, each an ordinary ``Model`` (copies)."""
    if not isinstance(models, StackedModel):
        raise ValueError(
            f"models must be a StackedModel from engine.stack, got {type(models).__name__}"
        )
    return [models[i] for i in range(models.size)]
