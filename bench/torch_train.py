"""PyTorch's training loop for an engine model: the twin that bench/train_vs_torch.py
compares with step by step and bench/engine_train.py times.

One update is PyTorch's usual loop: zero_grad, the fused `nn.RNN` / `nn.GRU` /
`nn.LSTM` over the batch (time first), a linear readout, the loss under the
contract's conventions (L_t summed over the scored steps, the mean over the
batch), backward, `clip_grad_norm_`, `optimizer.step()`. Truncated BPTT runs
the module chunk by chunk and detaches the state in between.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

TORCH_MODULES = {"rnn": nn.RNN, "gru": nn.GRU, "lstm": nn.LSTM}
RECURRENT_PARAMS = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")


class TorchTwin:
    """Torch modules holding an engine model's parameters, in ``dtype``."""

    def __init__(self, model, dtype=torch.float64):
        if model.kind not in TORCH_MODULES or model.bidirectional:
            raise ValueError(f"no fused torch module for {model.kind!r}")
        self.kind = model.kind
        self.dtype = dtype
        options = {"nonlinearity": model.activation} if model.kind == "rnn" else {}
        self.recurrent = TORCH_MODULES[model.kind](
            model.input_size, model.hidden_size, **options, dtype=dtype
        )
        self.readout = nn.Linear(model.hidden_size, model.output_size, dtype=dtype)
        with torch.no_grad():
            for name in RECURRENT_PARAMS:
                getattr(self.recurrent, name + "_l0").copy_(torch.from_numpy(model.params[name]))
            self.readout.weight.copy_(torch.from_numpy(model.params["weight_out"]))
            self.readout.bias.copy_(torch.from_numpy(model.params["bias_out"]))

    def parameters(self):
        return [*self.recurrent.parameters(), *self.readout.parameters()]

    def named_arrays(self):
        """Every parameter under the engine's name, as float64 NumPy arrays."""
        arrays = {
            name: getattr(self.recurrent, name + "_l0").detach().double().numpy().copy()
            for name in RECURRENT_PARAMS
        }
        arrays["weight_out"] = self.readout.weight.detach().double().numpy().copy()
        arrays["bias_out"] = self.readout.bias.detach().double().numpy().copy()
        return arrays

    def tensor(self, array):
        return torch.from_numpy(np.ascontiguousarray(array)).to(self.dtype)

    def loss(self, inputs, targets, loss, scored, truncate=None):
        """L for inputs (T, B, D) tensors, the contract's way."""
        T = inputs.shape[0]
        chunk = T if truncate is None else truncate
        state, readouts = None, []
        for start in range(0, T, chunk):
            hidden, state = self.recurrent(inputs[start : start + chunk], state)
            readouts.append(self.readout(hidden))
            if isinstance(state, tuple):
                state = tuple(s.detach() for s in state)
            else:
                state = state.detach()
        p = torch.cat(readouts)  # (T, B, O)
        if scored == "last":
            p, targets = p[-1], targets if targets.dim() == 2 else targets[-1]
        if loss == "mse":
            per_step = 0.5 * (p - targets).square().sum(-1)
        elif loss == "cross_entropy":
            per_step = -(targets * torch.log_softmax(p, dim=-1)).sum(-1)
        else:
            raise ValueError(f"loss {loss!r} not in this twin")
        if scored == "all":
            per_step = per_step.sum(0)
        return per_step.mean()

    def update(self, optimizer, inputs, targets, loss, scored, clip=None, truncate=None):
        """One update; returns (loss, grad_norm before clipping, clip_scale) as floats."""
        optimizer.zero_grad(set_to_none=True)
        value = self.loss(inputs, targets, loss, scored, truncate)
        value.backward()
        parameters = self.parameters()
        if clip is None:
            norm = torch.linalg.vector_norm(
                torch.stack([torch.linalg.vector_norm(p.grad) for p in parameters])
            )
            scale = 1.0
        else:
            norm = nn.utils.clip_grad_norm_(parameters, clip)
            scale = min(1.0, clip / (float(norm) + 1e-6))
        optimizer.step()
        return float(value.detach()), float(norm), scale


def torch_optimizer(name, parameters, **options):
    """torch.optim.SGD or Adam with the engine optimizer's options."""
    if name == "sgd":
        return torch.optim.SGD(parameters, **options)
    return torch.optim.Adam(parameters, **options)
