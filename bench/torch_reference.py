"""The PyTorch side of bench/engine.py: the same problem as a step loop with
`nn.RNNCell` / `nn.GRUCell` / `nn.LSTMCell` in float64, given the engine
model's parameters, and the check that both sides computed the same thing
(loss, hidden states, every gradient) before anything is timed."""

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType

import numpy as np
import torch
from torch import nn

INPUT_SIZE = 8
OUTPUT_SIZE = 1
SEED = 0
RECURRENT_PARAMS = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
READOUT_PARAMS = {"weight_out": "weight", "bias_out": "bias"}
TORCH_CELLS = {"rnn": nn.RNNCell, "gru": nn.GRUCell, "lstm": nn.LSTMCell}


@dataclass(frozen=True)
class Problem:
    """One configuration: the engine model, its torch twin and the data."""

    kind: str
    length: int
    hidden_size: int
    model: object
    inputs: np.ndarray  # (T, D)
    targets: np.ndarray  # (T, O)
    cell: nn.Module
    readout: nn.Linear
    inputs_torch: torch.Tensor  # (T, D)
    targets_torch: torch.Tensor  # (T, O)


def make_problem(engine: ModuleType, kind: str, length: int, hidden_size: int):
    """Build the engine model and copy its parameters into the torch modules."""
    build_options = {"reset_after": True} if kind == "gru" else {}
    model = engine.build(kind, INPUT_SIZE, hidden_size, OUTPUT_SIZE, seed=SEED, **build_options)
    rng = np.random.default_rng(SEED + 1)
    inputs = rng.standard_normal((length, INPUT_SIZE))
    targets = rng.standard_normal((length, OUTPUT_SIZE))
    cell_options = {"nonlinearity": "tanh"} if kind == "rnn" else {}
    cell = TORCH_CELLS[kind](INPUT_SIZE, hidden_size, **cell_options)
    readout = nn.Linear(hidden_size, OUTPUT_SIZE)
    with torch.no_grad():
        for name in RECURRENT_PARAMS:
            getattr(cell, name).copy_(torch.from_numpy(model.params[name]))
        for name, torch_name in READOUT_PARAMS.items():
            getattr(readout, torch_name).copy_(torch.from_numpy(model.params[name]))
    return Problem(
        kind,
        length,
        hidden_size,
        model,
        inputs,
        targets,
        cell,
        readout,
        torch.from_numpy(inputs.copy()),
        torch.from_numpy(targets.copy()),
    )


@dataclass
class TorchRun:
    loss: torch.Tensor
    hidden: list[torch.Tensor]  # T tensors (H,), each retained
    cell: list[torch.Tensor]  # LSTM only, retained when asked


def run_engine(engine: ModuleType, problem: Problem):
    return engine.simulate(problem.model, problem.inputs, problem.targets, loss="mse", scored="all")


def run_torch(problem: Problem, retain_cell: bool = False) -> TorchRun:
    """Forward through the step loop, ½ Σ squared error, `.backward()`."""
    for parameter in (*problem.cell.parameters(), *problem.readout.parameters()):
        parameter.grad = None
    hidden_size = problem.hidden_size
    h = torch.zeros(hidden_size)
    c = torch.zeros(hidden_size)
    hidden, cell = [], []
    for x_t in problem.inputs_torch:
        if problem.kind == "lstm":
            h, c = problem.cell(x_t, (h, c))
            if retain_cell:
                c.retain_grad()
                cell.append(c)
        else:
            h = problem.cell(x_t, h)
        h.retain_grad()
        hidden.append(h)
    predictions = problem.readout(torch.stack(hidden))  # (T, O)
    loss = 0.5 * (predictions - problem.targets_torch).square().sum()
    loss.backward()
    return TorchRun(loss, hidden, cell)


def relative_error(actual, reference) -> float:
    """‖actual − reference‖ / ‖reference‖ (the plain difference when zero)."""
    actual = np.asarray(actual, dtype=np.float64)
    reference = np.asarray(reference, dtype=np.float64)
    if actual.shape != reference.shape:
        return float("inf")
    difference = float(np.linalg.norm(actual - reference))
    scale = float(np.linalg.norm(reference))
    return difference / scale if scale > 0 else difference


def total_grad_cell(
    problem: Problem, reference: TorchRun, hidden: np.ndarray, grad_hidden: np.ndarray
) -> np.ndarray:
    """Torch's ∂L/∂c_t through both `h_t` and `c_{t+1}`, `(T, H)`.

    `nn.LSTMCell` returns `h_t` and `c_t` from one fused operation, so the
    retained `c_t.grad` holds only the path through `c_{t+1}` (and is `None`
    for the last step); the path through `h_t = o_t ⊙ tanh(c_t)` is added here,
    with `o_t` recomputed from torch's own states and weights.
    """
    hidden_size = problem.hidden_size
    cell = torch.stack(reference.cell).detach().numpy()
    through_next_cell = np.stack(
        [np.zeros(hidden_size) if c.grad is None else c.grad.numpy() for c in reference.cell]
    )
    previous_hidden = np.vstack([np.zeros((1, hidden_size)), hidden[:-1]])
    rows = slice(3 * hidden_size, 4 * hidden_size)  # gate order i, f, g, o
    weights = {
        name: getattr(problem.cell, name).detach().numpy()[rows] for name in RECURRENT_PARAMS
    }
    output_gate_input = (
        problem.inputs @ weights["weight_ih"].T
        + weights["bias_ih"]
        + previous_hidden @ weights["weight_hh"].T
        + weights["bias_hh"]
    )
    output_gate = 1.0 / (1.0 + np.exp(-output_gate_input))
    through_hidden = grad_hidden * output_gate * (1.0 - np.tanh(cell) ** 2)
    return through_next_cell + through_hidden


def equivalence_errors(trace, problem: Problem) -> dict[str, float]:
    """Relative error of each compared quantity, engine against torch."""
    reference = run_torch(problem, retain_cell=True)
    stacked_h = torch.stack(reference.hidden).detach().numpy()
    grad_h = np.stack([h.grad.numpy() for h in reference.hidden])
    errors = {
        "loss": relative_error(trace.loss, reference.loss.item()),
        "hidden": relative_error(trace.hidden, stacked_h),
        "grad_hidden": relative_error(trace.grad_hidden, grad_h),
    }
    if problem.kind == "lstm":
        stacked_c = torch.stack(reference.cell).detach().numpy()
        errors["cell"] = relative_error(trace.cell, stacked_c)
        errors["grad_cell"] = relative_error(
            trace.grad_cell, total_grad_cell(problem, reference, stacked_h, grad_h)
        )
    for name in RECURRENT_PARAMS:
        torch_grad = getattr(problem.cell, name).grad.numpy()
        errors[f"grads[{name}]"] = relative_error(trace.grads[name], torch_grad)
    for name, torch_name in READOUT_PARAMS.items():
        torch_grad = getattr(problem.readout, torch_name).grad.numpy()
        errors[f"grads[{name}]"] = relative_error(trace.grads[name], torch_grad)
    return errors
