"""The gradient explorer: the app's first page.

Its whole state is one ``Settings`` (``state.py``), read from and written to
the link; ``session.py`` keeps it in step with Streamlit's widgets,
``sidebar.py`` draws the controls and returns the Settings, ``presets.py``
names the lecture's settings, and ``views/`` holds one module per tab. The
entry is ``page.main``.
"""
