"""Settings → data: building the models, the input signals and the engine runs.

Pure functions: no Streamlit, no Plotly. The app's caching wrappers
(``app/cached.py``) key each function on a ``CellSpec``, the part of the
settings one cell's run depends on, so changing the list of cells shown
recomputes nothing, and changing the GRU's reset position leaves the LSTM's
run in the cache. The charts built from many runs (the sensitivity map, the
in-chart slider's sweep, the phase diagram) are in ``app/sweeps.py``.

Sizes: T steps, H hidden units, D inputs (1, or the uploaded weights'),
O outputs (2 for cross-entropy, else 1), G gate blocks.
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass

import numpy as np

import engine
from app import upload
from app.explorer.state import Settings

# The app's cell kinds → (engine kind, forget_gate).
ENGINE_KIND = {
    "rnn": ("rnn", True),
    "jordan": ("jordan", True),
    "gru": ("gru", True),
    "mgu": ("mgu", True),
    "lstm": ("lstm", True),
    "lstm_nofg": ("lstm", False),
}
# Each kind's gate blocks in the row order of weight_hh; "main" marks the block
# the notes' single-unit weight w stands for (the candidate, or the whole rnn).
GATE_BLOCKS = {
    "rnn": ("main",),
    "jordan": ("main",),
    "gru": ("reset", "update", "main"),
    "mgu": ("forget", "main"),
    "lstm": ("input", "forget", "main", "output"),
    "lstm_nofg": ("input", "main", "output"),
}
SCORED = {"many_to_one": "last", "many_to_many": "all", "one_to_one": "last"}
SINE_PERIOD = 20  # steps
IMPULSE_BACKGROUND = 0.1  # standard deviation of the faint noise under the spike


@dataclass(frozen=True)
class CellSpec:
    """Everything one cell's run depends on; fields that cannot matter for
    this kind are set to their defaults so that equal runs share a cache entry.

    ``weights``: the digest of uploaded weights this cell starts from (None:
    drawn from the seed); ``input_size`` D is then the upload's, else 1.
    """

    kind: str
    hidden_size: int
    activation: str
    bidirectional: bool
    reset_after: bool
    init: str
    spectral_radius: float | None
    recurrent_matrix: tuple[tuple[float, ...], ...] | None
    input_weight: float
    recurrent_weight: float
    bias: float
    gates_by_hand: bool
    gate_input_weight: float
    gate_recurrent_weight: float
    gate_bias: float
    forget_bias: float
    steps: int
    signal: str
    setup: str
    loss: str
    truncation: int | None
    clip: float | None
    seed: int
    weights: str | None = None
    input_size: int = 1

    @property
    def scored(self) -> str:
        return SCORED[self.setup]

    @property
    def output_size(self) -> int:
        return 2 if self.loss == "cross_entropy" else 1

    @property
    def single_unit(self) -> bool:
        """The notes' single unit, its weights set by hand (never uploaded weights)."""
        return self.hidden_size == 1 and self.weights is None

    def replace(self, **changes) -> CellSpec:
        return dataclasses.replace(self, **changes)


def uploaded_for(settings: Settings, kind: str) -> upload.UploadedWeights | None:
    """The uploaded weights cell ``kind`` starts from, if any (held, and of its kind)."""
    weights = upload.recall(settings.weights)
    return weights if weights is not None and weights.kind == kind else None


def cell_spec(settings: Settings, kind: str) -> CellSpec:
    """The part of ``settings`` that cell ``kind``'s run depends on.

    A cell of the uploaded weights' kind takes their H and D (and, for a GRU,
    PyTorch's reset-after form); the initialisation, the single-unit weights
    and the forget-gate bias do not apply to it.
    """
    uploaded = uploaded_for(settings, kind)
    H = settings.hidden_size if uploaded is None else uploaded.hidden_size
    single = H == 1 and uploaded is None
    gated = kind not in ("rnn", "jordan")
    by_hand = single and gated and settings.gates_by_hand
    matrix = None if single or kind == "jordan" else settings.matrix_for_size
    if matrix is not None and len(matrix) != H:
        matrix = None
    return CellSpec(
        kind=kind,
        hidden_size=H,
        activation=settings.activation,
        bidirectional=settings.bidirectional and kind != "jordan",
        reset_after=kind == "gru" and (settings.reset_after or uploaded is not None),
        init=settings.init if uploaded is None else "uniform",
        spectral_radius=None if single or matrix is not None else settings.spectral_radius,
        recurrent_matrix=matrix,
        input_weight=settings.input_weight if single else 1.0,
        recurrent_weight=settings.recurrent_weight if single else 0.9,
        bias=settings.bias if single else 0.0,
        gates_by_hand=by_hand,
        gate_input_weight=settings.gate_input_weight if by_hand else 0.0,
        gate_recurrent_weight=settings.gate_recurrent_weight if by_hand else 0.0,
        gate_bias=settings.gate_bias if by_hand else 0.0,
        forget_bias=settings.forget_bias if kind == "lstm" and uploaded is None else 0.0,
        steps=settings.steps,
        signal=settings.signal,
        setup=settings.setup,
        loss=settings.loss,
        truncation=settings.truncation,
        clip=settings.clip,
        seed=settings.seed,
        weights=None if uploaded is None else uploaded.digest,
        input_size=1 if uploaded is None else uploaded.input_size,
    )


# ---- signals ----------------------------------------------------------------


def make_inputs(spec: CellSpec, batch: int | None = None) -> np.ndarray:
    """The input signal: (T, D), or (T, B, D) for a batch of B noise draws.

    noise: N(0, 1) each step and input; impulse: 1 at the first step over
    faint noise; sine: period 20 steps; constant: 1; impulse_zeros: 1 then
    exact zeros (one-to-many). D = ``spec.input_size`` (1 unless uploaded);
    input 0 is the same for every D, so an uploaded cell with several inputs
    reads the other cells' signal on its first input.
    """
    T, D = spec.steps, spec.input_size
    shape = (T, D) if batch is None else (T, batch, D)
    rng = np.random.default_rng([spec.seed, 1])  # apart from the weights' stream
    t = np.arange(T, dtype=np.float64).reshape((T,) + (1,) * (len(shape) - 1))

    def noise() -> np.ndarray:  # input by input: input 0 takes the first draws
        return np.moveaxis(rng.standard_normal((D, *shape[:-1])), 0, -1)

    if spec.signal == "noise":
        return noise()
    if spec.signal == "impulse":
        x = IMPULSE_BACKGROUND * noise()
        x[0] = 1.0
        return x
    if spec.signal == "sine":
        return np.broadcast_to(np.sin(2 * np.pi * t / SINE_PERIOD), shape).copy()
    if spec.signal == "constant":
        return np.ones(shape)
    x = np.zeros(shape)
    x[0] = 1.0
    return x


def make_targets(spec: CellSpec, batch: int | None = None) -> np.ndarray:
    """Targets (T, O) or (T, B, O): 1 for mse and bce, class 0 for cross-entropy.

    The network is not trained, so the target only has to leave an error
    y − target that is not zero.
    """
    O = spec.output_size
    shape = (spec.steps, O) if batch is None else (spec.steps, batch, O)
    targets = np.zeros(shape)
    targets[..., 0] = 1.0
    return targets


# ---- models -----------------------------------------------------------------


def spectral_radius(matrix: np.ndarray) -> float:
    """max |eigenvalue| of a square matrix."""
    return float(np.max(np.abs(np.linalg.eigvals(matrix)))) if matrix.size else 0.0


def _initial_block(init: str, H: int, rng: np.random.Generator, uniform: np.ndarray):
    """One H×H recurrent block drawn by ``init``; ``uniform`` is PyTorch's draw."""
    if init == "uniform":
        return uniform
    if init == "orthogonal":
        q, r = np.linalg.qr(rng.standard_normal((H, H)))
        return q * np.sign(np.diag(r))  # Haar-distributed, as torch.nn.init.orthogonal_
    if init == "identity":
        return np.eye(H)
    return rng.standard_normal((H, H)) / np.sqrt(H)  # gaussian, variance 1/H


@functools.lru_cache(maxsize=128)
def _drawn_radii(spec: CellSpec) -> dict[tuple[str, int], float]:
    """(direction suffix, block) → ρ of that block of W_hh as drawn (Jordan:
    of its loop), for a spec without rescaling. Cached: the in-chart slider
    rescales the same draw 51 times, and eigenvalues of 256 × 256 blocks cost."""
    model = build_model(spec)
    H = spec.hidden_size
    radii = {}
    for suffix in model.directions:
        w_hh = model.params["weight_hh" + suffix]
        if spec.kind == "jordan":
            radii[(suffix, 0)] = spectral_radius(model.params["weight_out"] @ w_hh)
            continue
        for g in range(len(GATE_BLOCKS[spec.kind])):
            radii[(suffix, g)] = spectral_radius(w_hh[g * H : (g + 1) * H])
    return radii


def draw_key(spec: CellSpec) -> CellSpec:
    """The spec reduced to what the draw of W_hh depends on."""
    return spec.replace(
        spectral_radius=None,
        recurrent_matrix=None,
        steps=2,
        signal="noise",
        setup="many_to_one",
        truncation=None,
        clip=None,
        activation="tanh",
        forget_bias=0.0,
        input_weight=1.0,
        recurrent_weight=0.9,
        bias=0.0,
        gates_by_hand=False,
        gate_input_weight=0.0,
        gate_recurrent_weight=0.0,
        gate_bias=0.0,
        loss="mse" if spec.output_size == 1 else spec.loss,
    )


def _rescale_factor(spec: CellSpec, suffix: str, block: int) -> float:
    current = _drawn_radii(draw_key(spec))[(suffix, block)]
    return 1.0 if current == 0.0 else spec.spectral_radius / current


def build_model(spec: CellSpec):
    """The engine model for ``spec``, its weights set as the settings say.

    Order: PyTorch's uniform draw (engine.build); then per direction the
    recurrent blocks by ``init``, or the uploaded arrays; W_hh typed in by
    hand, or every gate block rescaled to ``spectral_radius``; the single-unit
    weights when H = 1; the LSTM's forget-gate bias (bias_ih = b_f,
    bias_hh = 0), unless uploaded. The readout is always drawn from the seed.

    ValueError when the uploaded weights are no longer held or do not fit.
    """
    engine_kind, forget_gate = ENGINE_KIND[spec.kind]
    uploaded = _uploaded(spec)
    model = engine.build(
        engine_kind,
        spec.input_size,
        spec.hidden_size,
        spec.output_size,
        activation=spec.activation,
        bidirectional=spec.bidirectional,
        forget_gate=forget_gate,
        reset_after=spec.reset_after,
        seed=spec.seed,
    )
    H = spec.hidden_size
    blocks = GATE_BLOCKS[spec.kind]
    main = blocks.index("main")
    rng = np.random.default_rng([spec.seed, 2])
    params = model.params
    for suffix in model.directions:
        w_hh = params["weight_hh" + suffix]
        from_file = uploaded is not None and "weight_hh" + suffix in uploaded.arrays
        if from_file:
            for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
                params[name + suffix][...] = uploaded.arrays[name + suffix]
        if spec.kind == "jordan":
            _set_jordan_loop(spec, params, suffix, rng)
        else:
            for g in range(len(blocks)):
                rows = slice(g * H, (g + 1) * H)
                if not from_file:
                    w_hh[rows] = _initial_block(spec.init, H, rng, w_hh[rows])
                if spec.recurrent_matrix is not None and g == main:
                    w_hh[rows] = np.array(spec.recurrent_matrix)
                elif spec.spectral_radius is not None and not spec.single_unit:
                    w_hh[rows] *= _rescale_factor(spec, suffix, g)
        if spec.single_unit:
            _set_single_unit(spec, params, suffix, blocks)
        if spec.kind == "lstm" and not from_file:
            forget = slice(H, 2 * H)
            params["bias_ih" + suffix][forget] = spec.forget_bias
            params["bias_hh" + suffix][forget] = 0.0
    if spec.single_unit:
        O = spec.output_size
        # the notes' w_out = 1 (with two classes: +1, −1, so the error reaches h)
        params["weight_out"][:] = np.array([1.0, -1.0][:O]).reshape(O, 1)
        params["bias_out"][:] = 0.0
    return model


def _uploaded(spec: CellSpec) -> upload.UploadedWeights | None:
    if spec.weights is None:
        return None
    weights = upload.recall(spec.weights)
    if weights is None:
        raise ValueError(
            f"the uploaded weights {spec.weights} are not on this server; upload the file again"
        )
    fits = (weights.kind, weights.hidden_size, weights.input_size) == (
        spec.kind,
        spec.hidden_size,
        spec.input_size,
    )
    if not fits:
        raise ValueError(
            f"the uploaded weights are a {weights.kind} with H = {weights.hidden_size}, "
            f"D = {weights.input_size}; this cell is a {spec.kind} with H = "
            f"{spec.hidden_size}, D = {spec.input_size}"
        )
    return weights


def _set_jordan_loop(spec, params, suffix, rng):
    """Jordan's W_hh is (H, O): it closes the loop h → y → h. Its loop matrix
    W_hh·W_out (H×H) has the same non-zero eigenvalues as W_out·W_hh; the
    spectral radius rescales W_hh so that the loop's largest |eigenvalue| is ρ."""
    w_hh = params["weight_hh" + suffix]
    H, O = w_hh.shape
    if spec.init == "orthogonal":
        q, _ = np.linalg.qr(rng.standard_normal((H, O)))
        w_hh[:] = q
    elif spec.init == "identity":
        w_hh[:] = np.eye(H, O)
    elif spec.init == "gaussian":
        w_hh[:] = rng.standard_normal((H, O)) / np.sqrt(O)
    if spec.spectral_radius is not None and not spec.single_unit:
        w_hh *= _rescale_factor(spec, suffix, 0)


def _set_single_unit(spec, params, suffix, blocks):
    """H = 1: the notes' cell a = w_in x + w_h h + b for the main block; the
    gates keep their draw unless set by hand."""
    for g, block in enumerate(blocks):
        if block == "main":
            w_in, w_h, b = spec.input_weight, spec.recurrent_weight, spec.bias
        elif spec.gates_by_hand:
            w_in, w_h, b = (
                spec.gate_input_weight,
                spec.gate_recurrent_weight,
                spec.gate_bias,
            )
        else:
            continue
        params["weight_ih" + suffix][g, 0] = w_in
        params["weight_hh" + suffix][g, :] = w_h
        params["bias_ih" + suffix][g] = b
        params["bias_hh" + suffix][g] = 0.0


# ---- runs -------------------------------------------------------------------


@dataclass(frozen=True)
class CellRun:
    """One cell's engine run: its model's parameters and trace, or why it failed.

    ``error`` is the engine's ValueError message when the settings were
    refused (then ``trace`` and ``params`` are None).
    """

    spec: CellSpec
    params: dict | None
    trace: object | None
    error: str | None = None


def run_cell(spec: CellSpec, reuse: CellRun | None = None) -> CellRun:
    """Build and simulate one cell on the settings' input and seed; ``reuse``:
    an earlier run the engine may copy forward steps from (same result)."""
    try:
        model = build_model(spec)
        trace = engine.simulate(
            model,
            make_inputs(spec),
            make_targets(spec),
            loss=spec.loss,
            scored=spec.scored,
            truncate=spec.truncation,
            clip=spec.clip,
            reuse=None if reuse is None else reuse.trace,
        )
    except ValueError as error:
        return CellRun(spec, None, None, str(error))
    params = {k: v.copy() for k, v in model.params.items()}
    return CellRun(spec, params, trace)


# f′ at a_t from h_t = f(a_t) itself (tanh′ = 1 − h², σ′ = h(1 − h), ReLU′ = [h > 0]).
SLOPES = {
    "tanh": lambda h: 1.0 - h * h,
    "sigmoid": lambda h: h * (1.0 - h),
    "relu": lambda h: (h > 0).astype(np.float64),
    "linear": np.ones_like,
}


def mean_slope(activation: str, hidden: np.ndarray) -> float:
    """f̄′: the mean of f′(a_τ) over the steps τ = 1 … T−1 and every unit, from
    the states h_τ (T, H) of a run (nan for T < 2)."""
    if len(hidden) < 2:
        return float("nan")
    return float(np.mean(SLOPES[activation](hidden[1:])))


def norms_over_time(grad: np.ndarray | None) -> np.ndarray | None:
    """(T, H) → (T,) Euclidean norm per step (nan where not finite)."""
    if grad is None:
        return None
    with np.errstate(all="ignore"):
        norms = np.sqrt(np.sum(grad * grad, axis=-1))
        big = np.max(np.abs(grad), axis=-1)
        # where the squares overflow, scale by the largest entry first
        redo = ~np.isfinite(norms) & np.isfinite(big) & (big > 0)
        if redo.any():
            scaled = grad[redo] / big[redo, None]
            norms[redo] = big[redo] * np.sqrt(np.sum(scaled * scaled, axis=-1))
    norms[~np.isfinite(norms)] = np.nan
    return norms


def finite_mean(values: np.ndarray, axis: int | None = None) -> np.ndarray | float:
    """Mean of the finite entries (nan where there are none), without warnings."""
    values = np.asarray(values, dtype=np.float64)
    finite = np.isfinite(values)
    total = np.sum(np.where(finite, values, 0.0), axis=axis)
    count = np.sum(finite, axis=axis)
    with np.errstate(all="ignore"):
        mean = np.where(count > 0, total / np.maximum(count, 1), np.nan)
    return float(mean) if axis is None else mean


def gradient_ratio(norms: np.ndarray, steps_back: int) -> float | None:
    """‖∂L/∂h_{T−1−n}‖ / ‖∂L/∂h_{T−1}‖ for n = ``steps_back``, or None."""
    T = norms.shape[0]
    if steps_back >= T or not norms[-1] > 0:
        return None
    ratio = norms[T - 1 - steps_back] / norms[-1]
    return float(ratio) if np.isfinite(ratio) else None


def product_bound(jacobian_norms: np.ndarray, last_norm: float) -> np.ndarray:
    """(T,) ‖∂L/∂h_{T−1}‖ · Π_{τ=t+1}^{T−1} ‖∂s_τ/∂s_{τ−1}‖, the bound on ‖∂L/∂h_t‖
    when only the last step is scored (submultiplicativity of the norm)."""
    T = jacobian_norms.shape[0]
    with np.errstate(all="ignore"):
        logs = np.log(np.asarray(jacobian_norms, dtype=np.float64))
        # suffix sums: after[t] = Σ_{τ>t} log ‖J_τ‖
        after = np.concatenate([np.cumsum(logs[::-1])[::-1][1:], [0.0]])
        bound = last_norm * np.exp(after)
    bound = np.where(np.isfinite(bound), bound, np.nan)
    return bound[:T]


def drawn_radius(spec: CellSpec) -> float:
    """The spectral radius of W_hh as initialised (no rescaling, no typed matrix):
    of the main block (the candidate's for gated cells), or of a Jordan
    network's loop W_out·W_hh."""
    return _drawn_radii(draw_key(spec))[("", GATE_BLOCKS[spec.kind].index("main"))]


def recurrent_eigenvalues(spec: CellSpec, params: dict) -> dict[str, np.ndarray]:
    """Eigenvalues of each gate block of W_hh (forward direction), by block name.

    Jordan: of the loop matrix W_out·W_hh (O×O), the non-zero eigenvalues of
    its H×H loop."""
    H = spec.hidden_size
    w_hh = params["weight_hh"]
    if spec.kind == "jordan":
        return {"main": np.linalg.eigvals(params["weight_out"] @ w_hh)}
    blocks = GATE_BLOCKS[spec.kind]
    return {name: np.linalg.eigvals(w_hh[g * H : (g + 1) * H]) for g, name in enumerate(blocks)}


# ---- downsampling for heatmaps ------------------------------------------------


def sample_steps(T: int, at_most: int = 300) -> np.ndarray:
    """Indices of at most ``at_most`` evenly spread steps of 0 … T−1 (all if fewer)."""
    if at_most >= T:
        return np.arange(T)
    return np.unique(np.round(np.linspace(0, T - 1, at_most)).astype(int))
