"""The engine's forward values and gradients against an independent route.

For every combination of cell kind, activation, loss, scoring, truncation,
direction and batching, a small seeded network is run twice: by the engine,
and by `tests/reference.py`, a slow forward-only implementation written from
the contract alone. The forward fields must agree to 1e-10; every gradient the
engine reports (`grads`, `grad_hidden`, `grad_cell` and their `_reverse`) must
agree to 1e-6 with central finite differences of the reference's loss.

Errors are norm-wise relative per array: ‖a − b‖ / max(‖a‖, ‖b‖, 1e-12).
"""

from __future__ import annotations

import functools
import zlib
from dataclasses import dataclass

import numpy as np
import pytest

import engine
from tests import reference

D, H, T = 2, 3, 5  # T = 5 leaves a partial chunk with truncate=3
OUTPUTS = 2  # so that softmax is not trivial
BATCH = 3

# At 1e-6, rounding in the loss (about 1e-16·L/STEP) already reaches 1e-6 of
# the smallest gradient arrays (norm ~3e-4); 1e-5 keeps both rounding and the
# O(STEP²) truncation error near 1e-7 of them at worst.
STEP = 1e-5
GRADIENT_TOLERANCE = 1e-6
FORWARD_TOLERANCE = 1e-10
KINK_MARGIN = 1e-3  # relu inputs stay this far from 0, far beyond any STEP effect
LIVE_FRACTION = 1 / 3  # and at least this share of them positive: no dead network

KINDS = {  # test label: engine.build's keyword arguments
    "rnn": {"kind": "rnn"},
    "jordan": {"kind": "jordan"},
    "gru": {"kind": "gru", "reset_after": False},
    "gru_reset_after": {"kind": "gru", "reset_after": True},
    "mgu": {"kind": "mgu"},
    "lstm": {"kind": "lstm", "forget_gate": True},
    "lstm_no_forget_gate": {"kind": "lstm", "forget_gate": False},
}
ACTIVATIONS = ("tanh", "relu", "sigmoid", "linear")
LOSSES = ("mse", "bce", "cross_entropy")
SCORINGS = ("all", "last")
TRUNCATIONS = (None, 1, 3)


@dataclass(frozen=True)
class Combination:
    """One point of the sweep; `batch` None means unbatched (T, D) inputs."""

    kind_label: str
    activation: str
    loss: str
    scored: str
    truncate: int | None
    bidirectional: bool
    batch: int | None

    @property
    def id(self) -> str:
        return "-".join(
            [
                self.kind_label,
                self.activation,
                self.loss,
                f"scored_{self.scored}",
                "full_bptt" if self.truncate is None else f"truncate{self.truncate}",
                "bidirectional" if self.bidirectional else "unidirectional",
                "unbatched" if self.batch is None else f"batch{self.batch}",
            ]
        )

    @property
    def model(self) -> reference.Model:
        return reference.Model(
            activation=self.activation,
            bidirectional=self.bidirectional,
            **KINDS[self.kind_label],
        )


def all_combinations():
    for kind_label in KINDS:
        for bidirectional in (False, True):
            if kind_label == "jordan" and bidirectional:
                continue  # the contract forbids a bidirectional Jordan network
            for activation in ACTIVATIONS:
                for loss in LOSSES:
                    for scored in SCORINGS:
                        for truncate in TRUNCATIONS:
                            for batch in (None, BATCH):
                                yield Combination(
                                    kind_label,
                                    activation,
                                    loss,
                                    scored,
                                    truncate,
                                    bidirectional,
                                    batch,
                                )


COMBINATIONS = [pytest.param(c, id=c.id) for c in all_combinations()]


# ---------------------------------------------------------------- cases


@dataclass(frozen=True)
class Case:
    """One network and its data. params as in the contract; inputs (T, D) or
    (T, B, D); targets (T, O) or (T, B, O); h0 None, (H,)/(2, H) or
    (B, H)/(2, B, H)."""

    combination: Combination
    params: dict[str, np.ndarray]
    inputs: np.ndarray
    targets: np.ndarray
    h0: np.ndarray | None

    @property
    def options(self) -> dict:
        c = self.combination
        return {
            "loss": c.loss,
            "scored": c.scored,
            "truncate": c.truncate,
            "h0": self.h0,
        }


def draw_case(c: Combination, rng: np.random.Generator) -> Case:
    """Random parameters, inputs, targets suited to the loss, and half the time
    a random h0 (one per direction and sequence)."""
    model = c.model
    shapes = reference.parameter_shapes(model, D, H, OUTPUTS)
    params = {name: rng.uniform(-0.9, 0.9, shape) for name, shape in shapes.items()}
    if model.kind == "lstm" and model.activation == "relu":
        # c_0 = i⊙relu(a_g) is exactly 0, on relu's kink, for a unit whose
        # first a_g is negative: lift the candidate's bias to avoid that.
        g = model.gates.index("g")
        for name in shapes:
            if name.startswith("bias_ih"):
                params[name][g * H : (g + 1) * H] += 1.0

    sequences = () if c.batch is None else (c.batch,)
    inputs = rng.normal(0.0, 1.0, (T, *sequences, D))
    if c.loss == "mse":
        targets = rng.normal(0.0, 1.0, (T, *sequences, OUTPUTS))
    elif c.loss == "bce":
        targets = rng.uniform(0.05, 0.95, (T, *sequences, OUTPUTS))
    elif rng.random() < 0.5:  # cross_entropy: a probability vector …
        targets = rng.dirichlet(np.ones(OUTPUTS), (T, *sequences))
    else:  # … or a one-hot one
        targets = np.eye(OUTPUTS)[rng.integers(0, OUTPUTS, (T, *sequences))]

    h0 = None
    if rng.random() < 0.5:
        directions = (2,) if c.bidirectional else ()
        h0 = rng.normal(0.0, 0.5, (*directions, *sequences, H))
    return Case(c, params, inputs, targets, h0)


def relu_is_safe(case: Case) -> bool:
    """Whether relu's inputs all keep KINK_MARGIN away from 0 (where finite
    differences would straddle the kink) and enough of them are positive."""
    run = reference.simulate(
        case.combination.model, case.params, case.inputs, case.targets, **case.options
    )
    relu_inputs = np.concatenate([a.ravel() for a in run.activation_inputs])
    return bool(
        np.min(np.abs(relu_inputs)) > KINK_MARGIN and np.mean(relu_inputs > 0) >= LIVE_FRACTION
    )


@functools.cache
def make_case(c: Combination) -> Case:
    """A case seeded by its id; for relu, redrawn until `relu_is_safe`."""
    rng = np.random.default_rng(zlib.crc32(c.id.encode()))
    for _ in range(200):
        case = draw_case(c, rng)
        if c.activation != "relu" or relu_is_safe(case):
            return case
    raise AssertionError(f"{c.id}: no draw in 200 passes relu_is_safe")


@functools.cache
def engine_trace(c: Combination):
    case = make_case(c)
    model = engine.build(
        c.model.kind,
        D,
        H,
        OUTPUTS,
        activation=c.activation,
        bidirectional=c.bidirectional,
        forget_gate=c.model.forget_gate,
        reset_after=c.model.reset_after,
        seed=0,
    )
    expected = {name: a.shape for name, a in case.params.items()}
    actual = {name: np.shape(a) for name, a in model.params.items()}
    assert actual == expected, f"{c.id}: engine params {actual}, contract {expected}"
    for name, value in case.params.items():
        model.params[name] = value.copy()
    return engine.simulate(model, case.inputs, case.targets, **case.options)


# ---------------------------------------------------------------- finite differences


def finite_differences(case: Case) -> dict[str, np.ndarray]:
    """Central differences of the reference loss, named as the trace's fields.

    Every parameter element and every state element (h_t, and an LSTM's c_t,
    per direction, step, sequence and unit) is one probe; all probes, nudged
    up and down, run side by side as copies of the network. With truncation,
    each copy starts every chunk after the first from the unperturbed run's
    handed states, so no perturbation crosses a chunk boundary.

    Returns {"grads/<param>": like the param, "grad_hidden": (T, H) or
    (T, B, H), "grad_hidden_reverse", "grad_cell", "grad_cell_reverse"}.
    """
    c = case.combination
    model = c.model
    sequences = 1 if c.batch is None else c.batch
    unperturbed = reference.simulate(model, case.params, case.inputs, case.targets, **case.options)

    # Every probed quantity, laid end to end in one vector θ of P numbers:
    # (field of the result, shape, unperturbed value, where the reference
    # takes it: ("param", name) or ("nudge", (state, direction))).
    layout = [
        (f"grads/{name}", value.shape, value, ("param", name))
        for name, value in case.params.items()
    ]
    for state in ("hidden", "cell") if model.kind == "lstm" else ("hidden",):
        for direction in model.directions:
            suffix = "_reverse" if direction == "reverse" else ""
            shape = (T, sequences, H)
            layout.append(
                (
                    f"grad_{state}{suffix}",
                    shape,
                    np.zeros(shape),
                    ("nudge", (state, direction)),
                )
            )
    theta = np.concatenate([value.ravel() for _, _, value, _ in layout])
    probes = STEP * np.eye(theta.size)
    copies = np.concatenate([theta + probes, theta - probes])  # (2P, P)

    params, nudges, start = {}, {}, 0
    for _, shape, _, (role, key) in layout:
        size = int(np.prod(shape))
        block = copies[:, start : start + size].reshape(len(copies), *shape)
        start += size
        (params if role == "param" else nudges)[key] = block

    losses = reference.simulate_copies(
        model,
        params,
        case.inputs,
        case.targets,
        frozen=unperturbed.handed,
        nudges=nudges,
        **case.options,
    ).loss
    up, down = np.split(losses, 2)
    gradient = (up - down) / (2 * STEP)  # (P,)

    result, start = {}, 0
    for field, shape, _, (role, _) in layout:
        size = int(np.prod(shape))
        block = gradient[start : start + size].reshape(shape)
        start += size
        if role == "nudge" and c.batch is None:
            block = block[:, 0]  # (T, 1, H) -> (T, H)
        result[field] = block
    return result


# ---------------------------------------------------------------- comparison


def relative_error(a, b) -> float:
    scale = max(np.linalg.norm(a), np.linalg.norm(b), 1e-12)
    return float(np.linalg.norm(a - b) / scale)


def disagreement(name, engine_value, their_value, theirs, tolerance):
    """A description of the mismatch, or None when the arrays agree."""
    if engine_value is None:
        return f"{name}: engine gave None, {theirs} gave shape {np.shape(their_value)}"
    engine_value = np.asarray(engine_value, dtype=np.float64)
    if engine_value.shape != np.shape(their_value):
        return f"{name}: engine shape {engine_value.shape}, {theirs} shape {np.shape(their_value)}"
    error = relative_error(engine_value, their_value)
    if not error < tolerance:  # also catches NaN
        return (
            f"{name}: relative error {error:.2e} > {tolerance:.0e}\n"
            f"  engine:\n{np.array2string(engine_value, precision=10)}\n"
            f"  {theirs}:\n{np.array2string(np.asarray(their_value), precision=10)}"
        )
    return None


def assert_all_agree(c, pairs, theirs, tolerance):
    problems = [
        problem
        for name, engine_value, their_value in pairs
        if (problem := disagreement(name, engine_value, their_value, theirs, tolerance))
    ]
    if problems:
        pytest.fail(f"{c.id}: engine vs {theirs}\n" + "\n".join(problems))


# ---------------------------------------------------------------- tests


@pytest.mark.parametrize("c", COMBINATIONS)
def test_forward_fields_match_reference(c: Combination):
    case = make_case(c)
    trace = engine_trace(c)
    expected = reference.simulate(
        c.model, case.params, case.inputs, case.targets, **case.options
    ).single()

    pairs = [
        ("loss", trace.loss, expected["loss"]),
        ("outputs", trace.outputs, expected["outputs"]),
    ]
    for direction in c.model.directions:
        suffix = "_reverse" if direction == "reverse" else ""
        fields = ["hidden", "cell"] if c.model.kind == "lstm" else ["hidden"]
        pairs += [
            (f"{f}{suffix}", getattr(trace, f"{f}{suffix}"), expected[f][direction]) for f in fields
        ]
        gates = getattr(trace, f"gates{suffix}")
        expected_gates = expected["gates"][direction]
        assert sorted(gates) == sorted(expected_gates), (
            f"{c.id}: gates{suffix} named {sorted(gates)}, contract {sorted(expected_gates)}"
        )
        pairs += [
            (f"gates{suffix}[{name!r}]", gates[name], value)
            for name, value in expected_gates.items()
        ]
    assert_all_agree(c, pairs, "reference", FORWARD_TOLERANCE)

    if not c.bidirectional:
        assert trace.hidden_reverse is None, f"{c.id}: hidden_reverse is not None"
    if c.model.kind != "lstm":
        assert trace.cell is None, f"{c.id}: cell is not None"


@pytest.mark.parametrize("c", COMBINATIONS)
def test_gradients_match_finite_differences(c: Combination):
    case = make_case(c)
    trace = engine_trace(c)
    expected = finite_differences(case)

    assert sorted(trace.grads) == sorted(case.params), (
        f"{c.id}: grads named {sorted(trace.grads)}, params {sorted(case.params)}"
    )
    pairs = []
    for field, value in expected.items():
        if field.startswith("grads/"):
            name = field.removeprefix("grads/")
            pairs.append((f"grads[{name!r}]", trace.grads[name], value))
        else:
            pairs.append((field, getattr(trace, field), value))
    assert_all_agree(c, pairs, "finite differences", GRADIENT_TOLERANCE)

    if not c.bidirectional:
        assert trace.grad_hidden_reverse is None, f"{c.id}: grad_hidden_reverse set"
    if c.model.kind != "lstm":
        assert trace.grad_cell is None, f"{c.id}: grad_cell is not None"
