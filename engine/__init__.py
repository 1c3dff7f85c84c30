"""Gradient Flow Lab's engine: recurrent networks forward and back through time.

The public contract (shared/engine-contract.md):

    model = engine.build(kind, input_size, hidden_size, output_size=1, *, activation="tanh",
                         bidirectional=False, forget_gate=True, reset_after=False, seed=0)
    trace = engine.simulate(model, inputs, targets, *, loss="mse", scored="all",
                            truncate=None, clip=None, h0=None, reuse=None)

Many models in one run (contract, "Many models in one run"):

    models = engine.stack([model_0, …, model_{M−1}])   # models.params: leading M
    trace = engine.simulate(models, inputs (T, M, D) or (T, M, B, D), targets, …)
    engine.unstack(models)                              # [models[0], …, models[M−1]]

``reuse`` extends the contract: an earlier Trace whose forward steps the new
run shares are copied from it, not computed (see ``simulate``); the trace is
the same either way.

Arrays are NumPy float64, time first. The engine imports nothing but NumPy, never
touches NumPy's global error state or the warning filters, and reports overflow
in the trace instead of raising.
"""

from engine.functions import ACTIVATIONS, LOSSES
from engine.model import KINDS, Model, build, param_shapes
from engine.simulate import SCORED, simulate
from engine.stack import StackedModel, stack, unstack
from engine.trace import Trace

__all__ = [
    "ACTIVATIONS",
    "KINDS",
    "LOSSES",
    "SCORED",
    "Model",
    "StackedModel",
    "Trace",
    "build",
    "param_shapes",
    "simulate",
    "stack",
    "unstack",
]
