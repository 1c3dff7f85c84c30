"""The training lab's page script: ``st.navigation`` runs it (see app.lab.page)."""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run alone (a test), streamlit puts app/ on the path
    sys.path.insert(0, str(ROOT))

from app.lab.page import render  # noqa: E402

render()
