"""The training lab: the app's second page, at ``/training_lab``.

Its whole state is one ``LabSettings`` (``state.py``), read from and written
to the link; ``sidebar.py`` draws the controls, ``presets.py`` names the
lecture's runs, ``training.py`` trains the chosen cells side by side through
``engine.train``, ``cliff.py`` computes Pascanu et al.'s loss surface,
``charts.py`` and ``words.py`` draw and describe them. The entry is
``page.render``.
"""
