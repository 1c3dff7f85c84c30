"""Text someone else gave is shown as text: ``app.inert`` quotes a value in a
code span and escapes a sentence, so that Markdown reads back the same
characters and no markup (checked by ``tests/markup.py``, which is stricter
than Markdown, and in the browser by tests/test_browser_links.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from app import inert  # noqa: E402
from tests.markup import code_spans, markup_left, outside_code, shown_text  # noqa: E402

HOSTILE = [
    "[Upload your weights again here](https://evil.example/login)",
    "![p](https://evil.example/pixel.png)",
    ":red[alarm] :material/warning: :smile:",
    r"$\Huge x$ and \Huge",
    "<img src=x onerror=alert(1)> <b>bold</b> &amp;",
    "<https://evil.example> www.evil.example mail@evil.example",
    "**bold** __bold__ _it_ ~~gone~~ `code` ``two``",
    "# heading",
    "- list",
    "1. list",
    "> quote",
    "line one\nline two\r\n\u2028three",
    "`",
    "``x`` ` y",
    " leading and trailing ",
    "\\[escaped\\]",
    "a|b|c",
    "\x00\x1b[31m\u200b\ufeff",
]


@pytest.mark.parametrize("text", HOSTILE)
def test_a_quoted_value_is_one_code_span_of_the_same_text(text):
    quoted = inert.code(text, limit=200)
    assert markup_left(quoted) == [], quoted
    assert code_spans(quoted) == [inert.printable(text, 200)]


@pytest.mark.parametrize("text", HOSTILE)
def test_an_escaped_sentence_is_the_same_text_without_markup(text):
    escaped = inert.plain(f"the message was: {text}")
    assert markup_left(escaped) == [], escaped
    # what it shows is what was given (line breaks made visible)
    assert shown_text(escaped) == inert.printable(f"the message was: {text}", 300)


def test_today_a_raw_link_value_would_be_markup():
    """The check can fail: the link the issue reports, written raw, is caught,
    and so is an address that only backslashes guard (Streamlit still links it)."""
    assert "[" in markup_left(f"“{HOSTILE[0]}=1” (not a setting)")
    assert "://" in markup_left(f"“x={HOSTILE[1]}”")
    assert markup_left(r"see https\:\/\/evil.example") == ["://"]
    assert markup_left(r"\:smile\:") == [":s"]


def test_long_values_are_cut_and_empty_ones_are_visible():
    quoted = inert.code("9" * 10_000)
    assert len(quoted) < 60 and quoted.endswith("…`")
    assert inert.code("") == "“”"
    assert len(inert.plain("x" * 10_000)) <= inert.SENTENCE_LIMIT + 1


def test_names_read_the_same_in_the_source():
    """Marks that are inert where they stand are not escaped: messages stay greppable."""
    message = "weight_ih has shape (3, 4): expected (6, 2); see bad.npz, 1.5 MB"
    assert inert.plain(message) == message


@settings(max_examples=500, deadline=None)
@given(st.text(max_size=80))
def test_any_text_is_inert_either_way(text):
    assert markup_left(inert.code(text, limit=100)) == []
    assert code_spans(inert.code(text, limit=100)) in ([inert.printable(text, 100)], [])
    assert markup_left(inert.plain(text)) == []
    assert shown_text(inert.plain(text)) == inert.printable(text, 300)


def test_outside_code_reads_fences_as_commonmark():
    assert outside_code("a `b` c") == "a • c"
    assert outside_code("a ``b`c`` d\\[") == "a • d•"
    assert shown_text("a ``b`c`` d\\[") == "a b`c d["
    assert outside_code("a ` b") == "a ` b"
