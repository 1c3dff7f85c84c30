"""A slow, forward-only reference for the engine contract, written from it alone.

It shares no code with `engine/`: the tests compare the engine's forward values
with it, and its finite differences with the engine's gradients.

Everything is float64 NumPy, one sequence at a time, an explicit loop over time,
one function per cell kind, with the contract's symbols. The only departure from
the plainest code is a leading *copies* axis N on the parameters and states: a
finite-difference test runs hundreds of slightly perturbed copies of one network
side by side, and each copy is computed exactly as a lone network would be.

Two hooks serve finite differences:

* `frozen`: with `truncate=k`, a run records the state handed from one chunk
  to the next (`Run.handed`); a later run given those records starts every
  chunk but the first from them, so a perturbation cannot cross a chunk
  boundary, which is what "the handed state carries no gradient" means.
* `nudges`: an additive perturbation of `h_t` (after it is computed, before the
  readout and the next step read it) or of an LSTM's `c_t` (before
  `h_t = o⊙act(c_t)` is computed from it), for one direction, step, sequence
  and unit. A central difference of the loss then gives `∂L/∂h_t` (`∂L/∂c_t`)
  through the later steps of its chunk only, as BPTT delivers it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

DIRECTIONS = ("forward", "reverse")

# PyTorch's gate order: rows of weight_ih, weight_hh, bias_ih, bias_hh.
GATE_ORDER = {
    "rnn": ("h",),
    "jordan": ("h",),
    "gru": ("r", "z", "n"),
    "mgu": ("f", "n"),
    "lstm": ("i", "f", "g", "o"),
    "lstm_without_forget_gate": ("i", "g", "o"),
}


def sigmoid(z):
    """The logistic function, computed without overflow: σ(z) = exp(−log(1+e^−z))."""
    return np.exp(-np.logaddexp(0.0, -z))


ACTIVATIONS = {
    "tanh": np.tanh,
    "relu": lambda z: np.maximum(z, 0.0),
    "sigmoid": sigmoid,
    "linear": lambda z: z,
}


@dataclass(frozen=True)
class Model:
    """What `engine.build` is told, apart from sizes and seed."""

    kind: str
    activation: str = "tanh"
    bidirectional: bool = False
    forget_gate: bool = True
    reset_after: bool = False

    @property
    def gates(self) -> tuple[str, ...]:
        if self.kind == "lstm" and not self.forget_gate:
            return GATE_ORDER["lstm_without_forget_gate"]
        return GATE_ORDER[self.kind]

    @property
    def directions(self) -> tuple[str, ...]:
        return DIRECTIONS if self.bidirectional else DIRECTIONS[:1]


def parameter_shapes(model: Model, input_size, hidden_size, output_size):
    """The contract's parameter table: `{name: shape}`."""
    D, H, n_out = input_size, hidden_size, output_size
    G = len(model.gates)
    recurrent = {
        "weight_ih": (G * H, D),
        "weight_hh": (H, n_out) if model.kind == "jordan" else (G * H, H),
        "bias_ih": (G * H,),
        "bias_hh": (G * H,),
    }
    shapes = dict(recurrent)
    if model.bidirectional:
        shapes.update({f"{name}_reverse": s for name, s in recurrent.items()})
    features = 2 * H if model.bidirectional else H
    shapes["weight_out"] = (n_out, features)
    shapes["bias_out"] = (n_out,)
    return shapes


# ---------------------------------------------------------------- cells


def matvec(W, v):
    """`W v` for `W` (N, R, C) and `v` (N, C) or (C,): (N, R)."""
    return (W @ v[..., None])[..., 0]


class GateInputs:
    """Each gate's two pre-activation parts, read from the stacked parameters.

    `p` holds one direction's `weight_ih` (N, G·H, D), `weight_hh` (N, G·H, S),
    `bias_ih`, `bias_hh` (N, G·H); gate k owns rows k·H … (k+1)·H − 1.
    """

    def __init__(self, p, gate_names):
        self.p = p
        self.gate_names = gate_names
        self.H = p["bias_ih"].shape[-1] // len(gate_names)

    def _rows(self, gate):
        k = self.gate_names.index(gate)
        return slice(k * self.H, (k + 1) * self.H)

    def from_input(self, gate, x):
        """`W_i· x + b_i·`: (N, H)."""
        rows = self._rows(gate)
        return matvec(self.p["weight_ih"][:, rows, :], x) + self.p["bias_ih"][:, rows]

    def from_state(self, gate, s):
        """`W_h· s + b_h·`: (N, H)."""
        rows = self._rows(gate)
        return matvec(self.p["weight_hh"][:, rows, :], s) + self.p["bias_hh"][:, rows]


# Every step function takes x (D,), the previous state's arrays (N, ·) and
# `act`, and returns the new state, the gates {contract name: (N, H)} and the
# list of arrays handed to `act` (so a test can keep them away from relu's kink).


def elman_step(w: GateInputs, x, h_prev, act):
    """`h_t = act(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)`; Jordan passes y_{t-1}."""
    a = w.from_input("h", x) + w.from_state("h", h_prev)
    return act(a), {}, [a]


def gru_step(w: GateInputs, x, h_prev, act, *, reset_after):
    """GRU; `reset_after` puts the reset gate after `W_hn` (PyTorch) or before (Cho)."""
    r = sigmoid(w.from_input("r", x) + w.from_state("r", h_prev))
    z = sigmoid(w.from_input("z", x) + w.from_state("z", h_prev))
    if reset_after:
        a_n = w.from_input("n", x) + r * w.from_state("n", h_prev)
    else:
        a_n = w.from_input("n", x) + w.from_state("n", r * h_prev)
    n = act(a_n)
    h = z * h_prev + (1.0 - z) * n
    return h, {"reset": r, "update": z, "candidate": n}, [a_n]


def mgu_step(w: GateInputs, x, h_prev, act):
    """Minimal GRU: one forget gate `f` plays both reset and update."""
    f = sigmoid(w.from_input("f", x) + w.from_state("f", h_prev))
    a_n = w.from_input("n", x) + w.from_state("n", f * h_prev)
    n = act(a_n)
    h = f * h_prev + (1.0 - f) * n
    return h, {"forget": f, "candidate": n}, [a_n]


def lstm_step(w: GateInputs, x, h_prev, c_prev, act, *, forget_gate, nudge_c):
    """LSTM; `nudge_c` (N, H) is added to `c_t` before `h_t` is read from it."""
    i = sigmoid(w.from_input("i", x) + w.from_state("i", h_prev))
    a_g = w.from_input("g", x) + w.from_state("g", h_prev)
    g = act(a_g)
    o = sigmoid(w.from_input("o", x) + w.from_state("o", h_prev))
    if forget_gate:
        f = sigmoid(w.from_input("f", x) + w.from_state("f", h_prev))
        c = f * c_prev + i * g
        gates = {"input": i, "forget": f, "candidate": g, "output": o}
    else:
        c = c_prev + i * g
        gates = {"input": i, "candidate": g, "output": o}
    c = c + nudge_c
    h = o * act(c)
    return h, c, gates, [a_g, c]


# ---------------------------------------------------------------- losses


def output(loss, p):
    """The loss's link: `y` (N, O) from readouts `p` (N, O)."""
    if loss == "mse":
        return p
    if loss == "bce":
        return sigmoid(p)
    if loss == "cross_entropy":
        return np.exp(log_softmax(p))
    raise ValueError(f"loss: expected mse, bce or cross_entropy, got {loss!r}")


def log_softmax(p):
    """`log softmax(p)` over the last axis, computed without overflow."""
    shifted = p - np.max(p, axis=-1, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=-1, keepdims=True))


def step_loss(loss, p, target):
    """`L_t` (N,) from readouts `p` (N, O) and `target` (O,), stably from logits."""
    if loss == "mse":
        return 0.5 * np.sum((p - target) ** 2, axis=-1)
    if loss == "bce":
        # −log σ(p) = log(1 + e^−p) and −log(1 − σ(p)) = log(1 + e^p).
        per_unit = target * np.logaddexp(0.0, -p) + (1 - target) * np.logaddexp(0.0, p)
        return np.sum(per_unit, axis=-1)
    if loss == "cross_entropy":
        return -np.sum(target * log_softmax(p), axis=-1)
    raise ValueError(f"loss: expected mse, bce or cross_entropy, got {loss!r}")


# ---------------------------------------------------------------- one direction


@dataclass
class DirectionRun:
    """One direction over one sequence, in that direction's reading order s.

    `hidden`, `cell` and each gate are (T, N, H); `handed[s]` is the state
    (tuple of (N, ·) arrays) that chunk starting at step s received.
    """

    hidden: np.ndarray
    cell: np.ndarray | None
    gates: dict[str, np.ndarray]
    handed: dict[int, tuple]
    activation_inputs: list[np.ndarray]


def run_direction(model, p, readout, xs, h0, *, loss, truncate, frozen, nudge_h, nudge_c):
    """Run one direction of one sequence over N copies.

    p: this direction's recurrent parameters without suffix, each (N, ·).
    readout: `weight_out` (N, O, H) and `bias_out` (N, O) (used by Jordan only).
    xs: inputs (T, D) in reading order; h0: (H,).
    frozen: `{s: state}` recorded by a one-copy run (`simulate`), or None.
    nudge_h, nudge_c: (N, T, H) in reading order, added to h_s and c_s.
    """
    N, T = nudge_h.shape[0], xs.shape[0]
    act = ACTIVATIONS[model.activation]
    w = GateInputs(p, model.gates)
    if model.kind == "jordan":
        state = (np.zeros_like(readout["bias_out"]),)  # y_{-1} = 0, (N, O)
    elif model.kind == "lstm":
        state = (np.broadcast_to(h0, (N, h0.size)), np.zeros((N, h0.size)))
    else:
        state = (np.broadcast_to(h0, (N, h0.size)),)

    hidden, cells, gate_steps, handed, activation_inputs = [], [], [], {}, []
    for s in range(T):
        if truncate is not None and s > 0 and s % truncate == 0:
            handed[s] = state
            if frozen is not None:
                state = tuple(np.broadcast_to(a[0], (N, a.shape[-1])) for a in frozen[s])
        x = xs[s]
        if model.kind in ("rnn", "jordan"):
            h, gates, act_in = elman_step(w, x, state[0], act)
        elif model.kind == "gru":
            h, gates, act_in = gru_step(w, x, state[0], act, reset_after=model.reset_after)
        elif model.kind == "mgu":
            h, gates, act_in = mgu_step(w, x, state[0], act)
        elif model.kind == "lstm":
            h, c, gates, act_in = lstm_step(
                w,
                x,
                state[0],
                state[1],
                act,
                forget_gate=model.forget_gate,
                nudge_c=nudge_c[:, s],
            )
        else:
            raise ValueError(f"kind: unknown {model.kind!r}")
        h = h + nudge_h[:, s]

        if model.kind == "jordan":
            p_s = matvec(readout["weight_out"], h) + readout["bias_out"]
            state = (output(loss, p_s),)
        elif model.kind == "lstm":
            state = (h, c)
            cells.append(c)
        else:
            state = (h,)
        hidden.append(h)
        gate_steps.append(gates)
        activation_inputs.extend(act_in)

    return DirectionRun(
        hidden=np.stack(hidden),
        cell=np.stack(cells) if cells else None,
        gates={name: np.stack([g[name] for g in gate_steps]) for name in gate_steps[0]},
        handed=handed,
        activation_inputs=activation_inputs,
    )


# ---------------------------------------------------------------- whole runs


@dataclass
class Run:
    """A reference run over a batch, N copies; fields named as `engine.Trace`.

    Per-step fields are (T, B, N, ·) here (`loss` is (N,)); `Run.single()`
    drops N and, for unbatched input, B, to give the engine's shapes.
    `handed[(b, direction)]` holds the chunk-boundary states for `frozen`.
    """

    hidden: dict[str, np.ndarray]
    cell: dict[str, np.ndarray | None]
    gates: dict[str, dict[str, np.ndarray]]
    outputs: np.ndarray
    loss: np.ndarray
    handed: dict = field(default_factory=dict)
    activation_inputs: list[np.ndarray] = field(default_factory=list)
    batched: bool = True

    def single(self, copy=0):
        """Fields of one copy in the engine's shapes: (T, H) or (T, B, H)."""

        def pick(a):
            if a is None:
                return None
            a = a[:, :, copy]
            return a if self.batched else a[:, 0]

        return {
            "hidden": {d: pick(a) for d, a in self.hidden.items()},
            "cell": {d: pick(a) for d, a in self.cell.items()},
            "gates": {d: {name: pick(a) for name, a in g.items()} for d, g in self.gates.items()},
            "outputs": pick(self.outputs),
            "loss": float(self.loss[copy]),
        }


def initial_states(model, h0, batched, batch, hidden_size):
    """`h0` in any form the contract accepts, as `{(b, direction): (H,)}`.

    (H,) serves everyone; (B, H) one per sequence; a bidirectional model also
    takes (2, H), or (2, B, H) with a batch: forward first, then reverse.
    """
    h0 = np.zeros(hidden_size) if h0 is None else np.asarray(h0, dtype=np.float64)
    one_per_direction = model.bidirectional and h0.ndim == (3 if batched else 2)
    states = {}
    for k, direction in enumerate(model.directions):
        h = h0[k] if one_per_direction else h0
        for b in range(batch):
            states[(b, direction)] = h if h.ndim == 1 else h[b]
    return states


def simulate_copies(
    model,
    params,
    inputs,
    targets,
    *,
    loss="mse",
    scored="all",
    truncate=None,
    h0=None,
    frozen=None,
    nudges=None,
):
    """Run N copies of a network (each parameter (N, ·)) over the same data.

    inputs: (T, D) or (T, B, D); targets: (T, O) or (T, B, O) (or (O,), (B, O)
    with scored="last"). frozen: `Run.handed` of an unperturbed run.
    nudges: `{("hidden" | "cell", direction): (N, T, B, H)}` (B = 1 unbatched).
    L is the mean over the batch of each sequence's loss.
    """
    inputs = np.asarray(inputs, dtype=np.float64)
    targets = np.asarray(targets, dtype=np.float64)
    batched = inputs.ndim == 3
    if not batched:
        inputs, targets = inputs[:, None], targets[..., None, :]
    T, B, _ = inputs.shape
    if targets.ndim == 2:  # scored="last" with a target only for the last step
        targets = np.broadcast_to(targets, (T, *targets.shape))
    N = params["bias_out"].shape[0]
    H = params["bias_ih"].shape[-1] // len(model.gates)
    nudges = nudges or {}
    h0s = initial_states(model, h0, batched, B, H)
    readout = {"weight_out": params["weight_out"], "bias_out": params["bias_out"]}

    hidden = {d: [] for d in model.directions}
    cell = {d: [] for d in model.directions}
    gates = {d: [] for d in model.directions}
    outputs, losses, handed, activation_inputs = [], [], {}, []
    for b in range(B):
        features = []
        for direction in model.directions:
            suffix = "_reverse" if direction == "reverse" else ""
            p = {
                name: params[name + suffix]
                for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
            }
            order = slice(None, None, -1) if direction == "reverse" else slice(None)
            no_nudge = np.zeros((N, T, B, H))
            nudge_h = nudges.get(("hidden", direction), no_nudge)[:, :, b]
            nudge_c = nudges.get(("cell", direction), no_nudge)[:, :, b]
            run = run_direction(
                model,
                p,
                readout,  # read by Jordan only, which is never bidirectional
                inputs[order, b],
                h0s[(b, direction)],
                loss=loss,
                truncate=truncate,
                frozen=None if frozen is None else frozen[(b, direction)],
                nudge_h=nudge_h[:, order],
                nudge_c=nudge_c[:, order],
            )
            # Back from reading order to input order: position t belongs to input t.
            hidden[direction].append(run.hidden[order])
            cell[direction].append(None if run.cell is None else run.cell[order])
            gates[direction].append({k: v[order] for k, v in run.gates.items()})
            handed[(b, direction)] = run.handed
            activation_inputs.extend(run.activation_inputs)
            features.append(run.hidden[order])

        features = np.concatenate(features, axis=-1)  # (T, N, H) or (T, N, 2H)
        ys, step_losses = [], []
        for t in range(T):
            p_t = matvec(params["weight_out"], features[t]) + params["bias_out"]
            ys.append(output(loss, p_t))
            step_losses.append(step_loss(loss, p_t, targets[t, b]))
        outputs.append(np.stack(ys))
        if scored == "all":
            losses.append(np.sum(step_losses, axis=0))
        elif scored == "last":
            losses.append(step_losses[T - 1])
        else:
            raise ValueError(f"scored: expected 'all' or 'last', got {scored!r}")

    def over_batch(arrays):  # B × (T, N, ·) -> (T, B, N, ·)
        return None if arrays[0] is None else np.stack(arrays, axis=1)

    return Run(
        hidden={d: over_batch(a) for d, a in hidden.items()},
        cell={d: over_batch(a) for d, a in cell.items()},
        gates={
            d: {name: over_batch([g[name] for g in gs]) for name in gs[0]}
            for d, gs in gates.items()
        },
        outputs=over_batch(outputs),
        loss=np.mean(losses, axis=0),
        handed=handed,
        activation_inputs=activation_inputs,
        batched=batched,
    )


def simulate(model, params, inputs, targets, **options):
    """One network (parameters as in the contract); see `simulate_copies`."""
    stacked = {name: np.asarray(a, dtype=np.float64)[None] for name, a in params.items()}
    return simulate_copies(model, stacked, inputs, targets, **options)
