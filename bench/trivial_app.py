"""The yardstick for bench/app_latency.py: one slider and one small Plotly line
that depends on it, nothing else. Its keypress-to-redraw time is what
Streamlit and the browser cost on their own.

    streamlit run bench/trivial_app.py
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import streamlit as st

SLIDER_LABEL = "Frequency n"
CHART_KEY = "trivial_chart"

n = st.slider(SLIDER_LABEL, 1, 1000, 10, key="n")
x = np.linspace(0.0, 1.0, 100)
fig = go.Figure(go.Scatter(x=x, y=np.sin(2 * np.pi * n * x / 10), mode="lines", name="sine"))
fig.update_layout(height=300, template="none", margin={"l": 40, "r": 10, "t": 10, "b": 30})
st.plotly_chart(fig, key=CHART_KEY, theme=None)
