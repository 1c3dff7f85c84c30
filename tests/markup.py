"""What a Markdown notice could still turn into markup, for the tests.

``markup_left(md)`` returns the marks in ``md`` that could make a link, an
image, code, emphasis, LaTeX, a ``:red[…]`` colour, an icon or emoji, HTML, an
autolink or a block (heading, list, quote) at the start; ``shown_text(md)``
the characters a reader sees. Two readings, as in Streamlit's front end:
CommonMark's marks count outside backslash escapes and code spans; GitHub's
autolinks and the shortcodes are found in the text after the escapes are
read (mdast find-and-replace), so only code spans protect from those. It is
stricter than Markdown (a lone ``[`` is no link), so a notice that passes is
inert.
"""

from __future__ import annotations

import re
import string

_AUTOLINK_OR_SHORTCODE = re.compile(r"://|www\.|@|:[A-Za-z0-9+_-]", re.IGNORECASE)
_LOOSE_UNDERSCORE = re.compile(r"(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])")
_BLOCK_START = re.compile(r"^\s*(?:[#>+=*-]|[0-9]+[.)])")
_ALWAYS = set("[]<$`*~|&\\")


def _pieces(md: str):
    """``md`` as (kind, text): "text", "escaped" (one character) or "code"
    (a code span's content as CommonMark reads it); an unclosed backtick run
    is text."""
    i = 0
    while i < len(md):
        c = md[i]
        if c == "\\" and i + 1 < len(md) and md[i + 1] in string.punctuation:
            yield "escaped", md[i + 1]
            i += 2
            continue
        if c == "`":
            run = len(md[i:]) - len(md[i:].lstrip("`"))
            fence = "`" * run
            found = re.compile(rf"(?<!`){fence}(?!`)").search(md, i + run)
            if found:
                inside = md[i + run : found.start()]
                if inside.startswith(" ") and inside.endswith(" ") and inside.strip():
                    inside = inside[1:-1]
                yield "code", inside
                i = found.end()
                continue
            yield "text", fence
            i += run
            continue
        yield "text", c
        i += 1


def outside_code(md: str) -> str:
    """``md`` with each backslash escape and each code span replaced by "•"
    (neither a space nor a word character, like the marks they stand for)."""
    return "".join(text if kind == "text" else "•" for kind, text in _pieces(md))


def shown_text(md: str) -> str:
    """The characters ``md`` shows: escapes read, code spans' contents."""
    return "".join(text for _, text in _pieces(md))


def code_spans(md: str) -> list[str]:
    """The contents of ``md``'s code spans, as CommonMark reads them."""
    return [text for kind, text in _pieces(md) if kind == "code"]


def markup_left(md: str) -> list[str]:
    """The marks in ``md`` that could be markup (see the module's docstring)."""
    bare = outside_code(md)
    found = sorted({c for c in bare if c in _ALWAYS})
    found += _LOOSE_UNDERSCORE.findall(bare) + _BLOCK_START.findall(bare)
    unescaped = "".join(text if kind != "code" else " " for kind, text in _pieces(md))
    found += _AUTOLINK_OR_SHORTCODE.findall(unescaped)
    if "\n" in md or "\r" in md:
        found.append("line break")
    return found
