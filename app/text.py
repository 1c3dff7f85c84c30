"""The words beside a chart, on both pages: numbers as the text and as LaTeX
write them, and the column of sentences and formulas a chart sits next to."""

from __future__ import annotations

import numpy as np
import streamlit as st


def text_column(*paragraphs: str, latex: list[str] | None = None) -> None:
    """The two to four sentences beside a chart, and its equation(s)."""
    for paragraph in paragraphs:
        if paragraph:
            st.markdown(paragraph)
    for formula in latex or []:
        st.latex(formula)


def sci(value: float | None, digits: int = 3) -> str:
    """A number for the text: 117.39, 0.00515, 3.2 × 10⁻²⁵."""
    plain, mantissa, exponent = _scientific(value, digits)
    if plain is not None:
        return plain
    return f"{mantissa} × 10{str(exponent).translate(_SUPERSCRIPT)}"


_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def latex_number(value: float | None, digits: int = 3) -> str:
    """The same number for st.latex."""
    plain, mantissa, exponent = _scientific(value, digits)
    if plain is not None:
        return r"\text{—}" if plain == "—" else plain
    return rf"{mantissa} \times 10^{{{exponent}}}"


def _scientific(value: float | None, digits: int) -> tuple[str | None, str, int]:
    """(plain text, or None) and else (mantissa text, exponent) for ``value``."""
    if value is None or not np.isfinite(value):
        return "—", "", 0
    if value == 0:
        return "0", "", 0
    exponent = int(np.floor(np.log10(abs(value))))
    if -3 <= exponent <= 4:
        fixed = max(0, digits - 1 - exponent)
        return (f"{value:.{fixed}f}" if exponent < digits else f"{value:.0f}"), "", 0
    return None, f"{value / 10**exponent:.{digits - 1}f}", exponent
