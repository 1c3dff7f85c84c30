"""The budget's verdict on the page (``app.budget``): one sentence, and the
nearest settings that fit as buttons that keep every other setting."""

from __future__ import annotations

import streamlit as st

from app import budget
from app.budget import Offer, Verdict
from app.explorer import session

VIEW_KEY = "view"  # the tabs' key (app.explorer.page)


def sentence(verdict: Verdict) -> str:
    """What was refused, how large it is, and what a page may take."""
    what = "the cells' runs" if not verdict.runs_fit else f"the “{verdict.view}” tab"
    return (
        f"These settings would take about {_seconds(verdict.cost.seconds)} of computing "
        f"and {_size(verdict.cost.bytes)} of memory for {what}, more than one page may "
        f"take on this shared server ({_seconds(budget.RERUN_SECONDS)}, "
        f"{_size(budget.RERUN_BYTES)}): nothing was run. "
        + ("The nearest settings that fit:" if verdict.offers else "Lower T, H or the cells.")
    )


def draw(verdict: Verdict) -> None:
    """The sentence, then one button per offer."""
    st.warning(sentence(verdict), icon=":material/speed:")
    if not verdict.offers:
        return
    with st.container(horizontal=True, gap="small", key="budget_offers"):
        for i, offer in enumerate(verdict.offers):
            st.button(
                offer.label,
                key=f"budget_offer_{i}",
                on_click=take,
                args=(offer,),
                help=None if offer.view else "Apply these settings; the others stay as they are",
            )


def take(offer: Offer) -> None:
    """Button callback (runs before the script, so it may set any widget's state)."""
    state = st.session_state
    if offer.view is not None:
        state[VIEW_KEY] = offer.view
        return
    state[session.SETTINGS_KEY] = offer.settings
    session.load_widgets(offer.settings, only_missing=False)


def downloads_refused() -> None:
    """In the sidebar, in place of the CSV and JSON buttons."""
    st.caption(
        "The numbers behind the charts: too large to prepare on this shared server "
        "at these settings; lower T or H, or show fewer cells, to download them."
    )


def _seconds(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds >= 10 else f"{seconds:.1f} s"


def _size(size: int) -> str:
    mb = size / 2**20
    return f"{mb / 1024:.1f} GB" if mb >= 1024 else f"{mb:.0f} MB"
