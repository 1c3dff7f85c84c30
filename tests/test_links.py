"""Links: the whole Settings, seed included, in the page's URL.

A link read back gives the same Settings (every preset, random Settings);
the same Settings give the same engine inputs bit for bit; bad values fall
back to their defaults, named, while the rest of the link applies; in the app
a link reaches the widgets and the charts, and a widget moved reaches the link.
"""

from __future__ import annotations

import base64
import io
import json
import math
import sys
from pathlib import Path
from urllib.parse import parse_qsl

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from app import compute, upload  # noqa: E402
from app.compute import build_model, cell_spec, make_inputs, make_targets  # noqa: E402
from app.explorer.presets import PRESETS  # noqa: E402
from app.explorer.session import fit_upload, link_notice  # noqa: E402
from app.explorer.state import DISPLAY_FIELDS, FIELD_BY_KEY, FIELD_BY_NAME, FIELDS, Settings  # noqa: E402
from app.links import CELL_NAMES, MAX_GRID_SIZE  # noqa: E402

APP = str(ROOT / "app" / "streamlit_app.py")


def _small_uploads() -> list[upload.UploadedWeights]:
    """Three small uploads (rnn, gru, lstm; H = 2, D = 1) a link may name."""
    uploads = []
    for kind, rows in (("rnn", 2), ("gru", 6), ("lstm", 8)):
        rng = np.random.default_rng(rows)
        arrays = {
            "weight_ih": rng.uniform(-1, 1, (rows, 1)),
            "weight_hh": rng.uniform(-1, 1, (rows, 2)),
        }
        buffer = io.BytesIO()
        np.savez(buffer, **arrays)
        weights = upload.read_weights(buffer.getvalue())
        assert weights.kind == kind
        uploads.append(weights)
    return uploads


UPLOADS = _small_uploads()
HELD = [weights.digest for weights in UPLOADS]


@pytest.fixture(autouse=True, scope="module")
def _hold_the_uploads():
    """The process keeps its last few uploads: other tests may have pushed these out."""
    for weights in UPLOADS:
        upload.remember(weights)


# ---- strategies: one per field kind, from the field table -----------------------------


def field_values(field, *, small=False):
    if field.kind == "choice":
        base = st.sampled_from(field.choices)
    elif field.kind == "choices":
        base = st.lists(st.sampled_from(field.choices), min_size=1, unique=True).map(tuple)
    elif field.kind == "bool":
        base = st.booleans()
    elif field.kind == "int":
        high = (
            {"hidden_size": 5, "seq_len": 12, "truncation": 12}.get(field.name) if small else None
        )
        base = st.integers(int(field.low), int(high or field.high))
    elif field.kind == "float":
        base = st.floats(field.low, field.high, allow_nan=False)
    elif field.kind == "digest":
        base = st.sampled_from(HELD)
    else:  # matrix
        base = st.integers(1, MAX_GRID_SIZE).flatmap(
            lambda n: st.lists(
                st.lists(st.floats(-100, 100, allow_nan=False), min_size=n, max_size=n).map(tuple),
                min_size=n,
                max_size=n,
            ).map(tuple)
        )
    return st.one_of(st.none(), base) if field.optional else base


def settings_strategy(*, small=False):
    return st.fixed_dictionaries({f.name: field_values(f, small=small) for f in FIELDS}).map(
        lambda values: Settings(**values)
    )


# ---- round trips -------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(PRESETS))
def test_every_preset_survives_its_link(name):
    preset = PRESETS[name].settings
    for shown in (preset, preset.replace(projector=True, theme="dark")):
        query = shown.to_query()
        assert Settings.from_query(query) == (shown, [])
        assert "seed" in query or shown.seed == FIELD_BY_NAME["seed"].default


@given(settings_strategy())
@settings(max_examples=300, deadline=None)
def test_any_settings_survive_their_link(s):
    query = s.to_query()
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in query.items())
    assert all(k in FIELD_BY_KEY for k in query)  # short keys, no blob
    again, ignored = Settings.from_query(query)
    assert ignored == []
    assert again == s
    assert hash(again) == hash(s)  # usable as a cache key
    assert again.to_query() == query  # one link per Settings


def _engine_inputs(s: Settings) -> list[bytes]:
    """Every array a run of ``s`` hands the engine, as bytes: each cell's
    parameters, inputs and targets."""
    out = []
    for kind in s.cells:
        spec = cell_spec(s, kind)
        try:
            model = build_model(spec)
        except ValueError as error:  # refused settings must be refused alike
            out.append(str(error).encode())
            continue
        out += [model.params[k].tobytes() for k in sorted(model.params)]
        out += [make_inputs(spec).tobytes(), make_targets(spec).tobytes()]
    return out


@given(settings_strategy(small=True))
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_a_link_gives_the_engine_the_same_bits(s):
    again, _ = Settings.from_query(s.to_query())
    assert [cell_spec(again, k) for k in again.cells] == [cell_spec(s, k) for k in s.cells]
    assert _engine_inputs(again) == _engine_inputs(s)


def test_negative_zero_is_zero_so_equal_settings_give_equal_bits():
    s = Settings(bias=-0.0, recurrent_matrix=((-0.0,),), hidden_size=1)
    assert math.copysign(1.0, s.bias) == 1.0
    assert math.copysign(1.0, s.recurrent_matrix[0][0]) == 1.0
    assert _engine_inputs(s) == _engine_inputs(Settings(hidden_size=1, recurrent_matrix=((0.0,),)))


def test_focus_is_always_a_shown_cell():
    s = Settings(cells=("gru",), focus="lstm")
    assert s.focus == "gru"
    assert Settings.from_query({"cell": "rnn,gru", "focus": "mgu"}) == (
        Settings(cells=("rnn", "gru"), focus="rnn"),
        [],
    )


def test_a_link_leaves_out_the_focus_it_implies():
    assert Settings(cells=("gru",)).to_query() == {"cell": "gru"}
    assert Settings(cells=("rnn", "gru")).to_query() == {"cell": "rnn,gru"}
    assert Settings(cells=("rnn", "gru"), focus="gru").to_query() == {
        "cell": "rnn,gru",
        "focus": "gru",
    }


def test_display_fields_ride_in_the_link():
    s, ignored = Settings.from_query({"proj": "1", "theme": "dark"})
    assert (s.projector, s.theme, ignored) == (True, "dark", [])
    assert set(DISPLAY_FIELDS) == {"projector", "theme"}


# ---- bad values: ignored, named, the rest applies ---------------------------------------


@pytest.mark.parametrize(
    ("key", "raw"),
    [
        ("zoom", "2"),  # unknown key
        ("H", "300"),  # out of range
        ("rho", "-0.5"),
        ("T", "ten"),  # not a number
        ("seed", "1e3"),
        ("wh", "inf"),
        ("cell", ""),  # empty cell list
        ("cell", ",,"),
        ("cell", "rnn,transformer"),
        ("Whh", "1,2;3,x"),  # bad matrix
        ("Whh", "1,2,3"),
        ("Whh", "1000"),
        ("theme", "sepia"),
        ("proj", "yes please"),
        ("npz", "not-a-digest"),
        ("npz", "0000000000000000"),  # well formed, but not held here
    ],
)
def test_a_bad_value_is_ignored_named_and_the_rest_applies(key, raw):
    good = {"cell": "gru,mgu", "T": "33", "seed": "4", "x": "sine", "theme": "dark"}
    params = {**good, key: raw}
    s, ignored = Settings.from_query(params)
    assert ignored == [key]
    rest = {k: v for k, v in good.items() if k != key}
    assert s == Settings.from_query(rest)[0]  # the rest of the link applies
    field = FIELD_BY_KEY.get(key)
    if field is not None:
        assert getattr(s, field.name) == field.default
    notice = link_notice(ignored, params)
    assert f"`{key}" in notice and notice.count("\n") == 0


def test_the_rest_of_a_bad_link_is_exactly_the_good_part():
    good = {"cell": "gru,mgu", "T": "33", "seed": "4", "x": "sine", "clip": "0.5"}
    bad = {"H": "0", "act": "swish", "colour": "red", "Whh": "1,2;3"}
    s, ignored = Settings.from_query({**good, **bad})
    assert s == Settings.from_query(good)[0]
    assert sorted(ignored) == sorted(bad)


# ---- in the app ------------------------------------------------------------------------


def fresh(query: dict[str, str]) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    for key, value in query.items():
        at.query_params[key] = value
    return at.run()


def flow_lines(at: AppTest) -> dict[str, np.ndarray]:
    """The gradient-flow chart's lines by trace name."""
    charts = {e.proto.id.split("-")[-1]: json.loads(e.proto.spec) for e in at.get("plotly_chart")}
    fig = charts["gradient_flow"]
    out = {}
    for trace in fig["data"]:
        y = trace.get("y")
        if isinstance(y, dict):
            out[trace["name"]] = np.frombuffer(base64.b64decode(y["bdata"]), np.dtype(y["dtype"]))
        elif y is not None:
            out[trace["name"]] = np.asarray(y, dtype=float)
    return out


def copied_link(at: AppTest) -> dict[str, str]:
    (code,) = [c for c in at.sidebar.code]
    assert "?" in code.value
    return dict(parse_qsl(code.value.split("?", 1)[1], keep_blank_values=True))


@pytest.mark.parametrize("name", list(PRESETS))
def test_a_presets_link_opens_that_preset_with_the_engines_numbers(name):
    """The link reaches every widget (the preset is recognised, so every field
    matched), the URL and the copy control say the same, and the chart's lines
    are the engine's gradient norms for those settings, bit for bit."""
    preset = PRESETS[name].settings
    at = fresh(preset.to_query())
    assert not at.exception and not at.warning
    assert at.pills(key="preset").value == name
    assert dict(at.query_params) == preset.to_query() == copied_link(at)
    lines = flow_lines(at)
    for kind in preset.cells:
        run = compute.run_cell(cell_spec(preset, kind))
        norms = compute.norms_over_time(run.trace.grad_hidden)
        expected = np.where(norms > 0, norms, np.nan)  # a log axis cannot show 0
        assert lines[CELL_NAMES[kind]].tobytes() == expected.tobytes(), kind


def test_a_links_values_reach_the_widgets_and_the_charts():
    query = {"cell": "rnn,mgu", "T": "37", "H": "3", "seed": "11", "act": "relu", "k": "5"}
    at = fresh(query)
    assert not at.exception
    assert at.slider(key="seq_len").value == 37 and at.slider(key="hidden_size").value == 3
    assert at.number_input(key="seed").value == 11 and at.number_input(key="truncation").value == 5
    assert at.toggle(key="truncation_on").value is True
    assert at.selectbox(key="activation").value == "relu"
    lines = flow_lines(at)
    assert {CELL_NAMES["rnn"], CELL_NAMES["mgu"]} <= set(lines)
    assert lines[CELL_NAMES["mgu"]].size == 37


@pytest.mark.parametrize(
    ("widget", "value", "key", "text"),
    [
        ("seed", 42, "seed", "42"),
        ("projector", True, "proj", "1"),
        ("theme", "dark", "theme", "dark"),
        ("clip_on", True, "clip", "1.0"),
    ],
)
def test_changing_a_widget_updates_the_link_and_the_copy_control(widget, value, key, text):
    at = fresh({"T": "20", "H": "2"})
    if widget == "seed":
        at.number_input(key="seed").set_value(value).run()
    elif widget == "theme":
        at.segmented_control(key="theme").set_value(value).run()
    else:
        at.toggle(key=widget).set_value(value).run()
    assert not at.exception
    assert at.query_params[key] == text
    assert copied_link(at) == dict(at.query_params)
    assert Settings.from_query(at.query_params)[1] == []


def test_a_bad_link_in_the_app_names_what_it_ignored_and_keeps_the_rest():
    at = fresh({"T": "25", "H": "999", "cell": "", "Whh": "1,2;3", "wat": "1", "seed": "8"})
    assert not at.exception
    notices = [w.value for w in at.warning if "could not be used" in w.value]
    assert len(notices) == 1 and notices[0].count("\n") == 0
    for key in ("H=999", "`cell=`", "Whh=1,2;3", "wat"):
        assert key in notices[0], key
    assert at.slider(key="seq_len").value == 25 and at.number_input(key="seed").value == 8
    assert at.slider(key="hidden_size").value == Settings().hidden_size
    assert dict(at.query_params) == {"T": "25", "seed": "8"}


@given(settings_strategy(small=True))
@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_random_links_open_unchanged(s):
    """Opening a link gives back the very same link: no widget rounds, clamps or
    drops a value on the way in."""
    at = fresh(s.to_query())
    assert not at.exception
    # uploaded weights set H (fit_upload); nothing else may change
    assert Settings.from_query(dict(at.query_params)) == (fit_upload(s), [])


def test_a_spectral_radius_of_zero_opens_as_zero():
    """ρ = 0 is a value: its slider must not fall back to the 'off' value 1."""
    at = fresh({"cell": "rnn", "H": "2", "rho": "0.0", "T": "2"})
    assert not at.exception
    assert at.query_params["rho"] == "0.0"
