"""`engine.train` against PyTorch's loop with torch.optim, update by update.

For rnn, gru (reset_after=True, PyTorch's form) and lstm, each optimizer
(SGD with momentum and weight decay, Adam with weight decay) and a few tasks
(adding, clipped; text, clipped and truncated; sine), both sides start from the
same parameters and get the same batches. After every update the loss, the
gradient norm before clipping, the clip scale and every parameter are compared;
the worst relative error of each must be ≤ 1e-8 (float64 on both sides).

Usage (from the repository root):

    .venv/bin/python bench/train_vs_torch.py

Exit status 1 when any comparison fails.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the engine package first

import numpy as np
import torch
from torch_train import TorchTwin, torch_optimizer

import engine

TOLERANCE = 1e-8
UPDATES = 15
HIDDEN = 8
BATCH = 8
OPTIMIZERS = {
    "sgd": {"lr": 0.1, "momentum": 0.9, "weight_decay": 1e-3},
    "adam": {"lr": 1e-2, "betas": (0.8, 0.99), "eps": 1e-8, "weight_decay": 1e-3},
}
TASKS = [  # name, steps, options, clip, truncate
    ("adding", 20, {}, 0.5, None),
    ("text", 15, {}, 2.0, 5),
    ("sine", 12, {"period": (8.0, 20.0)}, None, None),
]


def relative(actual, reference):
    actual, reference = np.asarray(actual, float), np.asarray(reference, float)
    scale = np.linalg.norm(reference)
    difference = np.linalg.norm(actual - reference)
    return float(difference / scale) if scale > 0 else float(difference)


def compare(kind, optimizer_name, task_name, steps, options, clip, truncate):
    """Worst relative error of each compared quantity over the updates."""
    sample = engine.tasks.make(task_name, steps, BATCH, seed=0, **options)
    model = engine.build(
        kind,
        sample.inputs.shape[-1],
        HIDDEN,
        sample.targets.shape[-1],
        seed=1,
        **({"reset_after": True} if kind == "gru" else {}),
    )
    twin = TorchTwin(model)
    settings = OPTIMIZERS[optimizer_name]
    engine_optimizer = (engine.SGD if optimizer_name == "sgd" else engine.Adam)(**settings)
    reference_optimizer = torch_optimizer(optimizer_name, twin.parameters(), **settings)

    def task_maker(u):
        return engine.tasks.make(task_name, steps, BATCH, seed=100 + u, **options)

    worst = {"loss": 0.0, "grad_norm": 0.0, "clip_scale": 0.0, "params": 0.0}
    records = engine.train(
        model, task_maker, engine_optimizer, UPDATES, clip=clip, truncate=truncate
    )
    for u, record in enumerate(records):
        task = task_maker(u)
        loss, norm, scale = twin.update(
            reference_optimizer,
            twin.tensor(task.inputs),
            twin.tensor(task.targets),
            task.loss,
            task.scored,
            clip=clip,
            truncate=truncate,
        )
        worst["loss"] = max(worst["loss"], relative(record.loss, loss))
        worst["grad_norm"] = max(worst["grad_norm"], relative(record.grad_norm, norm))
        worst["clip_scale"] = max(worst["clip_scale"], relative(record.clip_scale, scale))
        for name, value in twin.named_arrays().items():
            worst["params"] = max(worst["params"], relative(model.params[name], value))
    return worst


def main() -> int:
    torch.set_num_threads(1)
    failures = 0
    print(f"{'kind':5} {'optim':5} {'task':7} {'clip':>5} {'trunc':>5}  worst relative error")
    for kind in ("rnn", "gru", "lstm"):
        for optimizer_name in OPTIMIZERS:
            for task_name, steps, options, clip, truncate in TASKS:
                worst = compare(kind, optimizer_name, task_name, steps, options, clip, truncate)
                bad = [k for k, v in worst.items() if not v <= TOLERANCE]
                failures += bool(bad)
                errors = "  ".join(f"{k} {v:.1e}" for k, v in worst.items())
                verdict = "ok" if not bad else "FAIL: " + ", ".join(bad)
                print(
                    f"{kind:5} {optimizer_name:5} {task_name:7} {clip!s:>5} {truncate!s:>5}  "
                    f"{errors}  {verdict}",
                    flush=True,
                )
    print(
        f"{UPDATES} updates each, H = {HIDDEN}, B = {BATCH}; tolerance {TOLERANCE:g}: "
        + ("all agree." if not failures else f"{failures} configurations disagree.")
    )
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
