"""What a Markdown notice could still turn into markup, for the tests.

``markup_left(md)`` removes what CommonMark shows literally (backslash
escapes, code spans) and returns the marks left that could make a link, an
image, code, emphasis, LaTeX, a ``:red[…]`` colour, an icon, HTML or an
autolink, or a block (heading, list, quote) at the start. It is stricter than
Markdown (a lone ``[`` is no link), so a notice that passes is inert.
"""

from __future__ import annotations

import re
import string

_AUTOLINK = re.compile(r"://|www\.|@", re.IGNORECASE)
_DIRECTIVE_OR_ICON = re.compile(r":[A-Za-z]")
_LOOSE_UNDERSCORE = re.compile(r"(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])")
_BLOCK_START = re.compile(r"^\s*(?:[#>+=*-]|[0-9]+[.)])")
_ALWAYS = set("[]<$`*~|&\\")


def outside_code(md: str) -> str:
    """``md`` with each backslash escape and each code span replaced by "•"
    (neither a space nor a word character, like the marks they stand for)."""
    out = []
    i = 0
    while i < len(md):
        c = md[i]
        if c == "\\" and i + 1 < len(md) and md[i + 1] in string.punctuation:
            out.append("•")
            i += 2
            continue
        if c == "`":
            run = len(md[i:]) - len(md[i:].lstrip("`"))
            fence = "`" * run
            close = re.compile(rf"(?<!`){fence}(?!`)")
            found = close.search(md, i + run)
            if found:
                out.append("•")
                i = found.end()
                continue
            out.append(fence)  # no closing fence: literal backticks, still flagged
            i += run
            continue
        out.append(c)
        i += 1
    return "".join(out)


def markup_left(md: str) -> list[str]:
    """The marks in ``md`` outside code spans and escapes that could be markup."""
    bare = outside_code(md)
    found = sorted({c for c in bare if c in _ALWAYS})
    found += _AUTOLINK.findall(bare) + _DIRECTIVE_OR_ICON.findall(bare)
    found += _LOOSE_UNDERSCORE.findall(bare) + _BLOCK_START.findall(bare)
    if "\n" in md or "\r" in md:
        found.append("line break")
    return found


def code_spans(md: str) -> list[str]:
    """The contents of ``md``'s code spans, as CommonMark reads them."""
    spans = []
    i = 0
    while i < len(md):
        if md[i] == "\\":
            i += 2
            continue
        if md[i] == "`":
            run = len(md[i:]) - len(md[i:].lstrip("`"))
            fence = "`" * run
            found = re.compile(rf"(?<!`){fence}(?!`)").search(md, i + run)
            if found:
                inside = md[i + run : found.start()]
                if inside.startswith(" ") and inside.endswith(" ") and inside.strip():
                    inside = inside[1:-1]
                spans.append(inside)
                i = found.end()
                continue
            i += run
            continue
        i += 1
    return spans
