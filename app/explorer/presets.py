"""One-click set-ups: name → (Settings, one sentence on what to look at).

Each preset sets every control (a whole ``Settings``). The first is the
screen a newcomer sees: it equals the default ``Settings()``.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.explorer.state import Settings


@dataclass(frozen=True)
class Preset:
    settings: Settings
    look_at: str


# The notes' worked figure (002): one linear unit, loss on the last step, so
# ∂L/∂h_{T−1−n} = w^n · ∂L/∂h_{T−1} exactly.
_NOTES_UNIT = Settings(
    cells=("rnn",),
    focus="rnn",
    hidden_size=1,
    activation="linear",
    input_weight=1.0,
    bias=0.0,
    seq_len=60,
    setup="many_to_one",
    loss="mse",
)

PRESETS: dict[str, Preset] = {
    "Elman against LSTM": Preset(
        Settings(),
        "The Elman RNN's gradient (vermillion) fades by orders of magnitude as it "
        "travels back in time; the LSTM's (blue) levels off and survives all 100 steps.",
    ),
    "Vanishing (w = 0.9)": Preset(
        _NOTES_UNIT.replace(recurrent_weight=0.9),
        "One linear unit with w = 0.9: fifty steps back the gradient is 0.9⁵⁰ ≈ 0.005 "
        "of the last step's — the notes' figure.",
    ),
    "Exploding (w = 1.1)": Preset(
        _NOTES_UNIT.replace(recurrent_weight=1.1),
        "One linear unit with w = 1.1: fifty steps back the gradient is 1.1⁵⁰ ≈ 117 "
        "times the last step's — the notes' figure.",
    ),
    "Clipping tames an explosion": Preset(
        Settings(
            cells=("rnn",),
            focus="rnn",
            activation="linear",
            spectral_radius=1.1,
            clip=1.0,
        ),
        "A linear Elman RNN with spectral radius 1.1 explodes over 100 steps; open "
        "the Clipping tab: the update keeps its direction but is scaled down to θ = 1.",
    ),
    "The forget gate carries the gradient": Preset(
        Settings(cells=("lstm",), focus="lstm", seq_len=300, forget_bias=5.0),
        "With forget-gate bias 5 the forget gate sits near σ(5) ≈ 0.99, and the "
        "gradient along the cell state is multiplied by f at each step: it crosses "
        "300 steps. Lower the forget-gate bias and watch it fade.",
    ),
    "LSTM without a forget gate": Preset(
        Settings(cells=("lstm", "lstm_nofg"), focus="lstm_nofg", seq_len=200, forget_bias=1.0),
        "Without a forget gate the cell only adds (cₜ = cₜ₋₁ + i ⊙ g): its gradient "
        "passes each step unchanged — the original 1997 'constant error carousel' — "
        "but the cell can never forget (see it grow under Inside the cell).",
    ),
    "GRU against Elman": Preset(
        Settings(
            cells=("rnn", "gru"),
            focus="gru",
            hidden_size=1,
            recurrent_weight=0.9,
            gates_by_hand=True,
            gate_bias=3.0,
            seq_len=200,
        ),
        "One unit each, the same w = 0.9: the Elman unit multiplies its gradient by "
        "w·tanh′ < 0.9 each step; the GRU's update gate z ≈ σ(3) ≈ 0.95 keeps most of "
        "hₜ₋₁ as it is, so its gradient shrinks far more slowly.",
    ),
    "Truncation cuts the long path": Preset(
        Settings(
            cells=("rnn", "lstm"),
            focus="lstm",
            truncation=25,
        ),
        "Truncated BPTT with k = 25: no gradient crosses the dotted chunk boundary, so "
        "the loss at the last step reaches back only to step 75 — even through the LSTM.",
    ),
    "Bidirectional: gradient from both ends": Preset(
        Settings(
            cells=("lstm",),
            focus="lstm",
            bidirectional=True,
            setup="many_to_many",
            forget_bias=3.0,
        ),
        "The forward direction (solid) collects gradient from every later step, the "
        "backward direction (dashed) from every earlier one; the T × T map under "
        "'Why it vanishes' shows both triangles.",
    ),
    "ReLU with an identity start": Preset(
        Settings(
            cells=("rnn",),
            focus="rnn",
            activation="relu",
            init="identity",
            spectral_radius=None,
            seq_len=200,
        ),
        "W_hh = I and ReLU (Le, Jaitly & Hinton 2015): every active unit copies "
        "itself forward with slope 1, so the gradient neither vanishes nor explodes.",
    ),
}

DEFAULT_PRESET = "Elman against LSTM"
TANH_NOTE_PRESETS = ("Vanishing (w = 0.9)", "Exploding (w = 1.1)")


def matching_preset(settings: Settings) -> str | None:
    """The name of the preset whose settings equal ``settings`` (display aside), if any."""
    content = settings.content
    for name, preset in PRESETS.items():
        if preset.settings == content:
            return name
    return None
