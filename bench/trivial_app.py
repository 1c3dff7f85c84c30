"""The yardstick for bench/app_latency.py: one slider and one small Plotly line
that depends on it, nothing else. Its keypress-to-redraw time is what
Streamlit and the browser cost on their own.

    streamlit run bench/trivial_app.py

With TRIVIAL_NO_DELAY=1 in its environment it also turns off Nagle's
algorithm on its sockets, as the app does (app/process.py): stock Streamlit
leaves it on, so some of its presses wait up to 40 ms for the browser's
delayed acknowledgement. ``bench/app_latency.py --trivial-no-delay`` sets it.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import plotly.graph_objects as go
import streamlit as st

if os.environ.get("TRIVIAL_NO_DELAY") == "1":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from app import process

    process.send_small_messages_at_once()

SLIDER_LABEL = "Frequency n"
CHART_KEY = "trivial_chart"

n = st.slider(SLIDER_LABEL, 1, 1000, 10, key="n")
x = np.linspace(0.0, 1.0, 100)
fig = go.Figure(go.Scatter(x=x, y=np.sin(2 * np.pi * n * x / 10), mode="lines", name="sine"))
fig.update_layout(height=300, template="none", margin={"l": 40, "r": 10, "t": 10, "b": 30})
st.plotly_chart(fig, key=CHART_KEY, theme=None)
