"""Text someone else gave, shown in the page as text and nothing more.

Streamlit renders the body of ``st.warning``, ``st.error``, ``st.info``,
``st.markdown`` and ``st.caption`` as Markdown, with GitHub's autolinks,
``$…$`` LaTeX and its own ``:red[…]`` colours and ``:material/…:`` icons. A
link's key or value, an upload's file name or array name, or an error
message that repeats them must not become a live link, a fetched image or
restyled text on the app's own page. So every notice is Markdown the app
wrote, and each piece it did not write goes through one of these:

- ``code(text)``: one value, quoted in an inline code span (nothing inside
  a code span is Markdown), shortened to ``limit`` characters;
- ``plain(text)``: a sentence that may repeat such a value (an engine or
  upload error), each mark that could start markup escaped with a
  backslash, so it reads as the same words with no markup.

Both make control characters and line breaks visible as ``\\uXXXX`` (a line
break would end the notice's paragraph or start a heading or a list).
"""

from __future__ import annotations

import re
import unicodedata

VALUE_LIMIT = 40  # characters of one quoted value; the rest becomes "…"
SENTENCE_LIMIT = 300
_BACKTICK_RUNS = re.compile(r"`+")


def printable(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters (then "…"), each control,
    format or line/paragraph-separator character written as ``\\uXXXX``."""
    text = str(text)
    shortened = len(text) > limit
    text = text[:limit]
    shown = "".join(
        f"\\u{ord(c):04x}"
        if unicodedata.category(c) in ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp")
        else c
        for c in text
    )
    return shown + ("…" if shortened else "")


def code(text: object, limit: int = VALUE_LIMIT) -> str:
    """``text`` as one inline code span; an empty text as a pair of quotes."""
    shown = printable(str(text), limit)
    if not shown:
        return "“”"
    # a fence one backtick longer than any run inside (CommonMark); a space
    # either side when the text starts or ends with a backtick or a space,
    # which the code span then strips again
    longest = max((len(run) for run in _BACKTICK_RUNS.findall(shown)), default=0)
    fence = "`" * (longest + 1)
    if shown.strip() and (shown[0] in "` " or shown[-1] in "` "):
        shown = f" {shown} "
    return f"{fence}{shown}{fence}"


def plain(text: object, limit: int = SENTENCE_LIMIT) -> str:
    """``text`` read as Markdown shows the same characters and makes no
    link, image, code, emphasis, LaTeX, colour, icon or HTML.

    A backslash goes before each character that could start markup. Marks
    that are inert where they stand are left as they are, so that messages
    stay readable in the source too: ``_`` inside a word (``weight_ih``),
    ``:`` before a space, and the list and heading marks except at the start.
    A word that looks like an address, an e-mail or a ``:shortcode:`` is put
    in a code span instead: Streamlit finds those in the text after the
    escapes are read, so escaping cannot stop them."""
    shown = printable(str(text), limit)
    out = []
    for word in _WORDS.split(shown):
        at_start = not "".join(out).strip()  # only spaces before it: a line's start
        out.append(code(word, len(word)) if _LINKISH.search(word) else _escaped(word, at_start))
    return "".join(out)


def _escaped(text: str, at_start: bool) -> str:
    out = []
    for i, c in enumerate(text):
        before = text[i - 1] if i else ""
        after = text[i + 1] if i + 1 < len(text) else ""
        if c in _ALWAYS or (
            (c == "_" and not (_word(before) and _word(after)))
            or (c == ":" and after and not after.isspace())
            or (at_start and i == 0 and c in _AT_START)
            or (at_start and c in ".)" and text[:i].isdigit() and text[:i].isascii())
        ):
            out.append("\\")
        out.append(c)
    return "".join(out)


_WORDS = re.compile(r"(\s+)")  # split keeping the spaces
# What GitHub's autolinks (http://, https://, www., e-mail) and Streamlit's
# emoji and icon shortcodes (:smile:, :material/home:) start from.
_LINKISH = re.compile(r"://|www\.|@|:[A-Za-z0-9+_-]", re.IGNORECASE)
# Always markup somewhere: escapes, code, emphasis, links and images ([ ]),
# HTML and autolinks (<), LaTeX ($), strikethrough (~), tables (|),
# character references (&).
_ALWAYS = frozenset("\\`*[]<$~|&")
# Markup only at the start of a line: headings, quotes, lists, rules.
_AT_START = frozenset("#>+-=")


def _word(c: str) -> bool:
    return c.isascii() and c.isalnum()
