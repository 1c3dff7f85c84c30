"""The sidebar's "Bring your own weights" expander: an ``.npz`` upload read by
``app.upload``; on success the Settings follow the file, on refusal nothing
but the message changes. Its callbacks run before the script."""

from __future__ import annotations

import streamlit as st
from streamlit.runtime.uploaded_file_manager import UploadedFile

from app import inert, upload, upload_buffers
from app.explorer import session
from app.explorer.state import Settings

UPLOADER_PREFIX = "weights_file_"  # + a counter: a new key empties the uploader
UPLOADER_COUNT_KEY = "_weights_file_count"
UPLOAD_ERROR_KEY = "_weights_error"


def _uploader_key() -> str:
    return UPLOADER_PREFIX + str(st.session_state.get(UPLOADER_COUNT_KEY, 0))


def clear_uploader() -> None:
    state = st.session_state
    state[UPLOADER_COUNT_KEY] = state.get(UPLOADER_COUNT_KEY, 0) + 1
    state.pop(UPLOAD_ERROR_KEY, None)


def _weights_uploaded(key: str) -> None:
    """Read the file just given; on success the settings follow the upload (its
    kind shown and in focus, its H and direction(s)); on refusal nothing changes."""
    state = st.session_state
    file = state.get(key)
    state.pop(UPLOAD_ERROR_KEY, None)
    if file is None:  # the file was removed from the uploader
        _forget_weights()
        return
    # Read once, then let Streamlit's copies go: the manager's now, the widget's
    # UploadedFile at the end of this run (its key changes).
    data = (
        file.getvalue()
        if isinstance(file, UploadedFile) and file.size <= upload.MAX_BYTES
        else None
    )
    upload_buffers.release_this_session()
    clear_uploader()
    if not isinstance(file, UploadedFile):  # replaced by a newer upload before it was read
        state[UPLOAD_ERROR_KEY] = "The file was gone before it was read: upload it again."
        return
    try:
        if data is None:  # refused before reading it
            raise ValueError(
                f"the file is {file.size / 2**20:.1f} MB; the limit is "
                f"{upload.MAX_BYTES // 2**20} MB"
            )
        weights = upload.read_weights(data)
    except ValueError as error:
        # the file's name and the arrays it names are anyone's words: shown as text
        state[UPLOAD_ERROR_KEY] = (
            f"{inert.code(file.name)} was not used: {inert.plain(error)}. Nothing else changed."
        )
        return
    upload.remember(weights, data)
    previous = state[session.SETTINGS_KEY]
    settings = previous.replace(
        weights=weights.digest,
        cells=(*previous.cells, weights.kind),
        focus=weights.kind,
        hidden_size=weights.hidden_size,
        bidirectional=weights.bidirectional,
        reset_after=True if weights.kind == "gru" else previous.reset_after,
        spectral_radius=None,
        recurrent_matrix=None,
    )
    state[session.SETTINGS_KEY] = settings
    session.load_widgets(settings, only_missing=False)


def _forget_weights() -> None:
    state = st.session_state
    settings = state[session.SETTINGS_KEY]
    if settings.weights is not None:
        state[session.SETTINGS_KEY] = settings.replace(weights=None)
    clear_uploader()


def controls(bar, previous: Settings) -> None:
    state = st.session_state
    weights = upload.recall(previous.weights)
    error = state.get(UPLOAD_ERROR_KEY)
    with bar.expander("Bring your own weights", expanded=bool(error) or weights is not None):
        st.file_uploader(
            "A PyTorch RNN, GRU or LSTM layer (.npz)",
            # No ``type``: Streamlit checks the name's extension while it reads the
            # widget, and raises (a traceback on the page) for a name a hostile
            # client sends (".txt", a NUL byte); the contents are checked instead.
            type=None,
            # the page says "5MB per file" and the browser refuses more; the
            # server's own limit is server.maxUploadSize in .streamlit/config.toml
            max_upload_size=upload.MAX_BYTES // 2**20,
            key=_uploader_key(),
            on_change=_weights_uploaded,
            args=(_uploader_key(),),
            help="One layer's state_dict saved with numpy.savez, each name without "
            "“_l0”: weight_ih (G·H, D), weight_hh (G·H, H), bias_ih, bias_hh, and the "
            "same with _reverse if bidirectional. At most 5 MB; plain float arrays "
            "only. The README shows the three lines that write it.",
        )
        if error:
            st.error(error)
        if weights is None:
            st.caption(
                "The cell of the file's kind then runs your weights; the readout and "
                "the input signal are still drawn from the seed."
            )
            return
        st.caption(
            f"Using the uploaded {weights.describe()} H is the file's (the H slider "
            "follows it). The readout and the inputs are drawn from the seed; the "
            "initialisation, forget-gate bias and single-unit weights apply to the "
            "other cells only; the spectral-radius slider and a typed W_hh still act "
            "on its W_hh."
            + (" It runs as PyTorch's GRU: reset gate after W_hn." if weights.kind == "gru" else "")
            + ("" if weights.kind in previous.cells else " Its kind is not among the cells shown.")
        )
        st.button(
            "Forget uploaded weights",
            key="weights_forget",
            on_click=_forget_weights,
            help="Go back to weights drawn from the seed (H stays as it is).",
        )
