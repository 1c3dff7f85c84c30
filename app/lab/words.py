"""The sentences beside the lab's charts, each number taken from the run it describes."""

from __future__ import annotations

import numpy as np

from app.lab.cliff import Descents
from app.lab.training import LOSS_CAP, SOLVED_SHARE, Training
from app.text import sci


def _latest(values: list) -> np.ndarray | None:
    return np.asarray(values[-1]) if values else None


def loss_words(run: Training) -> list[str]:
    baseline = run.validation.baseline
    bar = SOLVED_SHARE[run.settings.task] * baseline
    said = [
        f"The dotted line is what learning nothing scores: the best constant answer, "
        f"L = {baseline:.3g}. Below it a network has learned something; at or under "
        f"{bar:.2g} ({SOLVED_SHARE[run.settings.task]:.0%} of it) this page counts the task "
        "as solved."
    ]
    for line, kept in run.history.items():
        latest = _latest(kept.validation)
        if latest is None:
            continue
        value = float(np.nanmin(latest)) if np.isfinite(latest).any() else float("inf")
        solved = [u for u in run.solved_at(line) if u is not None]
        diverged = bool(np.any(_latest(kept.diverged)))
        if diverged:
            state = (
                "diverged: its loss overflowed, and its weights stay where they last were finite"
            )
        elif solved:
            state = f"solved at update {min(solved)}"
        elif value >= 0.9 * baseline:
            state = "still at the baseline: it has learned nothing yet"
        else:
            state = "below the baseline, not yet solved"
        shown = sci(min(value, LOSS_CAP))
        said.append(f"**{line.name}**: validation loss {shown} after {run.done} updates, {state}.")
    return said


def grad_words(run: Training) -> list[str]:
    theta = run.settings.clip
    said = [
        "Each update's gradient norm ‖∂L/∂θ‖ over every weight, before clipping: "
        "an exploding gradient shows as a spike of many powers of ten."
    ]
    for line, kept in run.history.items():
        norms = kept.array("grad_norm")
        scales = kept.array("clip_scale")
        if not norms.size:
            continue
        finite = norms[np.isfinite(norms)]
        top = sci(float(finite.max())) if finite.size else "∞"
        clipped = int((scales < 1.0).sum()) if line.without != "clip" and theta else 0
        text = f"**{line.name}**: largest {top}"
        if theta and line.without != "clip":
            text += f"; clipped at θ = {theta:g} in {clipped} of {norms.size} updates"
        said.append(text + ".")
    if theta:
        said.append("Clipping keeps the direction and scales the step: g ← g · min(1, θ/‖g‖).")
    return said


def radius_words(run: Training) -> list[str]:
    said = [
        "ρ(W_hh), the largest |eigenvalue| of the recurrent weights: above 1 the "
        "product of Jacobians can grow with every step back, below 1 it shrinks."
    ]
    for line, kept in run.history.items():
        radii = kept.array("spectral_radius")
        if not radii.size:
            continue
        first, last = radii[0].max(axis=-1), radii[-1].max(axis=-1)
        said.append(
            f"**{line.name}**: ρ from {first.mean():.3g} to {last.mean():.3g}"
            + (f" (mean over {len(run.seeds)} seeds)" if len(run.seeds) > 1 else "")
            + "."
        )
    if run.settings.weight_decay:
        said.append(
            f"Weight decay λ = {run.settings.weight_decay:g} adds λθ to every gradient, "
            "pulling each weight, and so ρ, towards 0."
        )
    return said


def lag_words(run: Training, line) -> list[str]:
    lags = run.history[line].array("lag_norms")
    if not lags.size:
        return []
    latest = lags[-1, 0]
    T = latest.size
    k = min(T - 1, 49)
    ratio = latest[k] / latest[0] if latest[0] > 0 else float("nan")
    return [
        "Each column is one update: how large ∂L/∂h is k steps before the last "
        "step. A gradient that vanishes turns the column dark towards the top, and "
        "what happened that far back never changes the weights.",
        f"Now, {k} steps back, the gradient is {sci(ratio)} times its size at the last step.",
    ]


def cliff_words(paths: Descents, lr: float, theta: float) -> list[str]:
    jump = np.abs(np.diff(paths.plain, axis=0)).max(axis=1)
    worst = int(np.argmax(jump))
    return [
        "L(w, b) = ½(s₅₀ − σ(0.7))² for s_t = σ(w·s_(t−1) + b), s₀ = σ(0.5) "
        "(Pascanu, Mikolov and Bengio 2013). Almost everywhere it is flat; along one "
        "ridge it drops like a cliff, and there ∂L/∂w is enormous.",
        f"With learning rate {lr:g}, the plain descent's longest step is "
        f"{sci(float(jump[worst]))} units (step {worst + 1}, where ‖g‖ = "
        f"{sci(float(paths.plain_norm[worst]))}); the clipped one (θ = {theta:g}) never "
        f"moves more than {sci(float(np.abs(np.diff(paths.clipped, axis=0)).max()))}.",
        f"After {len(paths.plain) - 1} steps: plain L = {sci(float(paths.plain_loss[-1]))}, "
        f"clipped L = {sci(float(paths.clipped_loss[-1]))}.",
    ]
