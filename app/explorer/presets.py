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
    # what to look at, in words: the sentence shown measures its numbers on the
    # run (app.preset_text); these words stand in when a cell cannot run
    look_at: str


# The worked example of the course notes 002 (“Problem of BPTT”): one linear unit,
# loss on the last step, so
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
        "travels back in time; the LSTM's (blue) falls far more slowly.",
    ),
    "Vanishing (w = 0.9)": Preset(
        _NOTES_UNIT.replace(recurrent_weight=0.9),
        "One linear unit with w = 0.9: each step back multiplies the gradient by w, so "
        "it vanishes (the worked example of the course notes 002, “Problem of BPTT”).",
    ),
    "Exploding (w = 1.1)": Preset(
        _NOTES_UNIT.replace(recurrent_weight=1.1),
        "One linear unit with w = 1.1: each step back multiplies the gradient by w, so "
        "it explodes (the worked example of the course notes 002, “Problem of BPTT”).",
    ),
    "Clipping tames an explosion": Preset(
        Settings(
            cells=("rnn",),
            focus="rnn",
            activation="linear",
            spectral_radius=1.1,
            clip=1.0,
        ),
        "A linear Elman RNN with spectral radius above 1 explodes; open the Clipping "
        "tab: the update keeps its direction but is scaled down to θ.",
    ),
    "The forget gate carries the gradient": Preset(
        Settings(cells=("lstm",), focus="lstm", seq_len=300, forget_bias=5.0),
        "With a large forget-gate bias the forget gate sits near 1, and the "
        "gradient along the cell state (dotted) is multiplied by f at each step. Lower the "
        "forget-gate bias and watch it fade.",
    ),
    "LSTM without a forget gate": Preset(
        Settings(cells=("lstm", "lstm_nofg"), focus="lstm_nofg", seq_len=200, forget_bias=1.0),
        "Without a forget gate the cell only adds (cₜ = cₜ₋₁ + i ⊙ g): the original 1997 "
        "'constant error carousel'; but the cell can never forget (see it grow under "
        "Inside the cell).",
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
        "One unit each, the same w: the Elman unit multiplies its gradient by w·tanh′ "
        "each step; the GRU's open update gate keeps most of hₜ₋₁ as it is, so its "
        "gradient shrinks far more slowly.",
    ),
    "Truncation cuts the long path": Preset(
        Settings(
            cells=("rnn", "lstm"),
            focus="lstm",
            truncation=25,
        ),
        "Truncated BPTT: no gradient crosses the dotted chunk boundary, so the loss at "
        "the last step reaches back only to the last chunk's start — even through the LSTM.",
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
