"""Overflow is reported, not raised.

An exploding network yields a trace with `nonfinite_forward` /
`nonfinite_backward` set, no exception, no leaked NumPy warning and NumPy's
global error state untouched. The expected indices are recomputed here from
the trace's own per-step fields.
"""

import warnings

import numpy as np
import pytest

import engine

KINDS = [
    ("rnn", {}),
    ("jordan", {}),
    ("gru", {"reset_after": False}),
    ("gru", {"reset_after": True}),
    ("mgu", {}),
    ("lstm", {"forget_gate": True}),
    ("lstm", {"forget_gate": False}),
    ("rnn", {"bidirectional": True}),
    ("lstm", {"bidirectional": True}),
]
KIND_IDS = [
    "rnn",
    "jordan",
    "gru-reset-before",
    "gru-reset-after",
    "mgu",
    "lstm",
    "lstm-no-forget",
    "rnn-bidir",
    "lstm-bidir",
]


def quietly(function, *args, **kwargs):
    """Call `function` with every warning an error; check np.geterr() is kept."""
    error_state = np.geterr()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = function(*args, **kwargs)
    assert np.geterr() == error_state, "the engine changed NumPy's error state"
    return result


def steps_not_finite(*fields):
    """(T,) bool: True where any of the per-step arrays (T, …) is not finite."""
    fields = [field for field in fields if field is not None]
    steps = len(fields[0])
    return np.any(
        [~np.isfinite(field).reshape(steps, -1).all(axis=1) for field in fields],
        axis=0,
    )


def first_nonfinite_forward(trace):
    """First step whose hidden, cell, gates or outputs are not finite, or None."""
    gates = [
        *trace.gates.values(),
        *(getattr(trace, "gates_reverse", None) or {}).values(),
    ]
    bad = steps_not_finite(
        trace.hidden,
        trace.cell,
        trace.outputs,
        getattr(trace, "hidden_reverse", None),
        getattr(trace, "cell_reverse", None),
        *gates,
    )
    return int(np.argmax(bad)) if bad.any() else None


def latest_nonfinite_backward(trace):
    """Latest step whose grad_hidden or grad_cell is not finite, or None.

    The backward sweep runs from the last step down, so the latest such step is
    the first one it reaches.
    """
    bad = steps_not_finite(trace.grad_hidden, trace.grad_cell)
    return int(np.flatnonzero(bad)[-1]) if bad.any() else None


def radius_scaled(matrix, radius):
    """`matrix` (H, H) rescaled to spectral radius `radius`."""
    return matrix * (radius / np.max(np.abs(np.linalg.eigvals(matrix))))


def test_exploding_relu_network_reports_the_first_nonfinite_step():
    steps, hidden_size = 400, 8
    rng = np.random.default_rng(0)
    model = engine.build("rnn", 2, hidden_size, 1, activation="relu", seed=0)
    # A positive matrix: its leading eigenvector is positive, so ReLU never
    # cuts the growth and the state gains a factor of about 50 per step.
    model.params["weight_hh"] = radius_scaled(
        rng.uniform(0.5, 1.0, size=(hidden_size, hidden_size)), 50.0
    )
    inputs = rng.uniform(0.0, 1.0, size=(steps, 2))
    targets = rng.normal(size=(steps, 1))

    trace = quietly(engine.simulate, model, inputs, targets, h0=np.ones(hidden_size))

    assert isinstance(trace.nonfinite_forward, int)
    assert 0 <= trace.nonfinite_forward < steps
    assert trace.nonfinite_forward == first_nonfinite_forward(trace)
    # 50**t overflows float64 after about 180 steps, not at the start.
    assert trace.nonfinite_forward > 100
    norms = quietly(lambda: trace.state_jacobian_norm)
    assert norms.shape == (steps,)
    assert np.all(np.isfinite(norms[: trace.nonfinite_forward]))


def test_exploding_backward_with_a_finite_forward_pass():
    """Zero inputs, biases and h0 keep every state at exactly 0; the gradient
    still gains a factor of about 10 per step back through W_hh."""
    steps, hidden_size = 400, 8
    rng = np.random.default_rng(1)
    model = engine.build("rnn", 2, hidden_size, 1, activation="linear", seed=0)
    model.params["weight_hh"] = radius_scaled(
        rng.uniform(0.5, 1.0, size=(hidden_size, hidden_size)), 10.0
    )
    for bias in ["bias_ih", "bias_hh", "bias_out"]:
        model.params[bias] = np.zeros_like(model.params[bias])
    inputs = np.zeros((steps, 2))
    targets = np.ones((steps, 1))

    trace = quietly(engine.simulate, model, inputs, targets)

    assert not trace.hidden.any()
    assert trace.nonfinite_forward is None
    assert isinstance(trace.nonfinite_backward, int)
    assert 0 <= trace.nonfinite_backward < steps
    assert trace.nonfinite_backward == latest_nonfinite_backward(trace)
    # 10**308 is float64's limit: about 308 steps back from the end.
    assert 50 < trace.nonfinite_backward < steps - 250


@pytest.mark.parametrize(("kind", "options"), KINDS, ids=KIND_IDS)
@pytest.mark.parametrize("batch", [None, 2], ids=["single", "batch"])
def test_healthy_network_reports_nothing(kind, options, batch):
    rng = np.random.default_rng(2)
    lead = (50,) if batch is None else (50, batch)
    model = engine.build(kind, 2, 4, 2, seed=1, **options)
    trace = quietly(
        engine.simulate, model, rng.normal(size=(*lead, 2)), rng.normal(size=(*lead, 2))
    )
    assert trace.nonfinite_forward is None
    assert trace.nonfinite_backward is None
    assert np.isfinite(trace.loss)
    assert np.isfinite(trace.grad_norm)


# Pre-activation bias that holds a gate open (σ ≈ 1), closed (σ ≈ 0) or half way.
OPEN, CLOSED, HALF = 20.0, -20.0, 0.0
# Per kind, what each gate block does, in PyTorch's gate order; "grow" is the
# candidate block, which reads the state through a positive matrix.
GATE_PLAN = {
    ("rnn", True): ["grow"],
    ("gru", True): [OPEN, CLOSED, "grow"],  # reset open, update closed: h ≈ n
    ("mgu", True): [HALF, "grow"],  # h = ½h + ½ act(W ½h)
    ("lstm", True): [OPEN, OPEN, "grow", OPEN],
    ("lstm", False): [OPEN, "grow", OPEN],
}


def exploding_model(kind, options, activation, hidden_size=4, output_size=3):
    """A model whose state gains a factor of about 50 per step.

    Gates are held by their biases (their weights are zero); each candidate
    block reads the state through a positive matrix of spectral radius 50, so
    ReLU passes the growth untouched. Jordan's loop runs through the readout.
    """
    model = engine.build(
        kind, 2, hidden_size, output_size, activation=activation, seed=3, **options
    )
    rng = np.random.default_rng(5)
    params = model.params
    if kind == "jordan":
        params["weight_hh"] = rng.uniform(0.5, 1.0, size=(hidden_size, output_size))
        params["weight_out"] = rng.uniform(0.5, 1.0, size=(output_size, hidden_size))
        loop = params["weight_hh"] @ params["weight_out"]
        params["weight_hh"] *= 50.0 / np.max(np.abs(np.linalg.eigvals(loop)))
        return model
    plan = GATE_PLAN[kind, options.get("forget_gate", True)]
    for suffix in ["", "_reverse"] if options.get("bidirectional") else [""]:
        weight_ih, weight_hh, bias_hh = [], [], []
        for block in plan:
            grows = isinstance(block, str)
            weight_ih.append(rng.uniform(0.0, 1.0, size=(hidden_size, 2)) * grows)
            weight_hh.append(
                radius_scaled(rng.uniform(0.5, 1.0, size=(hidden_size,) * 2), 50.0) * grows
            )
            bias_hh.append(np.full(hidden_size, 0.0 if grows else block))
        params["weight_ih" + suffix] = np.concatenate(weight_ih)
        params["weight_hh" + suffix] = np.concatenate(weight_hh)
        params["bias_hh" + suffix] = np.concatenate(bias_hh)
        params["bias_ih" + suffix] = np.zeros_like(params["bias_hh" + suffix])
    return model


def exploding_targets(loss, lead, rng):
    """Targets (…, 3) that suit `loss`: real, in [0, 1], or one-hot."""
    if loss == "mse":
        return rng.normal(size=(*lead, 3))
    if loss == "bce":
        return rng.uniform(size=(*lead, 3))
    return np.eye(3)[rng.integers(3, size=lead)]


@pytest.mark.parametrize(("kind", "options"), KINDS, ids=KIND_IDS)
@pytest.mark.parametrize("activation", ["linear", "relu"])
@pytest.mark.parametrize("loss", ["mse", "bce", "cross_entropy"])
@pytest.mark.parametrize("batch", [None, 2], ids=["single", "batch"])
def test_every_kind_reports_overflow_without_raising(kind, options, activation, loss, batch):
    rng = np.random.default_rng(4)
    steps = 400
    lead = (steps,) if batch is None else (steps, batch)
    model = exploding_model(kind, options, activation)
    inputs = rng.uniform(0.0, 1.0, size=(*lead, 2))
    h0 = np.ones(4)

    trace = quietly(
        engine.simulate,
        model,
        inputs,
        exploding_targets(loss, lead, rng),
        loss=loss,
        clip=1.0,
        h0=h0,
    )
    quietly(lambda: trace.state_jacobian_norm)
    # the parameter gradients are summed when first read, after simulate returned
    quietly(lambda: (trace.grads, trace.grad_norm, trace.clip_scale, trace.clipped_grads))

    if kind == "jordan" and loss != "mse":
        # The loop runs through y = σ(p) or softmax(p), bounded by 1: the
        # forward pass cannot overflow.
        assert trace.nonfinite_forward is None
    else:
        assert trace.nonfinite_forward is not None
    assert trace.nonfinite_forward == first_nonfinite_forward(trace)
    if not options.get("bidirectional"):
        assert trace.nonfinite_backward == latest_nonfinite_backward(trace)
