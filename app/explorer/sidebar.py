"""The sidebar: presets and every control. ``render`` draws them and returns
the chosen ``Settings``.

Each widget has a stable key and is initialised from the current Settings
through Session State (never through its ``value=`` argument), so presets
and links can set every control; ``app.session`` keeps that state. The
callbacks here run before the script, so they may set any widget's state.
"""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np
import pandas as pd
import streamlit as st

from app import cached, upload
from app.compute import GATE_BLOCKS, cell_spec, spectral_radius
from app.explorer import lecture, presenter, session, weights_panel
from app.explorer.presets import PRESETS, matching_preset
from app.explorer.state import DISPLAY_FIELDS, FIELD_BY_NAME, LECTURE_FIELDS, Settings
from app.links import CELL_KINDS, CELL_NAMES, MAX_GRID_SIZE, THEMES, check_value
from app.sweeps import RADIUS_STEP

PRESET_KEY = "preset"
MATRIX_EDITOR_PREFIX = "recurrent_matrix_editor_"
THEME_NAMES = {"light": "Light", "dark": "Dark"}

INIT_NAMES = {
    "uniform": "PyTorch's uniform (±1/√H)",
    "orthogonal": "Orthogonal",
    "identity": "Identity",
    "gaussian": "Gaussian (variance 1/H)",
}
ACTIVATION_NAMES = {"tanh": "tanh", "relu": "ReLU", "sigmoid": "sigmoid", "linear": "linear (none)"}
SIGNAL_NAMES = {
    "noise": "White noise",
    "impulse": "Impulse at the first step",
    "sine": "Sine wave",
    "constant": "Constant",
    "impulse_zeros": "Impulse then zeros (one-to-many)",
}
SETUP_NAMES = {
    "many_to_one": "Many-to-one: loss on the last step",
    "many_to_many": "Many-to-many: loss summed over steps",
    "one_to_one": "One-to-one: a single step (T = 1)",
}
LOSS_NAMES = {
    "mse": "Mean squared error",
    "bce": "Binary cross-entropy",
    "cross_entropy": "Cross-entropy (2 classes)",
}


# ---- callbacks (run before the script, so they may set any widget's state) ---------


def _apply_preset() -> None:
    name = st.session_state.get(PRESET_KEY)
    if name in PRESETS:
        previous = st.session_state[session.SETTINGS_KEY]
        display = {n: getattr(previous, n) for n in DISPLAY_FIELDS + LECTURE_FIELDS}
        settings = PRESETS[name].settings.replace(**display)
        st.session_state[session.SETTINGS_KEY] = settings
        session.load_widgets(settings, only_missing=False)
        if previous.weights is not None:
            weights_panel.clear_uploader()
            session.notice(
                "The preset draws its weights from the seed: the uploaded weights are "
                "no longer used (upload the file again to use them)."
            )


def _check_cells() -> None:
    state = st.session_state
    if not state.get("cells"):
        previous = state[session.SETTINGS_KEY].cells
        state["cells"] = list(previous)
        session.notice(
            "Choose at least one cell to show; kept "
            + ", ".join(CELL_NAMES[c] for c in previous)
            + "."
        )


def _radius_moved() -> None:
    # onto the slider's grid (the in-chart slider's values): from W_hh as drawn
    # (say 0.630) a key press moves by a step and lands on 0.70 or 0.60
    state = st.session_state
    on_grid = float(
        np.clip(round(round(state["spectral_radius"] / RADIUS_STEP) * RADIUS_STEP, 2), 0.0, 3.0)
    )
    state["spectral_radius"] = on_grid
    settings = state[session.SETTINGS_KEY]
    state[session.SETTINGS_KEY] = settings.replace(spectral_radius=on_grid, recurrent_matrix=None)


def _radius_as_drawn() -> None:
    settings = st.session_state[session.SETTINGS_KEY]
    st.session_state[session.SETTINGS_KEY] = settings.replace(spectral_radius=None)


def _show_drawn_radius(previous: Settings) -> float | None:
    """While W_hh is as drawn, its slider shows the drawn ρ (of the current
    H, initialisation and seed, read from the widgets' state)."""
    state = st.session_state
    try:
        draft = previous.replace(
            hidden_size=state["hidden_size"], init=state["init"], seed=state["seed"]
        )
    except (KeyError, ValueError):
        return None
    if draft.single_unit:
        return None
    radius = cached.drawn_radius(cell_spec(draft, draft.focus_cell))
    # the very ρ the caption under it, the eigenvalues and the charts give (one
    # number, three decimals); a move snaps it onto the grid (_radius_moved)
    state["spectral_radius"] = float(np.clip(round(radius, 3), 0.0, 3.0))
    return radius


def _forget_matrix() -> None:
    settings = st.session_state[session.SETTINGS_KEY]
    st.session_state[session.SETTINGS_KEY] = settings.replace(recurrent_matrix=None)


# ---- drawing ----------------------------------------------------------------------------


def render(shown: Settings) -> Settings:
    """Draw the sidebar; return the Settings its controls now hold. ``shown``:
    the Settings the page was drawn with (``session.expected``), whose preset,
    if any, the preset pills show."""
    previous = session.start_session()
    state = st.session_state
    state[PRESET_KEY] = matching_preset(shown)
    drawn = _show_drawn_radius(previous) if previous.spectral_radius is None else None
    chosen: dict[str, Any] = {}
    bar = st.sidebar

    bar.title("Gradient Flow Lab")
    with bar.container(horizontal=True, vertical_alignment="center", key="display"):
        chosen["projector"] = st.toggle(
            "Projector mode",
            key="projector",
            help="Larger fonts, thicker lines and stronger contrast in every chart, "
            "for the back row of a lecture hall.",
        )
        chosen["theme"] = (
            st.segmented_control(
                "Chart theme",
                list(THEMES),
                format_func=THEME_NAMES.get,
                key="theme",
                required=True,
                label_visibility="collapsed",
                help="Light (the default) or dark chart backgrounds.",
            )
            or previous.theme
        )
    presenter.entry(bar)
    lecture.lock_control(bar, previous)
    bar.pills(
        "Presets — one click sets every control",
        list(PRESETS),
        selection_mode="single",
        key=PRESET_KEY,
        on_change=_apply_preset,
        help="Each preset is a ready-made experiment; a sentence above the charts "
        "says what to look at. Change any control afterwards to explore.",
    )

    bar.header("Cells")
    chosen["cells"] = tuple(
        bar.pills(
            "Cells to show (same input and seed)",
            list(CELL_KINDS),
            selection_mode="multi",
            format_func=CELL_NAMES.get,
            key="cells",
            on_change=_check_cells,
            help="Pick one or several; each runs on the identical input sequence "
            "and random seed, and keeps its colour in every chart.",
        )
        or previous.cells
    )
    if session.drawn("focus", chosen["cells"]):
        if state.get("focus") not in chosen["cells"]:
            state["focus"] = chosen["cells"][0]
        chosen["focus"] = bar.selectbox(
            "Cell for the detail views",
            list(chosen["cells"]),
            format_func=CELL_NAMES.get,
            key="focus",
            help="The heatmaps, eigenvalues, clipping bars and phase diagram show one "
            "cell at a time: this one.",
        )
    else:
        chosen["focus"] = chosen["cells"][0]
    chosen["bidirectional"] = bar.toggle(
        "Bidirectional (read the sequence both ways)",
        key="bidirectional",
        help="A second copy of each cell reads the sequence from last to first; the "
        "output at each step sees both. A Jordan network cannot be bidirectional.",
    )
    if session.drawn("reset_after", chosen["cells"]):
        chosen["reset_after"] = bar.radio(
            "GRU: where the reset gate applies",
            [False, True],
            format_func=lambda after: (
                "after W_hn (PyTorch, cuDNN)" if after else "before W_hn (Cho et al. 2014)"
            ),
            key="reset_after",
            help="Before: n = act(W_in x + W_hn (r ⊙ h) + b). "
            "After: n = act(W_in x + r ⊙ (W_hn h + b_hn)).",
        )

    bar.header("Size and weights")
    uploaded = upload.recall(previous.weights)
    chosen["hidden_size"] = bar.slider(
        "Hidden size H (units)",
        1,
        256,
        key="hidden_size",
        disabled=uploaded is not None,
        help="The number of hidden units. At 1 the cell is the single unit of course "
        "notes 000 (BPTT, eq. 5–11) and 002 (“Problem of BPTT”), "
        "with its weights set by hand below.",
    )
    if uploaded is not None:
        bar.caption(
            f"H = {uploaded.hidden_size} comes from the uploaded weights "
            "(forget them under “Bring your own weights” to choose H)."
        )
    if session.drawn("recurrent_weight", chosen["cells"], chosen["hidden_size"]):
        _single_unit_controls(bar, chosen)
    else:
        _matrix_controls(bar, chosen, previous, drawn)
    chosen["activation"] = bar.selectbox(
        "Activation",
        list(ACTIVATION_NAMES),
        format_func=ACTIVATION_NAMES.get,
        key="activation",
        help="The non-linearity of the hidden state (gates always use the sigmoid). "
        "Its slope multiplies the gradient at every step: tanh′ ≤ 1, sigmoid′ ≤ ¼.",
    )
    if session.drawn("forget_bias", chosen["cells"]):
        chosen["forget_bias"] = bar.slider(
            "LSTM forget-gate bias",
            -5.0,
            10.0,
            step=0.5,
            key="forget_bias",
            help="Added inside the forget gate f = σ(… + b_f). Large b_f keeps f near 1, "
            "so the cell state — and its gradient — passes each step almost unchanged.",
        )

    bar.header("Sequence and loss")
    chosen["setup"] = bar.selectbox(
        "Set-up",
        list(SETUP_NAMES),
        format_func=SETUP_NAMES.get,
        key="setup",
        help="Which outputs the loss scores (notes 002).",
    )
    chosen["seq_len"] = bar.slider(
        "Sequence length T (steps)",
        2,
        2000,
        key="seq_len",
        disabled=chosen["setup"] == "one_to_one",
        help="How many time steps the network reads. One-to-one uses a single step.",
    )
    chosen["last_steps"] = _optional_number(
        bar,
        "last_steps",
        toggle_label="Gradient flow: show only the last steps",
        label="Steps shown, counted back from the end",
        min_value=2,
        max_value=2000,
        step=10,
        help="Zoom the gradient-flow chart on the last N steps: at T = 2000 the "
        "steps where a gradient vanishes are otherwise a stroke at the right edge.",
    )
    chosen["signal"] = bar.selectbox(
        "Input signal",
        list(SIGNAL_NAMES),
        format_func=SIGNAL_NAMES.get,
        key="signal",
        help="What the network reads at each step (one number per step).",
    )
    chosen["loss"] = bar.selectbox(
        "Loss",
        list(LOSS_NAMES),
        format_func=LOSS_NAMES.get,
        key="loss",
        help="For each, ∂Lₜ/∂pₜ = yₜ − targetₜ. Targets: 1 (mse, bce), class 0 (cross-entropy).",
    )

    bar.header("Training tricks")
    chosen["truncation"] = _optional_number(
        bar,
        "truncation",
        toggle_label="Truncate backpropagation (TBPTT)",
        label="Truncation window k (steps)",
        min_value=1,
        max_value=2000,
        step=1,
        help="Cut the sequence into chunks of k steps; no gradient crosses a chunk "
        "boundary (detach() between chunks).",
    )
    chosen["clip"] = _optional_number(
        bar,
        "clip",
        toggle_label="Clip the gradient norm",
        label="Clipping threshold θ",
        min_value=1e-6,
        max_value=1e6,
        step=0.1,
        fmt="%g",
        help="If the norm of all parameters' gradients together exceeds θ, scale them "
        "all down so that it equals θ (Pascanu et al. 2013).",
    )
    chosen["seed"] = bar.number_input(
        "Random seed",
        min_value=0,
        max_value=2**31 - 1,
        step=1,
        key="seed",
        help="Draws the weights and the noise. The same seed gives the same run.",
    )

    lecture.compare_controls(bar, chosen, chosen["hidden_size"] == 1, _optional_number)
    weights_panel.controls(bar, previous)

    grid_slot = chosen.pop("_grid_slot", None)
    if grid_slot is not None:
        _matrix_grid(grid_slot, chosen, previous)
    settings = session.collect(previous, chosen)
    state[session.SETTINGS_KEY] = settings
    session.sync_link(settings)
    _link_controls(bar, settings)
    return settings


def _link_controls(bar, settings: Settings) -> None:
    """The link to exactly these charts, with a copy button (st.code has one)."""
    bar.caption(
        "Link to exactly these charts (every setting and the seed): copy it with "
        "the button at its right, or from the address bar."
    )
    bar.code(session.share_url(settings), language=None, wrap_lines=True)


def _optional_number(bar, name, *, toggle_label, label, help, fmt=None, **limits):
    on = bar.toggle(toggle_label, key=name + "_on", help=help)
    value = bar.number_input(label, key=name, disabled=not on, format=fmt, help=help, **limits)
    return value if on else None


def _single_unit_controls(bar, chosen: dict) -> None:
    bar.caption(
        "One unit: hₜ = act(wₓ·xₜ + w·hₜ₋₁ + b), the single unit of course notes 000 and 002."
    )
    chosen["input_weight"] = bar.slider(
        "Input weight wₓ",
        -3.0,
        3.0,
        step=0.05,
        key="input_weight",
        help="Multiplies the input xₜ.",
    )
    chosen["recurrent_weight"] = bar.slider(
        "Recurrent weight w",
        -3.0,
        3.0,
        step=0.01,
        key="recurrent_weight",
        help="Multiplies hₜ₋₁. With a linear unit the gradient n steps back is "
        "wⁿ times the last step's: 0.9 vanishes, 1.1 explodes. For gated cells this "
        "is the candidate's weight.",
    )
    chosen["bias"] = bar.slider(
        "Bias b", -3.0, 3.0, step=0.05, key="bias", help="Added inside the activation."
    )
    with bar.expander("Gate weights (gated cells)"):
        chosen["gates_by_hand"] = st.toggle(
            "Set the gate weights by hand",
            key="gates_by_hand",
            help="Off: the gates keep their random start. On: every gate uses the "
            "three values below (the LSTM's forget gate keeps its own bias).",
        )
        disabled = not chosen["gates_by_hand"]
        chosen["gate_input_weight"] = st.slider(
            "Gates' input weight",
            -3.0,
            3.0,
            step=0.05,
            key="gate_input_weight",
            disabled=disabled,
            help="Multiplies xₜ inside every gate.",
        )
        chosen["gate_recurrent_weight"] = st.slider(
            "Gates' recurrent weight",
            -3.0,
            3.0,
            step=0.05,
            key="gate_recurrent_weight",
            disabled=disabled,
            help="Multiplies hₜ₋₁ inside every gate.",
        )
        chosen["gate_bias"] = st.slider(
            "Gates' bias",
            -5.0,
            5.0,
            step=0.1,
            key="gate_bias",
            disabled=disabled,
            help="Sets where the gates sit: σ(3) ≈ 0.95 keeps a GRU's update gate open.",
        )


def _matrix_controls(bar, chosen: dict, previous: Settings, drawn: float | None) -> None:
    chosen["init"] = bar.selectbox(
        "Recurrent weights W_hh: initialisation",
        list(INIT_NAMES),
        format_func=INIT_NAMES.get,
        key="init",
        help="How W_hh is drawn (each gate's H × H block). Identity with ReLU is the "
        "IRNN of Le et al. 2015.",
    )
    value = bar.slider(
        "Spectral radius ρ of W_hh (largest |eigenvalue|)",
        0.0,
        3.0,
        step=RADIUS_STEP,
        format="%.3f" if previous.spectral_radius is None else "%.2f",
        key="spectral_radius",
        on_change=_radius_moved,
        help="Moving it rescales W_hh (each gate's block; Jordan: its loop through the "
        "output) so that its largest |eigenvalue| is ρ. Below 1 gradients tend to "
        "vanish, above 1 to explode.",
    )
    if previous.spectral_radius is None:
        chosen["spectral_radius"] = None
        if drawn is not None:
            uploaded = upload.recall(previous.weights)
            how = "uploaded" if uploaded and uploaded.kind == previous.focus_cell else "drawn"
            bar.caption(f"W_hh as {how}: ρ = {drawn:.3f}. Move the slider to rescale it.")
    else:
        chosen["spectral_radius"] = value
        bar.button(
            "Use W_hh as drawn",
            key="spectral_radius_reset",
            on_click=_radius_as_drawn,
            help="Undo the rescaling: W_hh as the initialisation drew it.",
        )
    if chosen["hidden_size"] <= MAX_GRID_SIZE:
        # drawn once every control is read: the matrix depends on the seed below
        chosen["_grid_slot"] = bar.container()


def _matrix_grid(bar, chosen: dict, previous: Settings) -> None:
    """W_hh cell by cell (for gated cells the candidate's block)."""
    H = chosen["hidden_size"]
    draft = previous.replace(**{k: v for k, v in chosen.items() if k != "recurrent_matrix"})
    kinds = [k for k in chosen["cells"] if k != "jordan"]
    if not kinds:
        bar.caption("A Jordan network feeds back its output: no H × H matrix to edit.")
        return
    matrix = draft.matrix_for_size
    kind = chosen["focus"] if chosen["focus"] in kinds else kinds[0]
    if matrix is None:
        run = cached.cell_run(cell_spec(draft, kind))
        if run.params is None:
            return
        main = GATE_BLOCKS[kind].index("main")
        matrix = run.params["weight_hh"][main * H : (main + 1) * H]
    base = np.array(matrix, dtype=np.float64)
    digest = hashlib.sha1(base.tobytes()).hexdigest()[:10]
    bar.caption(
        f"W_hh of the {CELL_NAMES[kind]}"
        + ("" if kind == "rnn" else " (its candidate block)")
        + f" — spectral radius {spectral_radius(base):.3f}. Edit a cell to set it by hand."
    )
    edited = bar.data_editor(
        pd.DataFrame(np.round(base, 4), columns=[f"h{j}" for j in range(H)]),
        key=MATRIX_EDITOR_PREFIX + digest,
        hide_index=True,
        num_rows="fixed",
    )
    values = np.asarray(edited, dtype=np.float64) if edited is not None else base
    if values.shape == base.shape and not np.allclose(values, np.round(base, 4), equal_nan=False):
        try:
            chosen["recurrent_matrix"] = check_value(
                FIELD_BY_NAME["recurrent_matrix"], values.tolist()
            )
        except ValueError:
            st.sidebar.warning(
                "Each entry of W_hh must be a number within ±100; kept the last matrix."
            )
    elif previous.matrix_for_size is not None:
        chosen["recurrent_matrix"] = previous.recurrent_matrix
    if previous.matrix_for_size is not None:
        bar.button(
            "Forget my W_hh",
            key="recurrent_matrix_reset",
            on_click=_forget_matrix,
            help="Go back to the drawn matrix (initialisation and spectral radius).",
        )
