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

Training (the contract's "Training" section):

    task = engine.tasks.make(name, steps, batch, *, seed=0, **options)   # -> engine.Task
    opt = engine.SGD(lr, momentum=0.0, weight_decay=0.0)
    opt = engine.Adam(lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0)
    opt.step(model, grads)                                   # model.params in place
    for record in engine.train(model, task_maker, opt, updates, *,
                               clip=None, truncate=None, every=1):   # engine.TrainRecord
        ...
    loss, outputs = engine.evaluate(model, inputs, targets, *, loss="mse", scored="all")

Tasks: "adding", "copy", "sine", "text" (options in ``engine.tasks``).
Extensions: ``Task.name``; ``TrainRecord.spectral_radius_reverse`` and
``lag_norms_reverse`` for a bidirectional model; ``evaluate`` takes ``h0``
and returns an ``Evaluation`` (a named pair); ``engine.spectral_radius``.

``reuse`` extends the contract: an earlier Trace whose forward steps the new
run shares are copied from it, not computed (see ``simulate``); the trace is
the same either way.

Arrays are NumPy float64, time first. The engine imports nothing but NumPy, never
touches NumPy's global error state or the warning filters, and reports overflow
in the trace instead of raising.
"""

from engine import tasks
from engine.evaluate import Evaluation, evaluate
from engine.functions import ACTIVATIONS, LOSSES
from engine.model import KINDS, Model, build, param_shapes
from engine.optim import SGD, Adam
from engine.simulate import SCORED, simulate
from engine.stack import StackedModel, stack, unstack
from engine.tasks import Task
from engine.trace import Trace
from engine.train import TrainRecord, spectral_radius, train

__all__ = [
    "ACTIVATIONS",
    "KINDS",
    "LOSSES",
    "SCORED",
    "SGD",
    "Adam",
    "Evaluation",
    "Model",
    "StackedModel",
    "Task",
    "Trace",
    "TrainRecord",
    "build",
    "evaluate",
    "param_shapes",
    "simulate",
    "spectral_radius",
    "stack",
    "tasks",
    "train",
    "unstack",
]
