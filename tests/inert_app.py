"""A page of hostile text through ``app.inert``, for tests/test_browser_links.py:
each line quoted as a value (``code``) and escaped as a sentence (``plain``)."""

import sys
from pathlib import Path

import streamlit as st

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app import inert
from tests.test_inert import HOSTILE

for text in HOSTILE:
    st.warning(f"value {inert.code(text, 80)} and sentence {inert.plain(text)}")
