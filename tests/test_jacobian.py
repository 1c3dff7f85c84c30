"""`Trace.state_jacobian_norm` against finite differences of one step.

The reference here is written from the contract's recurrence table alone: one
step `s_{t-1} -> s_t` per kind (`s = h`, or `(h, c)` stacked for an LSTM), its
Jacobian by central differences, and the exact spectral norm
`numpy.linalg.norm(J, ord=2)`. The engine promises a relative accuracy of 1e-4.
"""

import time

import numpy as np
import pytest

import engine

RELATIVE_ACCURACY = 1e-4
# Jacobian norms that are exactly zero in theory come out near 1e-10 by finite
# differences; below this the comparison is absolute.
ABSOLUTE_FLOOR = 1e-8
FD_STEP = 1e-5

KINDS = [
    # (kind, build options)
    ("rnn", {}),
    ("jordan", {}),
    ("gru", {"reset_after": False}),
    ("gru", {"reset_after": True}),
    ("mgu", {}),
    ("lstm", {"forget_gate": True}),
    ("lstm", {"forget_gate": False}),
]
KIND_IDS = [
    "rnn",
    "jordan",
    "gru-reset-before",
    "gru-reset-after",
    "mgu",
    "lstm",
    "lstm-no-forget",
]


def sigmoid(a):
    return 1.0 / (1.0 + np.exp(-a))


def softmax(p):
    e = np.exp(p - p.max())
    return e / e.sum()


ACTIVATIONS = {
    "tanh": np.tanh,
    "relu": lambda a: np.maximum(a, 0.0),
    "sigmoid": sigmoid,
    "linear": lambda a: a,
}
LINKS = {"mse": lambda p: p, "bce": sigmoid, "cross_entropy": softmax}


def one_step(params, suffix, kind, activation, loss, options, x, state):
    """One step of the contract's recurrence for one sequence.

    params: the model's dict; suffix: "" or "_reverse"; x: (D,);
    state: (S,) with S = 2H for an LSTM (h then c) and S = H otherwise;
    for jordan, None stands for the first step, where y_{-1} = 0.
    Returns the next state, (S,).
    """
    act = ACTIVATIONS[activation]
    w_ih, w_hh = params["weight_ih" + suffix], params["weight_hh" + suffix]
    b_ih, b_hh = params["bias_ih" + suffix], params["bias_hh" + suffix]
    hidden_size = w_hh.shape[1] if kind != "jordan" else w_hh.shape[0]
    h = None if state is None else state[:hidden_size]
    from_input = w_ih @ x + b_ih
    if kind == "rnn":
        return act(from_input + w_hh @ h + b_hh)
    if kind == "jordan":
        if state is None:  # the first step: y_{-1} = 0
            return act(from_input + b_hh)
        y_prev = LINKS[loss](params["weight_out"] @ h + params["bias_out"])
        return act(from_input + w_hh @ y_prev + b_hh)
    gate_count = w_hh.shape[0] // hidden_size
    x_part = np.split(from_input, gate_count)  # W_i· x + b_i· per gate
    w_part, b_part = np.split(w_hh, gate_count), np.split(b_hh, gate_count)

    def pre(k, reads):
        """Pre-activation of gate k reading `reads` (H,) through W_h·, b_h·."""
        return x_part[k] + w_part[k] @ reads + b_part[k]

    if kind == "gru":
        r, z = sigmoid(pre(0, h)), sigmoid(pre(1, h))
        if options.get("reset_after", False):
            n = act(x_part[2] + r * (w_part[2] @ h + b_part[2]))
        else:
            n = act(pre(2, r * h))
        return z * h + (1 - z) * n
    if kind == "mgu":
        f = sigmoid(pre(0, h))
        n = act(pre(1, f * h))
        return f * h + (1 - f) * n
    assert kind == "lstm"
    c = state[hidden_size:]
    if options.get("forget_gate", True):
        i, f, g, o = (
            sigmoid(pre(0, h)),
            sigmoid(pre(1, h)),
            act(pre(2, h)),
            sigmoid(pre(3, h)),
        )
        c_next = f * c + i * g
    else:
        i, g, o = sigmoid(pre(0, h)), act(pre(1, h)), sigmoid(pre(2, h))
        c_next = c + i * g
    return np.concatenate([o * act(c_next), c_next])


def fd_jacobian(step, state):
    """Central-difference Jacobian of `step` at `state` (S,); returns (S, S)."""
    columns = []
    for j in range(state.size):
        bump = np.zeros_like(state)
        bump[j] = FD_STEP
        columns.append((step(state + bump) - step(state - bump)) / (2 * FD_STEP))
    return np.stack(columns, axis=1)


def stacked_states(hidden, cell):
    """(T, H) hidden and (T, H) or None cell -> (T, S) states."""
    return hidden if cell is None else np.concatenate([hidden, cell], axis=1)


def reference_norms(model, kind, activation, loss, options, inputs, states, s_init, suffix=""):
    """Exact `‖∂s_t/∂s_prev‖₂` for one sequence, by finite differences.

    inputs: (T, D); states: (T, S), the engine's states; s_init: (S,), the
    initial state. The forward direction steps t-1 -> t; the reverse one
    (suffix "_reverse") steps t+1 -> t. Also checks that the reference step
    reproduces the engine's states, so a mismatch below is about the Jacobian.
    Returns (T,).
    """
    steps = len(inputs)
    order = range(steps) if suffix == "" else range(steps - 1, -1, -1)
    norms = np.empty(steps)
    # Jordan's first step reads y_{-1} = 0, whatever the initial state is: it
    # does not depend on s_init at all, so its Jacobian is exactly zero.
    previous = None if kind == "jordan" else s_init
    for t in order:

        def step(s, t=t):
            return one_step(model.params, suffix, kind, activation, loss, options, inputs[t], s)

        np.testing.assert_allclose(
            step(previous),
            states[t],
            rtol=1e-10,
            atol=1e-12,
            err_msg=f"reference step disagrees with the engine's state at t={t}",
        )
        norms[t] = 0.0 if previous is None else np.linalg.norm(fd_jacobian(step, previous), 2)
        previous = states[t]
    return norms


def assert_norms_close(actual, expected, label):
    """Relative 1e-4 with an absolute floor for norms that are zero in theory."""
    tolerance = RELATIVE_ACCURACY * np.abs(expected) + ABSOLUTE_FLOOR
    error = np.abs(actual - expected)
    assert np.all(error <= tolerance), (
        f"{label}: engine {actual} vs exact {expected}; "
        f"relative error {error / np.maximum(np.abs(expected), 1e-300)}"
    )


# An LSTM's initial cell is zero, so with ReLU `c = i⊙relu(·)` sits exactly on
# the kink wherever the candidate is clipped; a central difference there gives
# relu'(0) = 1/2, not PyTorch's 0. The LSTM cases use sigmoid instead.
SWEEP = [
    pytest.param(
        kind,
        options,
        activation,
        bidirectional,
        id=f"{kind_id}-{activation}-{'bidir' if bidirectional else 'uni'}",
    )
    for kind_id, (kind, options) in zip(KIND_IDS, KINDS, strict=True)
    for activation in (["tanh", "sigmoid"] if kind == "lstm" else ["tanh", "relu"])
    # The contract forbids a bidirectional Jordan network.
    for bidirectional in ([False] if kind == "jordan" else [False, True])
]


@pytest.mark.parametrize("batch", [None, 2], ids=["single", "batch"])
@pytest.mark.parametrize(("kind", "options", "activation", "bidirectional"), SWEEP)
def test_norm_matches_finite_difference_jacobian(kind, options, activation, batch, bidirectional):
    steps, inputs_size, hidden_size, output_size = 4, 2, 3, 2
    model = engine.build(
        kind,
        inputs_size,
        hidden_size,
        output_size,
        activation=activation,
        bidirectional=bidirectional,
        seed=3,
        **options,
    )
    rng = np.random.default_rng(11)
    lead = (steps,) if batch is None else (steps, batch)
    inputs = rng.normal(size=(*lead, inputs_size))
    targets = rng.normal(size=(*lead, output_size))
    directions = 2 if bidirectional else 1
    h0_shape = (hidden_size,) if batch is None else (batch, hidden_size)
    h0 = rng.normal(size=(directions, *h0_shape)) if bidirectional else rng.normal(size=h0_shape)
    trace = engine.simulate(model, inputs, targets, h0=h0)

    assert trace.state_jacobian_norm.shape == lead
    if bidirectional:
        assert trace.state_jacobian_norm_reverse.shape == lead

    for b in [None] if batch is None else range(batch):

        def per_sequence(field, b=b):
            return field if b is None else field[:, b]

        sequence_inputs = per_sequence(inputs)
        for suffix in ["", "_reverse"] if bidirectional else [""]:
            hidden = getattr(trace, "hidden" + suffix)
            cell = getattr(trace, "cell" + suffix)
            states = stacked_states(
                per_sequence(hidden), None if cell is None else per_sequence(cell)
            )
            h_init = h0[1 if suffix else 0] if bidirectional else h0
            h_init = h_init if b is None else h_init[b]
            s_init = np.concatenate([h_init, np.zeros(hidden_size)]) if (kind == "lstm") else h_init
            expected = reference_norms(
                model,
                kind,
                activation,
                "mse",
                options,
                sequence_inputs,
                states,
                s_init,
                suffix,
            )
            actual = per_sequence(getattr(trace, "state_jacobian_norm" + suffix))
            assert_norms_close(actual, expected, f"{suffix or 'forward'} b={b}")


@pytest.mark.parametrize("loss", ["mse", "bce", "cross_entropy"])
def test_jordan_norm_goes_through_the_output_link(loss):
    """Jordan's state reaches the next step through `y = link(p)`, per loss."""
    steps, hidden_size, output_size = 5, 3, 3
    model = engine.build("jordan", 2, hidden_size, output_size, seed=5)
    rng = np.random.default_rng(2)
    inputs = rng.normal(size=(steps, 2))
    targets = (
        rng.uniform(size=(steps, output_size))
        if loss == "bce"
        else np.eye(output_size)[rng.integers(output_size, size=steps)]
    )
    trace = engine.simulate(model, inputs, targets, loss=loss)
    expected = reference_norms(
        model,
        "jordan",
        "tanh",
        loss,
        {},
        inputs,
        trace.hidden,
        np.zeros(hidden_size),
    )
    assert_norms_close(trace.state_jacobian_norm, expected, f"jordan {loss}")


def test_jordan_initial_state_has_no_effect():
    """`h0` never enters a Jordan network: same trace, zero first Jacobian."""
    model = engine.build("jordan", 2, 3, 2, seed=1)
    rng = np.random.default_rng(4)
    inputs, targets = rng.normal(size=(6, 2)), rng.normal(size=(6, 2))
    without = engine.simulate(model, inputs, targets)
    with_h0 = engine.simulate(model, inputs, targets, h0=rng.normal(size=3) * 5)
    np.testing.assert_array_equal(with_h0.hidden, without.hidden)
    np.testing.assert_array_equal(with_h0.outputs, without.outputs)
    assert with_h0.loss == without.loss
    for name, grad in without.grads.items():
        np.testing.assert_array_equal(with_h0.grads[name], grad, err_msg=name)
    assert with_h0.state_jacobian_norm[0] == 0.0
    assert without.state_jacobian_norm[0] == 0.0
    assert np.all(without.state_jacobian_norm[1:] > 0)


def clustered_matrix(rng, size):
    """A (size, size) matrix with singular values spread evenly over [0.855, 0.9].

    Neighbouring singular values differ by about 0.16%: close enough that a
    power iteration needs hundreds of steps to separate them, far enough apart
    that an unconverged estimate misses by more than 1e-4.
    """
    u, _ = np.linalg.qr(rng.normal(size=(size, size)))
    v, _ = np.linalg.qr(rng.normal(size=(size, size)))
    return u @ np.diag(0.9 * np.linspace(1.0, 0.95, size)) @ v.T


@pytest.mark.parametrize("kind", ["rnn", "lstm"])
def test_norm_is_exact_when_top_singular_values_cluster(kind):
    """Near-equal top singular values: an iterative estimate converges slowly.

    A W_hh with evenly spread singular values and small pre-activations give
    Jacobians whose top two singular values lie within 2% of one another; the
    engine must still agree with an exact SVD to 1e-4 at every step.
    """
    steps, hidden_size = 8, 48
    rng = np.random.default_rng(7)
    model = engine.build(kind, 2, hidden_size, 1, seed=0)
    gates = model.params["weight_hh"].shape[0] // hidden_size
    model.params["weight_hh"] = np.concatenate(
        [clustered_matrix(rng, hidden_size) for _ in range(gates)]
    )
    model.params["weight_ih"] = rng.uniform(-0.02, 0.02, size=(gates * hidden_size, 2))
    model.params["bias_ih"] = np.zeros_like(model.params["bias_ih"])
    bias_hh = np.zeros_like(model.params["bias_hh"])
    if kind == "lstm":
        # input, forget, candidate, output: a forget gate near 0.95 and an
        # output gate near 0.95 keep both blocks of the Jacobian near 0.9.
        bias_hh[hidden_size : 2 * hidden_size] = 3.0
        bias_hh[3 * hidden_size :] = 3.0
    model.params["bias_hh"] = bias_hh
    inputs = rng.normal(size=(steps, 2))
    h0 = 0.1 * rng.normal(size=hidden_size)
    trace = engine.simulate(model, inputs, np.zeros((steps, 1)), h0=h0)

    options = {"forget_gate": True} if kind == "lstm" else {}
    states = stacked_states(trace.hidden, trace.cell)
    s_init = np.concatenate([h0, np.zeros(hidden_size)]) if kind == "lstm" else h0
    expected = np.empty(steps)
    previous = s_init
    for t in range(steps):

        def step(s, t=t):
            return one_step(model.params, "", kind, "tanh", "mse", options, inputs[t], s)

        singular_values = np.linalg.svd(fd_jacobian(step, previous), compute_uv=False)
        assert 0.98 < singular_values[1] / singular_values[0] < 0.9999, (
            "test premise: the top two singular values must be close, not equal"
        )
        expected[t] = singular_values[0]
        previous = states[t]
    assert_norms_close(trace.state_jacobian_norm, expected, f"clustered {kind}")


def test_norm_is_computed_lazily_and_kept():
    """Building the trace skips the O(T·S³) work; the first read does it.

    An LSTM with S = 2H = 64 over 100 steps costs a hundred 64×64 spectral
    norms, many times the forward and backward passes. The timing is tried up
    to three times, as another process may stall either measurement; an eager
    engine fails every time. Reading the field twice gives the same array.
    """
    steps, hidden_size = 100, 32
    model = engine.build("lstm", 2, hidden_size, 1, seed=0)
    rng = np.random.default_rng(0)
    inputs, targets = rng.normal(size=(steps, 2)), rng.normal(size=(steps, 1))
    warm_up = engine.simulate(model, inputs[:3], targets[:3])
    assert warm_up.state_jacobian_norm.shape == (3,)

    timings = []
    for _ in range(3):
        started = time.perf_counter()
        trace = engine.simulate(model, inputs, targets)
        simulate_seconds = time.perf_counter() - started
        started = time.perf_counter()
        first = np.array(trace.state_jacobian_norm)
        timings.append((simulate_seconds, time.perf_counter() - started))
        if timings[-1][1] > 3 * timings[-1][0]:
            break
    else:
        pytest.fail(f"(simulate, first read) seconds {timings}: computed eagerly?")

    assert first.shape == (steps,)
    np.testing.assert_array_equal(trace.state_jacobian_norm, first)


def test_fallback_is_exact_and_bounded_in_memory(monkeypatch):
    """Every step left unconverged (an iteration told it never converges) is
    formed and decomposed exactly, a few Jacobians at a time: the norms still
    agree with finite differences to 1e-4, and the memory the computation
    takes stays under what the chunks allow, far below all T·B Jacobians."""
    import tracemalloc

    from engine import jacobian

    steps, batch, hidden_size = 32, 8, 40  # S = 40 > 32: the Lanczos path
    model = engine.build("rnn", 2, hidden_size, 1, seed=2)
    rng = np.random.default_rng(5)
    inputs = rng.normal(size=(steps, batch, 2))
    h0 = rng.normal(size=(batch, hidden_size))
    converged = engine.simulate(model, inputs, np.zeros((steps, batch, 1)), h0=h0)
    expected_all = np.array(converged.state_jacobian_norm)

    all_jacobians = steps * batch * hidden_size**2 * 8  # 3.3 MB: what the fallback formed
    monkeypatch.setattr(jacobian, "RELATIVE_RESIDUAL", -1.0)  # nothing converges
    monkeypatch.setattr(jacobian, "EXACT_BYTES", all_jacobians // 64)
    monkeypatch.setattr(jacobian, "LANCZOS_BYTES", all_jacobians // 16)
    assert jacobian.exact_rows_per_chunk(hidden_size) < steps * batch // 16
    trace = engine.simulate(model, inputs, np.zeros((steps, batch, 1)), h0=h0)
    tracemalloc.start()
    try:
        forced = np.array(trace.state_jacobian_norm)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < all_jacobians / 4, f"peak {peak} bytes with {all_jacobians} of Jacobians"

    np.testing.assert_allclose(forced, expected_all, rtol=1e-6)
    for b in (0, batch - 1):
        expected = reference_norms(
            model, "rnn", "tanh", "mse", {}, inputs[:, b], trace.hidden[:, b], h0[b]
        )
        assert_norms_close(forced[:, b], expected, f"fallback b={b}")
