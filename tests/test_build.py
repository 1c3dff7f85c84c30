"""`engine.build`'s parameters and the trace's fields, as the contract lists them.

Covers parameter names, shapes, dtype and initialisation; that replaced
entries are used; that a batch equals its single sequences; the readout and
its link per loss; which gates, cells and reverse fields each kind fills.
"""

import numpy as np
import pytest

import engine

STEPS, INPUT_SIZE, HIDDEN, OUTPUTS, BATCH = 5, 2, 3, 2, 3

CONFIGS = [
    # (kind, build options); gate count G from the contract's table
    ("rnn", {}),
    ("jordan", {}),
    ("gru", {"reset_after": False}),
    ("gru", {"reset_after": True}),
    ("mgu", {}),
    ("lstm", {"forget_gate": True}),
    ("lstm", {"forget_gate": False}),
    ("rnn", {"bidirectional": True}),
    ("gru", {"bidirectional": True}),
    ("mgu", {"bidirectional": True}),
    ("lstm", {"bidirectional": True}),
    ("lstm", {"bidirectional": True, "forget_gate": False}),
]
CONFIG_IDS = [
    "rnn",
    "jordan",
    "gru-reset-before",
    "gru-reset-after",
    "mgu",
    "lstm",
    "lstm-no-forget",
    "rnn-bidir",
    "gru-bidir",
    "mgu-bidir",
    "lstm-bidir",
    "lstm-no-forget-bidir",
]
RECURRENT = ["weight_ih", "weight_hh", "bias_ih", "bias_hh"]
GATE_NAMES = {
    "rnn": set(),
    "jordan": set(),
    "gru": {"reset", "update", "candidate"},
    "mgu": {"forget", "candidate"},
    "lstm": {"input", "forget", "candidate", "output"},
}


def gate_count(kind, options):
    if kind == "lstm":
        return 4 if options.get("forget_gate", True) else 3
    return {"rnn": 1, "jordan": 1, "gru": 3, "mgu": 2}[kind]


def expected_shapes(kind, options, input_size, hidden_size, output_size):
    """The contract's parameter table: name -> shape."""
    rows = gate_count(kind, options) * hidden_size
    recurrent = {
        "weight_ih": (rows, input_size),
        "weight_hh": (hidden_size, output_size) if kind == "jordan" else (rows, hidden_size),
        "bias_ih": (rows,),
        "bias_hh": (rows,),
    }
    shapes = dict(recurrent)
    if options.get("bidirectional"):
        shapes.update({name + "_reverse": shape for name, shape in recurrent.items()})
    features = 2 * hidden_size if options.get("bidirectional") else hidden_size
    shapes["weight_out"] = (output_size, features)
    shapes["bias_out"] = (output_size,)
    return shapes


def sequences(batch=None, loss="mse", seed=0):
    """Seeded inputs (T, D) / (T, B, D) and targets suiting `loss`."""
    rng = np.random.default_rng(seed)
    lead = (STEPS,) if batch is None else (STEPS, batch)
    inputs = rng.normal(size=(*lead, INPUT_SIZE))
    if loss == "mse":
        targets = rng.normal(size=(*lead, OUTPUTS))
    elif loss == "bce":
        targets = rng.uniform(size=(*lead, OUTPUTS))
    else:
        targets = np.eye(OUTPUTS)[rng.integers(OUTPUTS, size=lead)]
    return inputs, targets


# parameters -------------------------------------------------------------------


@pytest.mark.parametrize(("kind", "options"), CONFIGS, ids=CONFIG_IDS)
def test_parameter_names_shapes_and_dtype(kind, options):
    model = engine.build(kind, 5, 4, 3, **options)
    shapes = {name: value.shape for name, value in model.params.items()}
    assert shapes == expected_shapes(kind, options, 5, 4, 3)
    for name, value in model.params.items():
        assert isinstance(value, np.ndarray), name
        assert value.dtype == np.float64, name


@pytest.mark.parametrize(("kind", "options"), CONFIGS, ids=CONFIG_IDS)
@pytest.mark.parametrize("seed", [0, 1])
def test_initialisation_is_uniform_in_pytorchs_ranges(kind, options, seed):
    hidden_size, output_size = 16, 8
    model = engine.build(kind, 5, hidden_size, output_size, seed=seed, **options)
    features = 2 * hidden_size if options.get("bidirectional") else hidden_size
    recurrent = np.concatenate(
        [
            value.ravel()
            for name, value in model.params.items()
            if name.removesuffix("_reverse") in RECURRENT
        ]
    )
    readout = np.concatenate([model.params["weight_out"].ravel(), model.params["bias_out"]])
    for values, bound, label in [
        (recurrent, 1 / np.sqrt(hidden_size), "recurrent"),
        (readout, 1 / np.sqrt(features), "readout"),
    ]:
        assert np.all(np.abs(values) <= bound), f"{label} outside ±{bound}"
        assert values.max() > 0.8 * bound, f"{label} does not reach near +{bound}"
        assert values.min() < -0.8 * bound, f"{label} does not reach near -{bound}"
        # A uniform draw on (-k, k) has standard deviation k/√3.
        assert values.std() == pytest.approx(bound / np.sqrt(3), rel=0.2), label


@pytest.mark.parametrize(("kind", "options"), CONFIGS, ids=CONFIG_IDS)
def test_seed_fixes_the_parameters(kind, options):
    first = engine.build(kind, 2, 3, 2, seed=7, **options).params
    again = engine.build(kind, 2, 3, 2, seed=7, **options).params
    other = engine.build(kind, 2, 3, 2, seed=8, **options).params
    for name, value in first.items():
        np.testing.assert_array_equal(again[name], value, err_msg=name)
        assert not np.array_equal(other[name], value), name


def test_replaced_parameters_are_used():
    model = engine.build("rnn", INPUT_SIZE, HIDDEN, OUTPUTS, seed=0)
    inputs, targets = sequences()
    before = engine.simulate(model, inputs, targets)

    model.params["weight_hh"] = np.zeros((HIDDEN, HIDDEN))
    without_recurrence = engine.simulate(model, inputs, targets)
    # With W_hh = 0 each state depends on its own input alone.
    params = model.params
    np.testing.assert_allclose(
        without_recurrence.hidden,
        np.tanh(inputs @ params["weight_ih"].T + params["bias_ih"] + params["bias_hh"]),
        rtol=1e-12,
    )
    assert not np.allclose(without_recurrence.hidden, before.hidden)

    model.params["weight_out"] = np.zeros((OUTPUTS, HIDDEN))
    model.params["bias_out"] = np.array([0.25, -4.0])
    constant = engine.simulate(model, inputs, targets)
    np.testing.assert_array_equal(constant.outputs, np.tile([0.25, -4.0], (STEPS, 1)))


@pytest.mark.parametrize("kind", ["gru", "lstm"])
def test_replaced_reverse_parameters_are_used(kind):
    model = engine.build(kind, INPUT_SIZE, HIDDEN, OUTPUTS, bidirectional=True)
    inputs, targets = sequences()
    before = engine.simulate(model, inputs, targets)
    model.params["weight_hh_reverse"] = 3 * model.params["weight_hh_reverse"]
    after = engine.simulate(model, inputs, targets)
    np.testing.assert_array_equal(after.hidden, before.hidden)
    assert not np.allclose(after.hidden_reverse, before.hidden_reverse)


# batches ----------------------------------------------------------------------

PER_STEP_FIELDS = ["hidden", "cell", "outputs"]
GRADIENT_FIELDS = ["grad_hidden", "grad_cell"]


def assert_same(actual, expected, label, rtol=1e-12):
    """Elementwise relative `rtol`, with an absolute floor at rtol·max|expected|."""
    atol = rtol * float(np.max(np.abs(expected), initial=0.0))
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=atol, err_msg=label)


@pytest.mark.parametrize(("kind", "options"), CONFIGS, ids=CONFIG_IDS)
@pytest.mark.parametrize(
    "simulate_options",
    [
        {"loss": "mse"},
        {"loss": "cross_entropy", "scored": "last"},
        {"loss": "bce", "truncate": 2},
    ],
    ids=["mse", "ce-last", "bce-truncated"],
)
def test_a_batch_equals_its_single_sequences(kind, options, simulate_options):
    """Per-step fields match sequence by sequence; L and grads are the means.

    `grad_hidden` and `grad_cell` are ∂L/∂h_t of the batch's mean loss, so each
    is its sequence's own gradient divided by B.
    """
    model = engine.build(kind, INPUT_SIZE, HIDDEN, OUTPUTS, seed=2, **options)
    inputs, targets = sequences(BATCH, simulate_options["loss"], seed=5)
    directions = 2 if options.get("bidirectional") else 1
    h0 = np.random.default_rng(6).normal(size=(directions, BATCH, HIDDEN))
    batch_h0 = h0 if directions == 2 else h0[0]

    batch = engine.simulate(model, inputs, targets, h0=batch_h0, **simulate_options)
    singles = [
        engine.simulate(
            model,
            inputs[:, b],
            targets[:, b],
            h0=h0[:, b] if directions == 2 else h0[0, b],
            **simulate_options,
        )
        for b in range(BATCH)
    ]

    suffixes = ["", "_reverse"] if directions == 2 else [""]
    for b, single in enumerate(singles):
        for suffix in suffixes:
            for field in PER_STEP_FIELDS:
                name = field if field == "outputs" else field + suffix
                if getattr(single, name) is None:
                    assert getattr(batch, name) is None, name
                    continue
                assert_same(getattr(batch, name)[:, b], getattr(single, name), f"{name} b={b}")
            for gate, value in getattr(single, "gates" + suffix).items():
                assert_same(
                    getattr(batch, "gates" + suffix)[gate][:, b],
                    value,
                    f"gates{suffix}[{gate}] b={b}",
                )
            for field in GRADIENT_FIELDS:
                name = field + suffix
                if getattr(single, name) is None:
                    assert getattr(batch, name) is None, name
                    continue
                assert_same(
                    getattr(batch, name)[:, b],
                    getattr(single, name) / BATCH,
                    f"{name} b={b}",
                )
            name = "state_jacobian_norm" + suffix
            assert_same(getattr(batch, name)[:, b], getattr(single, name), name, rtol=2e-4)

    assert batch.loss == pytest.approx(np.mean([s.loss for s in singles]), rel=1e-12)
    for name, grad in batch.grads.items():
        assert_same(grad, np.mean([s.grads[name] for s in singles], axis=0), name)
    assert batch.grad_norm == pytest.approx(
        np.sqrt(sum(np.sum(g**2) for g in batch.grads.values())), rel=1e-12
    )


@pytest.mark.parametrize("bidirectional", [False, True], ids=["uni", "bidir"])
def test_h0_forms_agree(bidirectional):
    """`(H,)` serves every sequence and both directions, as PyTorch broadcasts."""
    model = engine.build("gru", INPUT_SIZE, HIDDEN, OUTPUTS, bidirectional=bidirectional)
    inputs, targets = sequences(BATCH)
    h0 = np.array([0.3, -0.6, 0.9])
    shared = engine.simulate(model, inputs, targets, h0=h0)
    spelled_out = np.broadcast_to(h0, (2, BATCH, HIDDEN) if bidirectional else (BATCH, HIDDEN))
    explicit = engine.simulate(model, inputs, targets, h0=np.array(spelled_out))
    np.testing.assert_array_equal(shared.hidden, explicit.hidden)
    assert shared.loss == explicit.loss
    if bidirectional:
        np.testing.assert_array_equal(shared.hidden_reverse, explicit.hidden_reverse)


# readout and fields -------------------------------------------------------------


def sigmoid(a):
    return 1.0 / (1.0 + np.exp(-a))


def softmax(p):
    e = np.exp(p - p.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


@pytest.mark.parametrize("loss", ["mse", "bce", "cross_entropy"])
@pytest.mark.parametrize("bidirectional", [False, True], ids=["uni", "bidir"])
@pytest.mark.parametrize("batch", [None, BATCH], ids=["single", "batch"])
def test_outputs_are_the_readout_after_the_losss_link(loss, bidirectional, batch):
    model = engine.build("lstm", INPUT_SIZE, HIDDEN, OUTPUTS, seed=1, bidirectional=bidirectional)
    inputs, targets = sequences(batch, loss)
    trace = engine.simulate(model, inputs, targets, loss=loss)
    features = (
        np.concatenate([trace.hidden, trace.hidden_reverse], axis=-1)
        if bidirectional
        else trace.hidden
    )
    readout = features @ model.params["weight_out"].T + model.params["bias_out"]
    link = {"mse": lambda p: p, "bce": sigmoid, "cross_entropy": softmax}[loss]
    np.testing.assert_allclose(trace.outputs, link(readout), rtol=1e-12)
    if loss == "bce":
        assert np.all((trace.outputs > 0) & (trace.outputs < 1))
    if loss == "cross_entropy":
        assert np.all(trace.outputs > 0)
        np.testing.assert_allclose(trace.outputs.sum(axis=-1), 1.0, rtol=1e-12)


@pytest.mark.parametrize("loss", ["mse", "bce", "cross_entropy"])
@pytest.mark.parametrize("scored", ["all", "last"])
def test_loss_value(loss, scored):
    model = engine.build("rnn", INPUT_SIZE, HIDDEN, OUTPUTS, seed=1)
    inputs, targets = sequences(None, loss)
    trace = engine.simulate(model, inputs, targets, loss=loss, scored=scored)
    y = trace.outputs
    if loss == "mse":
        per_step = 0.5 * np.sum((y - targets) ** 2, axis=-1)
    elif loss == "bce":
        per_step = -np.sum(targets * np.log(y) + (1 - targets) * np.log(1 - y), axis=-1)
    else:
        per_step = -np.sum(targets * np.log(y), axis=-1)
    expected = per_step.sum() if scored == "all" else per_step[-1]
    assert isinstance(trace.loss, float)
    assert trace.loss == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize(("kind", "options"), CONFIGS, ids=CONFIG_IDS)
@pytest.mark.parametrize("batch", [None, BATCH], ids=["single", "batch"])
def test_fields_present_per_kind(kind, options, batch):
    model = engine.build(kind, INPUT_SIZE, HIDDEN, OUTPUTS, **options)
    inputs, targets = sequences(batch)
    trace = engine.simulate(model, inputs, targets)
    per_step = (STEPS, HIDDEN) if batch is None else (STEPS, batch, HIDDEN)
    bidirectional = options.get("bidirectional", False)
    names = set(GATE_NAMES[kind])
    if not options.get("forget_gate", True):
        names.discard("forget")

    suffixes = ["", "_reverse"] if bidirectional else [""]
    for suffix in suffixes:
        assert getattr(trace, "hidden" + suffix).shape == per_step
        assert getattr(trace, "grad_hidden" + suffix).shape == per_step
        gates = getattr(trace, "gates" + suffix)
        assert set(gates) == names, f"gates{suffix}"
        for gate, value in gates.items():
            assert value.shape == per_step, gate
        for field in ["cell", "grad_cell"]:
            value = getattr(trace, field + suffix)
            if kind == "lstm":
                assert value.shape == per_step, field + suffix
            else:
                assert value is None, field + suffix
        assert getattr(trace, "state_jacobian_norm" + suffix).shape == per_step[:-1]
    if not bidirectional:
        assert trace.hidden_reverse is None
    assert trace.outputs.shape == (*per_step[:-1], OUTPUTS)
    assert set(trace.grads) == set(model.params)
    for name, grad in trace.grads.items():
        assert grad.shape == model.params[name].shape, name
        assert grad.dtype == np.float64, name


GATED = [
    (config, config_id)
    for config, config_id in zip(CONFIGS, CONFIG_IDS, strict=True)
    if config[0] in {"gru", "mgu", "lstm"}
]


@pytest.mark.parametrize(("kind", "options"), [c for c, _ in GATED], ids=[i for _, i in GATED])
def test_gates_combine_as_the_table_says(kind, options):
    """The named gates rebuild each state, so no two names are swapped."""
    model = engine.build(kind, INPUT_SIZE, HIDDEN, OUTPUTS, seed=4, **options)
    inputs, targets = sequences()
    h0 = np.array([0.5, -0.2, 0.8])
    trace = engine.simulate(model, inputs, targets, h0=h0)
    for suffix in ["", "_reverse"] if options.get("bidirectional") else [""]:
        hidden, gates = (
            getattr(trace, "hidden" + suffix),
            getattr(trace, "gates" + suffix),
        )
        order = range(STEPS) if suffix == "" else range(STEPS - 1, -1, -1)
        h_prev, c_prev = h0, np.zeros(HIDDEN)
        for t in order:
            if kind == "gru":
                z, n = gates["update"][t], gates["candidate"][t]
                np.testing.assert_allclose(hidden[t], z * h_prev + (1 - z) * n, rtol=1e-12)
            elif kind == "mgu":
                f, n = gates["forget"][t], gates["candidate"][t]
                np.testing.assert_allclose(hidden[t], f * h_prev + (1 - f) * n, rtol=1e-12)
            elif kind == "lstm":
                cell = getattr(trace, "cell" + suffix)
                f = gates["forget"][t] if "forget" in gates else 1.0
                c = f * c_prev + gates["input"][t] * gates["candidate"][t]
                np.testing.assert_allclose(cell[t], c, rtol=1e-12)
                np.testing.assert_allclose(hidden[t], gates["output"][t] * np.tanh(c), rtol=1e-12)
                c_prev = cell[t]
            for gate in set(gates) - {"candidate"}:
                assert np.all((gates[gate][t] > 0) & (gates[gate][t] < 1)), gate
            h_prev = hidden[t]
