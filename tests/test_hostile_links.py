"""Links, file names and messages from anyone (issue 12, items 1 and 4).

A link may hold any key and any value, of any length or form: each one the
app cannot use falls back to its default with the one-line notice, never an
exception. Whatever a notice repeats of what the user gave (a link's key or
value, an upload's file name or array names, an engine message quoting
them) is shown as text: no link, image, colour, LaTeX or HTML
(``tests/markup.py`` reads the Markdown the page receives).
"""

from __future__ import annotations

import io
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from app import inert  # noqa: E402
from app.explorer.session import NOTICE_ITEMS, link_notice  # noqa: E402
from app.explorer.state import FIELD_BY_KEY, FIELDS, Settings  # noqa: E402
from app.links import check_value  # noqa: E402
from tests.markup import code_spans, markup_left  # noqa: E402

APP = str(ROOT / "app" / "streamlit_app.py")
PHISHING_KEY = "[Upload your weights again here](https://evil.example/login)"
PIXEL_VALUE = "![p](https://evil.example/pixel.png)"

HUGE = "1" + "0" * 400
HOSTILE_TEXTS = [
    HUGE,
    "-" + HUGE,
    HUGE + ".5",
    "9" * 5000,  # beyond Python's 4300-digit int() limit
    "1e999",
    "-1e999",
    "nan",
    "NaN",
    "inf",
    "-Infinity",
    "١٢",  # Arabic-Indic digits: int() reads them as 12
    "１６",  # full-width digits
    "1_6",  # int() reads it as 16
    "0x10",
    "16 16",
    "",
    "   ",
    "x" * 100_000,
    PIXEL_VALUE,
    ":red[alarm]",
    r"$\Huge x$",
    "<img src=x>",
    "\x00",
    "1,2;3,4;5,6",
    ";;;;",
    "1e400,0;0,1",
    "0123456789abcdeg",
]


def _refused(field, text: str) -> bool:
    s, ignored = Settings.from_query({"seed": "3", "T": "7", field.key: text})
    kept = s.seed == 3 if field.key != "seed" else s.seq_len == 7
    return field.key in ignored and getattr(s, field.name) == field.default and kept


@pytest.mark.parametrize("text", HOSTILE_TEXTS, ids=lambda t: repr(t[:20]))
def test_every_field_refuses_every_hostile_value_and_keeps_the_rest(text):
    accepted = [f.key for f in FIELDS if not _refused(f, text)]
    assert accepted == []


def test_minus_zero_is_zero_and_huge_numbers_never_reach_float():
    s, ignored = Settings.from_query({"wx": "-0", "b": "-0.0", "seed": "-0", "gb": "1e-999999"})
    assert ignored == [] and (s.input_weight, s.bias, s.seed, s.gate_bias) == (0.0, 0.0, 0, 0.0)
    assert str(s.input_weight) == "0.0"
    for name in ("hidden_size", "seq_len", "seed", "truncation", "clip", "input_weight"):
        field = next(f for f in FIELDS if f.name == name)
        for value in (10**400, -(10**400), 10**5000, float("inf"), float("nan"), "3", [3]):
            with pytest.raises(ValueError):
                check_value(field, value)


def test_absurd_matrices_are_refused():
    field = FIELD_BY_KEY["Whh"]
    for value in ([[10**400]], [[1.0, 2.0]], [[float("nan")]], [[101.0]], 5, [["a"]], [[]]):
        with pytest.raises(ValueError):
            check_value(field, value)
    for text in ("1e400", "1,2;3", "1;2", "inf,0;0,1", "1,2;3,4;" * 100, "١,٢;٣,٤"):
        assert _refused(field, text), text


def test_repeated_empty_and_odd_keys():
    s, ignored = Settings.from_query(
        {"": "1", " ": "", "H": ["3", "5"], "T": [], "h": "4", "H\x00": "2", "ｈ": "1"}
    )
    assert s.hidden_size == 5  # the last of a repeated key, as Streamlit reads it
    assert set(ignored) == {"", " ", "T", "h", "H\x00", "ｈ"}
    notice = link_notice(ignored, {"": "1", " ": "", "T": "", "h": "4"})
    assert markup_left(notice) == [] and "\n" not in notice


def test_a_notice_names_a_few_values_and_counts_the_rest():
    params = {f"k{i}": "1" for i in range(500)}
    _, ignored = Settings.from_query(params)
    notice = link_notice(ignored, params)
    assert len(code_spans(notice)) == NOTICE_ITEMS
    assert f"and {500 - NOTICE_ITEMS} more" in notice and len(notice) < 1000


# ---- any link: Settings.from_query directly, many examples ------------------------------

KEYS = st.one_of(st.sampled_from([f.key for f in FIELDS]), st.text(max_size=30))
NUMBERS = st.one_of(
    st.integers(min_value=-(10**500), max_value=10**500).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(HOSTILE_TEXTS[:18]),
)
VALUES = st.one_of(
    NUMBERS,
    st.text(max_size=60),
    st.text(alphabet="[]()!:$\\`*_<>#|~@.-/ahtpsx0123456789,;", max_size=60),
    st.lists(st.text(max_size=10), max_size=3),
)
LINKS = st.dictionaries(KEYS, VALUES, max_size=8)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(LINKS)
def test_any_link_reads_without_an_exception_and_names_what_it_ignores(params):
    s, ignored = Settings.from_query(params)
    assert isinstance(s, Settings) and s.focus in s.cells
    assert len(set(ignored)) == len(ignored) and set(ignored) <= set(params)
    for key in set(params) - set(ignored):  # every key used is a setting …
        assert key in FIELD_BY_KEY
    assert Settings.from_query(s.to_query()) == (s, [])  # … and the result a clean link
    notice = link_notice(ignored, params)
    assert markup_left(notice) == [], notice
    assert "\n" not in notice and len(notice) < 2000


# ---- in the app -------------------------------------------------------------------------


def open_link(params: dict[str, str]) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    for key, value in params.items():
        at.query_params[key] = value
    return at.run()


def page_markdown(at: AppTest) -> list[str]:
    """The Markdown of every notice and text the page received."""
    return [
        e.value
        for kind in ("warning", "error", "info", "caption", "markdown")
        for e in getattr(at, kind)
    ] + [e.value for e in at.sidebar.warning]


def link_notices(at: AppTest) -> list[str]:
    return [w.value for w in at.warning if "could not be used" in w.value]


def test_a_phishing_key_and_a_pixel_value_are_shown_as_text():
    """The issue's two links: the key and the value appear, quoted, as code;
    no link or image markup is left for Markdown to read."""
    at = open_link({PHISHING_KEY: "1", "x": PIXEL_VALUE, "T": "12"})
    assert not at.exception
    (notice,) = link_notices(at)
    assert markup_left(notice) == [], notice
    spans = code_spans(notice)
    assert inert.printable(PHISHING_KEY, inert.VALUE_LIMIT) in spans
    assert inert.printable("x=" + PIXEL_VALUE, inert.VALUE_LIMIT) in spans
    assert at.slider(key="seq_len").value == 12  # the rest of the link applies
    for md in page_markdown(at):
        assert "evil.example" not in md or md == notice


def test_a_huge_number_in_a_link_is_a_notice_not_a_stack_trace():
    at = open_link({"H": HUGE, "wx": "1e999", "T": "9" * 5000, "seed": "4"})
    assert not at.exception
    (notice,) = link_notices(at)
    assert all(f"`{key}=" in notice for key in ("H", "T"))
    assert at.slider(key="hidden_size").value == 16 and at.number_input(key="seed").value == 4


HOSTILE_LINK_VALUES = st.one_of(
    st.sampled_from(HOSTILE_TEXTS[:25]), st.text(max_size=40), st.integers(1, 6).map(str)
)


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(st.dictionaries(KEYS, HOSTILE_LINK_VALUES, min_size=1, max_size=5))
def test_any_link_opens_the_app_and_its_notices_are_inert(params):
    at = open_link(params)
    assert not at.exception, [e.message for e in at.exception]
    assert len(link_notices(at)) <= 1
    for notice in link_notices(at):
        assert markup_left(notice) == [], notice


# ---- uploads: the file name and the array names ------------------------------------------


def _npz(arrays: dict) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("name", "arrays"),
    [
        ("[Upload again](https://evil.example/login).npz", {"weight_ih": np.ones((2, 1))}),
        ("![p](https://evil.example/p.png) :red[x] $\\Huge$.npz", {"x": np.ones(2)}),
        ("w.npz", {"[a](https:evil.example)": np.ones(2), ":red[b]": np.ones(2)}),
        ("w.npz", {"$\\Huge x$": np.ones(2), "<img src=x>": np.ones(2)}),
    ],
)
def test_a_refused_upload_shows_its_name_and_arrays_as_text(name, arrays):
    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params["T"] = "8"
    at.run()
    uploader = next(u for u in at.file_uploader if u.key.startswith("weights_file_"))
    uploader.set_value((name, _npz(arrays), "application/octet-stream")).run()
    assert not at.exception
    (message,) = [e.value for e in at.error]
    assert markup_left(message) == [], message
    assert inert.printable(name, inert.VALUE_LIMIT) in code_spans(message)


def _report_a_hostile_engine_error():
    import types

    from app.explorer import page as streamlit_app
    from app.explorer.state import Settings

    class Runs:
        def get(self, kind):
            error = "weight_hh “[x](https://evil.example)” is ![i](https://evil.example/i) $\\Huge$"
            return types.SimpleNamespace(error=error, trace=None)

    streamlit_app.report_runs(Settings(), Runs())


def test_an_engine_message_that_repeats_user_text_is_shown_as_text():
    at = AppTest.from_function(_report_a_hostile_engine_error, default_timeout=60).run()
    assert not at.exception
    assert at.warning and all(markup_left(w.value) == [] for w in at.warning)
    assert "weight_hh" in at.warning[0].value  # still readable


def _collect_a_hostile_widget_value():
    from app.explorer import session
    from app.explorer.state import Settings

    session.collect(Settings(), {"hidden_size": "[x](https://evil.example)"})


def test_a_refused_widget_value_is_quoted_as_text():
    at = AppTest.from_function(_collect_a_hostile_widget_value, default_timeout=60).run()
    assert not at.exception
    (warning,) = at.sidebar.warning
    assert markup_left(warning.value) == [] and "evil.example" in code_spans(warning.value)[0]
