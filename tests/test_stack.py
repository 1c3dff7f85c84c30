"""`engine.stack` / `engine.unstack` and stacked `engine.simulate`.

M models run as one must give, model by model, what M separate runs give:
every per-step field, gates, gradients, norms, clip scales, the first
non-finite steps and the state Jacobian norms, within 1e-12 relative (the
engine aims at the last bit, which is checked too where it holds).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import pytest

import engine

D, H, O, T, M = 2, 3, 2, 6, 3  # T = 6 with truncate=4 leaves a partial chunk
TOLERANCE = 1e-12

KINDS = {  # label: engine.build's keyword arguments
    "rnn": {"kind": "rnn"},
    "jordan": {"kind": "jordan"},
    "gru": {"kind": "gru", "reset_after": False},
    "gru_reset_after": {"kind": "gru", "reset_after": True},
    "mgu": {"kind": "mgu"},
    "lstm": {"kind": "lstm"},
    "lstm_no_forget_gate": {"kind": "lstm", "forget_gate": False},
}
ACTIVATIONS = ("tanh", "relu", "sigmoid", "linear")
LOSSES = ("mse", "bce", "cross_entropy")

PER_STEP = ("hidden", "cell", "outputs", "grad_hidden", "grad_cell")
PER_STEP += tuple(name + "_reverse" for name in ("hidden", "cell", "grad_hidden", "grad_cell"))
PER_MODEL = ("loss", "grad_norm", "clip_scale")


@dataclass(frozen=True)
class Case:
    kind: str
    bidirectional: bool
    batch: int | None
    truncate: int | None
    clipped: bool
    activation: str
    loss: str
    scored: str
    h0: str  # "none", "shared" (H,), "per_model" (M, H), "per_sequence" (M, B, H), "directions"

    def __str__(self):
        direction = "bi" if self.bidirectional else "uni"
        return (
            f"{self.kind}-{direction}-B{self.batch}-k{self.truncate}-clip{int(self.clipped)}"
            f"-{self.activation}-{self.loss}-{self.scored}-h0{self.h0}"
        )


def all_cases():
    """Every kind × direction × batch × truncation × clipping; activation, loss,
    scoring and h0's shape take turns along the product, so each is met often."""
    cases = []
    grid = itertools.product(KINDS, (False, True), (None, 2), (None, 4), (False, True))
    for n, (kind, bidirectional, batch, truncate, clipped) in enumerate(grid):
        if kind == "jordan" and bidirectional:
            continue
        shapes = ["none", "shared", "per_model"] + (["per_sequence"] if batch else [])
        shapes += ["directions"] if bidirectional else []
        cases.append(
            Case(
                kind,
                bidirectional,
                batch,
                truncate,
                clipped,
                ACTIVATIONS[n % 4],
                LOSSES[(n // 4) % 3],
                ("all", "last")[(n // 3) % 2],
                shapes[n % len(shapes)],
            )
        )
    return cases


CASES = all_cases()


def models_for(case, size=M):
    options = {k: v for k, v in KINDS[case.kind].items()}
    return [
        engine.build(
            **options,
            input_size=D,
            hidden_size=H,
            output_size=O,
            activation=case.activation,
            bidirectional=case.bidirectional,
            seed=10 + i,
        )
        for i in range(size)
    ]


def data_for(case, size=M):
    """inputs (T, M, [B,] D), targets and h0 (stacked) and model i's own of each."""
    rng = np.random.default_rng(len(str(case)))
    batch = () if case.batch is None else (case.batch,)
    x = rng.standard_normal((T, size, *batch, D))
    if case.loss == "mse":
        y = rng.standard_normal((T, size, *batch, O))
    else:  # probabilities: one-hot rows for softmax, values in [0, 1] for bce
        y = rng.uniform(size=(T, size, *batch, O))
        if case.loss == "cross_entropy":
            y = np.eye(O)[np.argmax(y, axis=-1)]
    if case.scored == "last":
        y = y[-1]  # (M, [B,] O): the short form
    shapes = {
        "none": None,
        "shared": (H,),
        "per_model": (size, H),
        "per_sequence": (size, *batch, H),
        "directions": (2, size, *batch, H),
    }
    h0 = None if shapes[case.h0] is None else rng.standard_normal(shapes[case.h0])

    def own(i):
        h = h0
        if case.h0 in ("per_model", "per_sequence"):
            h = h0[i]
        elif case.h0 == "directions":
            h = h0[:, i]
        return x[:, i], (y[i] if case.scored == "last" else y[:, i]), h

    return x, y, h0, own


def assert_close(actual, expected, name):
    actual, expected = np.asarray(actual, dtype=float), np.asarray(expected, dtype=float)
    assert actual.shape == expected.shape, name
    same_nonfinite = np.isfinite(actual) == np.isfinite(expected)
    assert same_nonfinite.all(), name
    finite = np.isfinite(expected)
    scale = max(np.max(np.abs(expected[finite]), initial=0.0), 1e-300)
    error = np.max(np.abs(actual[finite] - expected[finite]), initial=0.0) / scale
    assert error <= TOLERANCE, f"{name}: relative error {error:.3g}"


def compare(stacked, separate, i):
    """Model i of a stacked trace against its own run; True when bit for bit."""
    exact = True
    pairs = []
    for name in PER_STEP:
        s, e = getattr(stacked, name), getattr(separate, name)
        assert (s is None) == (e is None), name
        if e is not None:
            pairs.append((name, s[:, i], e))
    for field in ("gates", "gates_reverse"):
        s, e = getattr(stacked, field), getattr(separate, field)
        assert (s is None) == (e is None), field
        assert set(s or {}) == set(e or {}), field
        pairs += [(f"{field}[{k}]", s[k][:, i], e[k]) for k in e or {}]
    for field in ("grads", "clipped_grads"):
        s, e = getattr(stacked, field), getattr(separate, field)
        assert list(s) == list(e), field
        pairs += [(f"{field}[{k}]", s[k][i], e[k]) for k in e]
    for name in PER_MODEL:
        value = getattr(stacked, name)
        assert value.shape == (M,), name
        pairs.append((name, value[i], getattr(separate, name)))
    pairs.append(
        ("state_jacobian_norm", stacked.state_jacobian_norm[:, i], separate.state_jacobian_norm)
    )
    if separate.state_jacobian_norm_reverse is not None:
        pairs.append(
            (
                "state_jacobian_norm_reverse",
                stacked.state_jacobian_norm_reverse[:, i],
                separate.state_jacobian_norm_reverse,
            )
        )
    for name, s, e in pairs:
        assert_close(s, e, name)
        exact &= np.array_equal(s, e, equal_nan=True)
    for name in ("nonfinite_forward", "nonfinite_backward"):
        value = getattr(stacked, name)
        assert value.shape == (M,) and value.dtype.kind == "i", name
        expected = getattr(separate, name)
        assert value[i] == (-1 if expected is None else expected), name
    return exact


@pytest.mark.parametrize("case", CASES, ids=str)
def test_stacked_run_equals_separate_runs(case):
    models = models_for(case)
    x, y, h0, own = data_for(case)
    options = {"loss": case.loss, "scored": case.scored, "truncate": case.truncate}
    singles = [
        engine.simulate(m, *own(i)[:2], h0=own(i)[2], **options) for i, m in enumerate(models)
    ]
    clip = None
    if case.clipped:  # between the models' norms: some are clipped, some not
        clip = float(np.median([s.grad_norm for s in singles]))
        singles = [
            engine.simulate(m, *own(i)[:2], h0=own(i)[2], clip=clip, **options)
            for i, m in enumerate(models)
        ]
    stacked = engine.simulate(engine.stack(models), x, y, h0=h0, clip=clip, **options)
    batch = () if case.batch is None else (case.batch,)
    assert stacked.hidden.shape == (T, M, *batch, H)
    assert stacked.state_jacobian_norm.shape == (T, M, *batch)
    assert stacked.grads["weight_hh"].shape == (M, *models[0].params["weight_hh"].shape)
    if case.clipped:
        assert (stacked.clip_scale < 1.0).any() and (stacked.clip_scale == 1.0).any()
    exact = [compare(stacked, single, i) for i, single in enumerate(singles)]
    # Each model's arithmetic is its own, in the same order: the last bit holds.
    assert all(exact)


def test_overflow_is_reported_per_model():
    models = [engine.build("rnn", D, H, O, activation="linear", seed=i) for i in range(M)]
    models[1].params["weight_hh"][:] *= 1e80  # its states overflow within a few steps
    models[2].params["weight_out"][:] *= 1e200  # its backward sweep overflows, not its forward
    models[2].params["weight_hh"][:] *= 1e60
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((T, M, D)), rng.standard_normal((T, M, O))
    stacked = engine.simulate(engine.stack(models), x, y)
    singles = [engine.simulate(m, x[:, i], y[:, i]) for i, m in enumerate(models)]
    assert singles[0].nonfinite_forward is None and singles[1].nonfinite_forward is not None
    assert singles[2].nonfinite_backward is not None
    for name in ("nonfinite_forward", "nonfinite_backward"):
        expected = [-1 if getattr(s, name) is None else getattr(s, name) for s in singles]
        np.testing.assert_array_equal(getattr(stacked, name), expected)
    assert np.isfinite(stacked.loss[0]) and np.isfinite(stacked.grad_norm[0])
    np.testing.assert_array_equal(stacked.hidden[:, 0], singles[0].hidden)


def test_stacked_reuse_gives_the_same_trace():
    case = CASES[0]
    stacked = engine.stack(models_for(case))
    x, y, _, _ = data_for(case)
    earlier = engine.simulate(stacked, x[:4], y[:4], truncate=2)
    reused = engine.simulate(stacked, x, y, truncate=2, reuse=earlier)
    fresh = engine.simulate(stacked, x, y, truncate=2)
    for name in ("hidden", "grad_hidden", "loss", "grad_norm"):
        np.testing.assert_array_equal(getattr(reused, name), getattr(fresh, name), err_msg=name)


def test_stack_and_unstack_round_trip():
    models = [engine.build("lstm", D, H, O, forget_gate=False, seed=s) for s in (3, 1, 4)]
    stacked = engine.stack(models)
    assert stacked.size == len(stacked) == 3
    assert stacked.seeds == (3, 1, 4)
    for name, value in models[0].params.items():
        assert stacked.params[name].shape == (3, *value.shape)
    back = engine.unstack(stacked)
    for original, copy in zip(models, back, strict=True):
        assert copy == original  # the dataclass compares configuration, seed included
        assert list(copy.params) == list(original.params)
        for name in original.params:
            np.testing.assert_array_equal(copy.params[name], original.params[name])
    np.testing.assert_array_equal(stacked[-1].params["weight_ih"], models[2].params["weight_ih"])


def test_stacked_parameters_are_copies_both_ways():
    models = [engine.build("gru", D, H, seed=s) for s in range(2)]
    stacked = engine.stack(models)
    models[0].params["weight_hh"][:] = 5.0  # the stack copied them
    assert not np.any(stacked.params["weight_hh"][0] == 5.0)
    first = stacked[0]
    first.params["weight_hh"][:] = 7.0  # model i is a copy
    assert not np.any(stacked.params["weight_hh"][0] == 7.0)
    assert not np.shares_memory(stacked[1].params["bias_ih"], stacked.params["bias_ih"])


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"kind": "lstm"}, "models[1].kind"),
        ({"hidden_size": 4}, "models[1].hidden_size"),
        ({"input_size": 3}, "models[1].input_size"),
        ({"output_size": 3}, "models[1].output_size"),
        ({"activation": "relu"}, "models[1].activation"),
        ({"bidirectional": True}, "models[1].bidirectional"),
        ({"reset_after": True}, "models[1].reset_after"),
    ],
)
def test_stack_refuses_mismatched_models(change, named):
    config = {"kind": "gru", "input_size": D, "hidden_size": H, "output_size": O}
    models = [engine.build(**config), engine.build(**{**config, **change})]
    with pytest.raises(ValueError, match=named.replace("[", r"\[").replace("]", r"\]")):
        engine.stack(models)


def test_stack_and_unstack_refuse_what_is_not_models():
    model = engine.build("rnn", D, H)
    with pytest.raises(ValueError, match="models"):
        engine.stack([])
    with pytest.raises(ValueError, match="models"):
        engine.stack(model)
    with pytest.raises(ValueError, match=r"models\[1\]"):
        engine.stack([model, "rnn"])
    with pytest.raises(ValueError, match="models"):
        engine.unstack(model)
    bad = engine.build("rnn", D, H)
    bad.params["weight_hh"] = np.zeros((H, H + 1))
    with pytest.raises(ValueError, match=r"models\[1\]\.params\['weight_hh'\]"):
        engine.stack([model, bad])


@pytest.mark.parametrize(
    ("argument", "value"),
    [
        ("inputs", np.zeros((T, M + 1, D))),
        ("inputs", np.zeros((T, D))),
        ("inputs", np.zeros((T, M, 2, D + 1))),
        ("targets", np.zeros((T, M + 1, O))),
        ("targets", np.zeros((T, O))),
        ("h0", np.zeros((M + 1, H))),
        ("h0", np.zeros((2, M, H))),  # not bidirectional
    ],
)
def test_stacked_simulate_names_the_mismatched_argument(argument, value):
    stacked = engine.stack([engine.build("rnn", D, H, O, seed=s) for s in range(M)])
    arguments = {"inputs": np.zeros((T, M, D)), "targets": np.zeros((T, M, O)), "h0": None}
    arguments[argument] = value
    with pytest.raises(ValueError, match=argument):
        engine.simulate(stacked, arguments["inputs"], arguments["targets"], h0=arguments["h0"])


def test_stacked_simulate_checks_the_stacked_parameters():
    stacked = engine.stack([engine.build("rnn", D, H, O, seed=s) for s in range(M)])
    stacked.params["weight_hh"] = np.zeros((H, H))  # one model's shape, not M of them
    with pytest.raises(ValueError, match=r"params\['weight_hh'\].*\(3, 3, 3\)"):
        engine.simulate(stacked, np.zeros((T, M, D)), np.zeros((T, M, O)))


@pytest.mark.parametrize("kind", ["rnn", "gru", "lstm"])
@pytest.mark.parametrize("batch", [1, 3])
def test_sums_over_many_steps_keep_the_last_bit(kind, batch):
    """8 or 24 rows: NumPy sums a column of 8 or more pairwise, and one output
    (O = 1) makes the readout's gradients single columns; the stacked sums
    (gradients, norms, losses) must match."""
    models = [engine.build(kind, D, 4, 1, seed=s) for s in range(M)]
    rng = np.random.default_rng(1)
    x, y = rng.standard_normal((8, M, batch, D)), rng.standard_normal((8, M, batch, 1))
    stacked = engine.simulate(engine.stack(models), x, y, clip=0.1)
    for i, model in enumerate(models):
        single = engine.simulate(model, x[:, i], y[:, i], clip=0.1)
        for name, grad in single.clipped_grads.items():
            np.testing.assert_array_equal(stacked.clipped_grads[name][i], grad, err_msg=name)
        assert stacked.grad_norm[i] == single.grad_norm
        assert stacked.loss[i] == single.loss
