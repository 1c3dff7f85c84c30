"""Bring your own weights: a PyTorch state_dict exported to .npz, read, checked,
run; every refusal names the array and the reason; the app's other settings
stay as they were.

The exports are written with numpy alone, in PyTorch's layout: a one-layer
``nn.RNN``/``nn.GRU``/``nn.LSTM`` ``state_dict`` has ``weight_ih_l0`` (G·H, D),
``weight_hh_l0`` (G·H, H), ``bias_ih_l0`` and ``bias_hh_l0`` (G·H,), float32,
and ``..._l0_reverse`` when bidirectional; the README's export drops ``_l0``.
"""

from __future__ import annotations

import io
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import engine  # noqa: E402
from app import compute, upload  # noqa: E402
from app.compute import build_model, cell_spec, make_inputs, make_targets  # noqa: E402
from app.explorer.state import Settings  # noqa: E402
from app.links import CELL_NAMES  # noqa: E402

APP = str(ROOT / "app" / "streamlit_app.py")
GATES = {"rnn": 1, "gru": 3, "lstm": 4}


def state_dict(kind, D=2, H=3, *, bidirectional=False, bias=True, seed=0):
    """What ``torch.nn.<kind>(D, H, bidirectional=…, bias=…).state_dict()`` holds,
    as float32 numpy arrays under PyTorch's names."""
    rng = np.random.default_rng(seed)
    rows = GATES[kind] * H
    out = {}
    for suffix in ("_l0", "_l0_reverse") if bidirectional else ("_l0",):
        out["weight_ih" + suffix] = rng.uniform(-1, 1, (rows, D))
        out["weight_hh" + suffix] = rng.uniform(-1, 1, (rows, H))
        if bias:
            out["bias_ih" + suffix] = rng.uniform(-1, 1, rows)
            out["bias_hh" + suffix] = rng.uniform(-1, 1, rows)
    return {k: v.astype(np.float32) for k, v in out.items()}


def export(sd: dict) -> bytes:
    """The README's export: every name without "_l0", saved with numpy.savez."""
    return npz({k.replace("_l0", ""): v for k, v in sd.items()})


def npz(arrays: dict, *, compressed=False) -> bytes:
    buffer = io.BytesIO()
    (np.savez_compressed if compressed else np.savez)(buffer, **arrays)
    return buffer.getvalue()


def refusal(data: bytes) -> str:
    with pytest.raises(ValueError) as error:
        upload.read_weights(data)
    return str(error.value)


# ---- a good export ---------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["rnn", "gru", "lstm"])
def test_a_state_dict_export_is_read_as_its_kind(kind):
    sd = state_dict(kind, D=2, H=3)
    weights = upload.read_weights(export(sd))
    assert (weights.kind, weights.hidden_size, weights.input_size) == (kind, 3, 2)
    assert not weights.bidirectional and weights.zero_biases == ()
    assert set(weights.arrays) == {"weight_ih", "weight_hh", "bias_ih", "bias_hh"}
    for name, array in weights.arrays.items():
        assert array.dtype == np.float64
        assert np.array_equal(array, sd[name + "_l0"].astype(np.float64))
        assert not array.flags.writeable
    assert len(weights.digest) == 16 and int(weights.digest, 16) >= 0


def test_digest_names_the_values_not_the_file():
    sd = state_dict("lstm")
    as_float64 = {k: v.astype(np.float64) for k, v in sd.items()}
    first = upload.read_weights(export(sd)).digest
    assert (
        upload.read_weights(
            npz({k.replace("_l0", ""): v for k, v in as_float64.items()}, compressed=True)
        ).digest
        == first
    )
    sd["bias_hh_l0"][0] += 1
    assert upload.read_weights(export(sd)).digest != first


def test_bidirectional_and_bias_free_layers():
    weights = upload.read_weights(export(state_dict("gru", bidirectional=True)))
    assert weights.bidirectional
    assert {"weight_hh_reverse", "bias_ih_reverse"} <= set(weights.arrays)
    bare = upload.read_weights(export(state_dict("rnn", bias=False)))
    assert bare.zero_biases == ("bias_ih", "bias_hh")
    assert np.array_equal(bare.arrays["bias_ih"], np.zeros(3))
    assert "no biases" in bare.describe()


# ---- every refusal names the array and the reason ---------------------------------


def test_a_file_over_five_megabytes_is_refused_before_reading():
    assert "limit is 5 MB" in refusal(b"\0" * (upload.MAX_BYTES + 1))


def test_arrays_that_unpack_too_large_are_refused():
    big = {"weight_hh": np.zeros((4 * 256, 3000))}  # 24 MB of zeros, a few kB zipped
    data = npz(big, compressed=True)
    assert len(data) < upload.MAX_BYTES
    assert "unpack" in refusal(data)


@pytest.mark.parametrize(
    "data",
    [b"not a zip at all", b""],
    ids=["text", "empty"],
)
def test_not_an_npz(data):
    assert "not an .npz" in refusal(data)


def test_a_single_npy_is_not_an_npz():
    buffer = io.BytesIO()
    np.save(buffer, np.zeros((3, 3)))
    assert "not an .npz" in refusal(buffer.getvalue())


def test_a_zip_with_other_files_is_refused():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("readme.txt", "hello")
    assert "readme.txt" in refusal(buffer.getvalue())


def test_pickled_objects_are_refused_naming_the_array():
    arrays = {k.replace("_l0", ""): v for k, v in state_dict("rnn").items()}
    arrays["bias_hh"] = np.array([{"evil": 1}, 2, 3], dtype=object)
    message = refusal(npz(arrays))
    assert "bias_hh" in message and "pickle" in message


@pytest.mark.parametrize(
    ("rename", "hint"),
    [
        (lambda k: k, "drop “_l0”"),  # exported without dropping _l0
        (lambda k: "rnn." + k.replace("_l0", ""), "whole model"),
        (lambda k: k.replace("_l0", "_l1"), "one-layer"),
    ],
    ids=["with_l0", "model_prefix", "second_layer"],
)
def test_unknown_names_are_refused_with_a_hint(rename, hint):
    data = npz({rename(k): v for k, v in state_dict("gru").items()})
    message = refusal(data)
    assert "unknown array name" in message and hint in message
    assert rename("weight_hh_l0") in message


@pytest.mark.parametrize("missing", ["weight_ih", "weight_hh", "weight_hh_reverse"])
def test_missing_weights_are_named(missing):
    arrays = {k.replace("_l0", ""): v for k, v in state_dict("lstm", bidirectional=True).items()}
    del arrays[missing]
    message = refusal(npz(arrays))
    assert "missing" in message and missing in message


@pytest.mark.parametrize(
    ("name", "shape", "expected"),
    [
        ("weight_ih", (9, 2), "(12, D)"),  # rows of another kind
        ("bias_hh", (11,), "(12,)"),
        ("weight_hh_reverse", (12, 4), "(12, 3)"),
        ("weight_hh", (6, 3), "G = 1 (RNN), 3 (GRU) or 4 (LSTM)"),  # G = 2: no PyTorch layer
        ("weight_hh", (12,), "2-D"),
    ],
)
def test_inconsistent_shapes_are_named_with_what_was_expected(name, shape, expected):
    arrays = {k.replace("_l0", ""): v for k, v in state_dict("lstm", bidirectional=True).items()}
    arrays[name] = np.zeros(shape, dtype=np.float32)
    message = refusal(npz(arrays))
    assert name in message and expected in message and str(shape) in message


def test_a_hidden_size_beyond_the_apps_range_is_refused():
    arrays = {"weight_ih": np.zeros((257, 1)), "weight_hh": np.zeros((257, 257))}
    assert "at most 256" in refusal(npz(arrays))


@pytest.mark.parametrize(("bad", "count"), [(np.nan, 1), (np.inf, 2)])
def test_non_finite_values_are_counted(bad, count):
    arrays = {k.replace("_l0", ""): v for k, v in state_dict("rnn").items()}
    arrays["weight_hh"].flat[:count] = bad
    message = refusal(npz(arrays))
    assert "weight_hh" in message and f"{count} non-finite value" in message


@pytest.mark.parametrize("dtype", [np.int64, np.complex128, np.bool_])
def test_non_float_dtypes_are_refused(dtype):
    arrays = {k.replace("_l0", ""): v for k, v in state_dict("rnn").items()}
    arrays["weight_ih"] = arrays["weight_ih"].astype(dtype)
    message = refusal(npz(arrays))
    assert "weight_ih" in message and np.dtype(dtype).name in message


# ---- the store -------------------------------------------------------------------------


def test_the_store_keeps_the_last_uploads():
    digests = [
        upload.remember(upload.read_weights(export(state_dict("rnn", seed=100 + i))))
        for i in range(upload.MAX_STORED + 1)
    ]
    assert upload.recall(digests[0]) is None  # the oldest went
    assert all(upload.recall(d) is not None for d in digests[1:])
    assert upload.recall(None) is None


# ---- the settings and the engine run ---------------------------------------------------


def held(kind, **options):
    weights = upload.read_weights(export(state_dict(kind, **options)))
    upload.remember(weights)
    return weights


@pytest.mark.parametrize("kind", ["rnn", "gru", "lstm"])
def test_uploaded_weights_run_exactly_as_uploaded(kind):
    weights = held(kind, D=2, H=3)
    settings = Settings(cells=("rnn", "gru", "lstm"), weights=weights.digest, seq_len=8, seed=5)
    spec = cell_spec(settings, kind)
    assert (spec.hidden_size, spec.input_size, spec.weights) == (3, 2, weights.digest)
    model = build_model(spec)
    for name, array in weights.arrays.items():
        assert np.array_equal(model.params[name], array), name
    # the readout is drawn from the seed, as engine.build draws it
    drawn = engine.build(kind, 2, 3, seed=5, reset_after=kind == "gru")
    assert np.array_equal(model.params["weight_out"], drawn.params["weight_out"])
    # the run equals the engine's on the same parameters (PyTorch's GRU: reset after)
    for name, array in weights.arrays.items():
        drawn.params[name] = np.array(array)
    x = make_inputs(spec)
    assert x.shape == (8, 2)
    # its first input is the signal every other cell reads
    assert np.array_equal(x[:, :1], make_inputs(cell_spec(settings, "mgu")))
    direct = engine.simulate(drawn, x, make_targets(spec), scored="last")
    run = compute.run_cell(spec)
    assert np.array_equal(run.trace.grad_hidden, direct.grad_hidden)
    # the other cells are untouched: H from the settings, one input, drawn weights
    for other in {"rnn", "gru", "lstm"} - {kind}:
        assert cell_spec(settings, other) == cell_spec(settings.replace(weights=None), other)


def test_the_controls_that_do_not_apply_leave_the_upload_alone():
    weights = held("lstm", D=1, H=3)
    base = Settings(cells=("lstm",), weights=weights.digest, hidden_size=3)
    ignored = base.replace(init="orthogonal", forget_bias=7.0, reset_after=True)
    assert cell_spec(ignored, "lstm") == cell_spec(base, "lstm")
    rescaled = build_model(cell_spec(base.replace(spectral_radius=0.5), "lstm"))
    w_hh = rescaled.params["weight_hh"]
    for g in range(4):
        block = w_hh[3 * g : 3 * (g + 1)]
        assert np.max(np.abs(np.linalg.eigvals(block))) == pytest.approx(0.5, rel=1e-9)


def test_a_bidirectional_upload_fills_both_directions():
    weights = held("gru", bidirectional=True)
    model = build_model(cell_spec(Settings(weights=weights.digest, bidirectional=True), "gru"))
    assert np.array_equal(model.params["weight_hh_reverse"], weights.arrays["weight_hh_reverse"])


def test_a_link_to_weights_this_server_lacks_falls_back():
    settings, ignored = Settings.from_query({"npz": "0123456789abcdef", "T": "20"})
    assert ignored == ["npz"] and settings.weights is None and settings.seq_len == 20
    # a spec naming weights the process no longer holds is refused, not crashed
    spec = cell_spec(Settings(cells=("rnn",)), "rnn").replace(weights="0123456789abcdef")
    run = compute.run_cell(spec)
    assert run.trace is None and "upload the file again" in run.error


# ---- through the app -----------------------------------------------------------------


def sidebar_app() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params["T"] = "12"
    at.query_params["H"] = "5"
    return at.run()


def uploader(at: AppTest):
    return next(u for u in at.file_uploader if u.key.startswith("weights_file_"))


def test_uploading_in_the_app_uses_the_weights_and_writes_the_link():
    at = sidebar_app()
    assert not at.exception
    weights = upload.read_weights(export(state_dict("gru", D=1, H=4, seed=9)))
    uploader(at).set_value(("w.npz", export(state_dict("gru", D=1, H=4, seed=9)), "x")).run()
    assert not at.exception and not at.error
    assert at.query_params["npz"] == weights.digest
    assert at.slider(key="hidden_size").value == 4 and at.slider(key="hidden_size").disabled
    assert "gru" in at.pills(key="cells").value
    assert any("uploaded nn.GRU" in c.value for c in at.sidebar.caption)
    # the chart's GRU line is the engine's run of exactly those weights
    settings, _ = Settings.from_query(dict(at.query_params))
    run = compute.run_cell(cell_spec(settings, "gru"))
    assert np.array_equal(run.params["weight_hh"], weights.arrays["weight_hh"])
    norms = compute.norms_over_time(run.trace.grad_hidden)
    assert np.array_equal(_flow_line(at, "gru"), np.where(norms > 0, norms, np.nan), equal_nan=True)
    # the same link opened afresh gives the same chart, bit for bit
    again = AppTest.from_file(APP, default_timeout=120)
    for key, value in at.query_params.items():
        again.query_params[key] = value
    again.run()
    assert not again.exception and not again.warning
    assert _flow_line(again, "gru").tobytes() == _flow_line(at, "gru").tobytes()
    # forgetting them goes back to drawn weights and frees H
    at.button(key="weights_forget").click().run()
    assert "npz" not in at.query_params and not at.slider(key="hidden_size").disabled


def test_a_refused_upload_says_why_and_changes_nothing():
    at = sidebar_app()
    before = dict(at.query_params)
    arrays = {k.replace("_l0", ""): v for k, v in state_dict("lstm").items()}
    arrays["bias_ih"][2] = np.nan
    uploader(at).set_value(("bad.npz", npz(arrays), "application/octet-stream")).run()
    assert not at.exception
    message = " ".join(e.value for e in at.error)
    assert "bad.npz" in message and "bias_ih" in message and "non-finite" in message
    assert dict(at.query_params) == before
    assert at.slider(key="hidden_size").value == 5 and at.slider(key="seq_len").value == 12


def test_a_link_to_missing_weights_warns_and_keeps_the_rest():
    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params["npz"] = "fedcba9876543210"
    at.query_params["T"] = "15"
    at.run()
    assert not at.exception
    assert any("not on this server" in w.value for w in at.warning)
    assert at.slider(key="seq_len").value == 15
    assert "npz" not in at.query_params


def _flow_line(at: AppTest, cell: str) -> np.ndarray:
    """The chart's line of ``cell``, whose legend says it runs the uploaded weights."""
    import base64
    import json

    for element in at.get("plotly_chart"):
        fig = json.loads(element.proto.spec)
        for trace in fig["data"]:
            if trace.get("name") == CELL_NAMES[
                cell
            ] + " (your weights)" and element.proto.id.endswith("gradient_flow"):
                y = trace["y"]
                if isinstance(y, dict):
                    return np.frombuffer(base64.b64decode(y["bdata"]), np.dtype(y["dtype"]))
                return np.asarray(y, dtype=float)
    raise AssertionError(f"no {cell} line in the gradient_flow chart")
