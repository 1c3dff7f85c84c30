"""Gradient Flow Lab: watch gradients vanish, explode, get clipped and get
carried by gates, then watch networks learn (or fail to).

Run with ``streamlit run app/streamlit_app.py``. The app has two pages, each a
package with its own state, sidebar and views: the gradient explorer
(``app/explorer/``, at the root, so its links stay ``/?cell=…``) and the
training lab (``app/lab/``, at ``/training_lab``). What both use (figures,
style, export, links, the engine runs) lives in the modules of ``app/``.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # streamlit puts app/ on the path, not the repository
    sys.path.insert(0, str(ROOT))


def pages() -> None:
    """The app's two pages in Streamlit's own navigation: the explorer at the
    root (its links stay ``/?cell=…``), the lab at ``/training_lab``."""
    import streamlit as st

    from app.explorer import page as explorer
    from app.lab import page as lab

    st.set_page_config(
        page_title="Gradient Flow Lab",
        page_icon="📉",
        layout="wide",
        initial_sidebar_state="auto",  # collapsed on a narrow screen (200 % zoom)
    )
    navigation = st.navigation(
        [
            st.Page(explorer.main, title="Gradient explorer", default=True),
            st.Page(lab.render, title="Training lab", url_path="training_lab"),
        ]
    )
    navigation.run()


# Streamlit runs this file as __main__; the worker process that makes the
# in-chart slider's runs (app/worker.py) imports it too, as multiprocessing
# does a main module, and needs none of the pages: they are imported above,
# only when the app runs.
if __name__ == "__main__":
    pages()
