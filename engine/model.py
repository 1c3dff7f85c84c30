"""Building a model: its kind, sizes and parameters with PyTorch's names.

Sizes: D inputs, H hidden units, O outputs, G gates (1 for rnn and jordan,
3 for gru, 2 for mgu, 4 for lstm, 3 for lstm without forget gate).
"""

from dataclasses import dataclass, field

import numpy as np

from engine.functions import ACTIVATIONS

KINDS = ("rnn", "jordan", "gru", "mgu", "lstm")

# Gate blocks of weight_ih / weight_hh, in PyTorch's row order, and the names the
# trace gives each gate's activation ("" for the plain rnn, which has no gate).
GATE_ORDER = {
    "rnn": ("",),
    "jordan": ("",),
    "gru": ("reset", "update", "candidate"),
    "mgu": ("forget", "candidate"),
    "lstm": ("input", "forget", "candidate", "output"),
    "lstm_no_forget": ("input", "candidate", "output"),
}


def gate_order(kind, forget_gate=True):
    """Names of the G gate blocks, in the row order of weight_ih and weight_hh."""
    if kind == "lstm" and not forget_gate:
        return GATE_ORDER["lstm_no_forget"]
    return GATE_ORDER[kind]


@dataclass(frozen=True)
class Model:
    """A recurrent network: its configuration and its parameters.

    ``params`` maps PyTorch's names to float64 arrays (shapes in
    ``param_shapes``). Any entry may be replaced by an array of the same shape
    before a simulation; ``simulate`` checks every entry.
    """

    kind: str
    input_size: int
    hidden_size: int
    output_size: int
    activation: str
    bidirectional: bool
    forget_gate: bool
    reset_after: bool
    seed: int
    params: dict = field(compare=False)

    @property
    def gates(self):
        """Names of the G gate blocks in row order (see ``gate_order``)."""
        return gate_order(self.kind, self.forget_gate)

    @property
    def directions(self):
        """Parameter-name suffixes of the directions: ("",) or ("", "_reverse")."""
        return ("", "_reverse") if self.bidirectional else ("",)


def param_shapes(kind, input_size, hidden_size, output_size, bidirectional, forget_gate):
    """Every parameter's name and shape, in initialisation order.

    weight_ih (G·H, D), weight_hh (G·H, H) — jordan (H, O) —, bias_ih and
    bias_hh (G·H,), then the same with suffix "_reverse" when bidirectional,
    then weight_out (O, H) or (O, 2H) and bias_out (O,).
    """
    D, H, O = input_size, hidden_size, output_size
    GH = len(gate_order(kind, forget_gate)) * H
    recurrent = {
        "weight_ih": (GH, D),
        "weight_hh": (H, O) if kind == "jordan" else (GH, H),
        "bias_ih": (GH,),
        "bias_hh": (GH,),
    }
    suffixes = ("", "_reverse") if bidirectional else ("",)
    shapes = {name + s: shape for s in suffixes for name, shape in recurrent.items()}
    shapes["weight_out"] = (O, len(suffixes) * H)
    shapes["bias_out"] = (O,)
    return shapes


def _check_size(name, value):
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise ValueError(f"{name} must be a whole number ≥ 1, got {value!r}")
    return int(value)


def _check_choice(name, value, allowed):
    if value not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, allowed))}, got {value!r}")
    return value


def build(
    kind,
    input_size,
    hidden_size,
    output_size=1,
    *,
    activation="tanh",
    bidirectional=False,
    forget_gate=True,
    reset_after=False,
    seed=0,
):
    """A model of the given kind with PyTorch's default initialisation.

    Recurrent entries are drawn uniform in (−1/√H, 1/√H), the readout's in
    (−1/√F, 1/√F) with F = H, or 2H when bidirectional, in the order of
    ``param_shapes``, from ``numpy.random.default_rng(seed)``.
    """
    _check_choice("kind", kind, KINDS)
    D = _check_size("input_size", input_size)
    H = _check_size("hidden_size", hidden_size)
    O = _check_size("output_size", output_size)
    _check_choice("activation", activation, ACTIVATIONS)
    if kind == "jordan" and bidirectional:
        raise ValueError(
            "bidirectional must be False for kind 'jordan': a Jordan network feeds "
            "back its previous output, which a reverse pass cannot have; got True"
        )
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer):
        raise ValueError(f"seed must be an integer, got {seed!r}")

    rng = np.random.default_rng(seed)
    shapes = param_shapes(kind, D, H, O, bool(bidirectional), bool(forget_gate))
    readout_bound = 1.0 / np.sqrt(shapes["weight_out"][1])
    params = {}
    for name, shape in shapes.items():
        bound = readout_bound if name.endswith("_out") else 1.0 / np.sqrt(H)
        params[name] = rng.uniform(-bound, bound, size=shape)
    return Model(
        kind=kind,
        input_size=D,
        hidden_size=H,
        output_size=O,
        activation=activation,
        bidirectional=bool(bidirectional),
        forget_gate=bool(forget_gate),
        reset_after=bool(reset_after),
        seed=int(seed),
        params=params,
    )


def checked_params(model):
    """The model's parameters as float64 arrays, each checked against its shape.

    A stacked model's (``engine.stack``) entries have the leading M. Raises
    ValueError naming the entry when one is missing, has the wrong shape or
    holds a value that is not finite.
    """
    models = getattr(model, "size", None)  # M for a StackedModel
    lead = () if models is None else (models,)
    shapes = param_shapes(
        model.kind,
        model.input_size,
        model.hidden_size,
        model.output_size,
        model.bidirectional,
        model.forget_gate,
    )
    params = {}
    for name, shape in shapes.items():
        shape = lead + shape
        if name not in model.params:
            raise ValueError(f"params[{name!r}] is missing: expected an array of shape {shape}")
        try:
            value = np.asarray(model.params[name], dtype=np.float64)
        except (TypeError, ValueError) as error:
            raise ValueError(f"params[{name!r}] must be numeric, got {error}") from None
        if value.shape != shape:
            raise ValueError(f"params[{name!r}] must have shape {shape}, got shape {value.shape}")
        if not np.all(np.isfinite(value)):
            raise ValueError(f"params[{name!r}] must be finite, got a nan or inf entry")
        params[name] = value
    return params
