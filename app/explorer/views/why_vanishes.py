"""3. Why it vanishes: the per-step Jacobian norm, its running product beside the
actual gradient, the eigenvalues of W_hh, and the T × T map of how much the
loss at step t depends on the state at step s."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from app import budget, cached, charts, panels
from app.compute import (
    GATE_BLOCKS,
    norms_over_time,
    product_bound,
    recurrent_eigenvalues,
    sample_steps,
)
from app.explorer.state import Settings
from app.explorer.views.common import MAX_STEPS_DRAWN, TEXT_BESIDE, Runs, chart, colour, name
from app.sweeps import SENSITIVITY_MAX_T, sensitivity_feasible
from app.text import latex_number, text_column

BLOCK_NAMES = {
    "main": "W_hh",
    "input": "input-gate block",
    "forget": "forget-gate block",
    "output": "output-gate block",
    "reset": "reset-gate block",
    "update": "update-gate block",
}


def figures(settings: Settings, runs: Runs) -> dict[str, go.Figure]:
    """The step norms, their product against the gradient, the focus cell's
    eigenvalues and its T × T map (each left out when it cannot be drawn)."""
    out = {}
    finished = list(runs.finished())
    if finished:
        jacobians = _jacobians(runs, finished)
        out["jacobian_norms"] = jacobian_figure(settings, jacobians)
        out["product_bound"] = product_bound_figure(settings, finished, jacobians)
    eigenvalues = eigenvalues_figure(runs)
    if eigenvalues is not None:
        out["eigenvalues"] = eigenvalues
    sensitivity = sensitivity_figure(settings, runs)
    if sensitivity is not None:
        out["sensitivity"] = sensitivity
    return out


def _jacobians(runs: Runs, finished) -> dict[str, np.ndarray | None]:
    """Each finished cell's (T,) ‖∂s_t/∂s_{t−1}‖ (forward direction)."""
    return {kind: cached.jacobian_norms(runs.spec(kind))[0] for kind, _ in finished}


def jacobian_figure(settings: Settings, jacobians) -> go.Figure:
    steps = sample_steps(settings.steps, MAX_STEPS_DRAWN)
    lines = [
        charts.Line(name(k), colour(k), steps, j[steps])
        for k, j in jacobians.items()
        if j is not None
    ]
    return charts.lines_figure(
        lines,
        title="One step back: ‖∂s<sub>t</sub>/∂s<sub>t−1</sub>‖ (largest stretch)",
        y_title="spectral norm (log scale)",
        log=True,
        reference=1.0,
        reference_text="1: neither shrinks nor grows",
    )


def product_bound_figure(settings: Settings, finished, jacobians) -> go.Figure:
    steps = sample_steps(settings.steps, MAX_STEPS_DRAWN)
    bound_lines = []
    for kind, run in finished:
        actual = norms_over_time(run.trace.grad_hidden)
        bound_lines.append(charts.Line(f"{name(kind)}: actual", colour(kind), steps, actual[steps]))
        jac = jacobians[kind]
        if jac is not None and np.isfinite(actual[-1]):
            bound = product_bound(jac, float(actual[-1]))
            bound_lines.append(
                charts.Line(
                    f"{name(kind)}: product of the step norms",
                    colour(kind),
                    steps,
                    bound[steps],
                    dash="dot",
                )
            )
    return charts.lines_figure(
        bound_lines,
        title="All the way back: the product of the step norms against ‖∂L/∂h<sub>t</sub>‖",
        y_title="norm (log scale)",
        log=True,
        backward=True,
    )


def eigenvalues_figure(runs: Runs) -> go.Figure | None:
    """The focus cell's W_hh eigenvalues (None if it could not run)."""
    focus = runs.focus
    focus_run = runs.get(focus)
    if focus_run.params is None:
        return None
    eig = recurrent_eigenvalues(focus_run.spec, focus_run.params)
    names = dict(BLOCK_NAMES)
    if focus == "jordan":
        names["main"] = "loop W_out·W_hh"
    elif focus != "rnn":
        names["main"] = "candidate block"
    return panels.eigenvalues_figure(
        eig,
        colour=colour(focus),
        title=f"{name(focus)}: eigenvalues of W<sub>hh</sub>",
        block_names=names,
    )


def sensitivity_figure(settings: Settings, runs: Runs) -> go.Figure | None:
    """The focus cell's T × T map; None when too large (``map_fits``) or when
    it could not be computed."""
    kind = runs.focus
    spec = runs.spec(kind)
    if not map_fits(settings, spec):
        return None
    matrix = cached.sensitivity(spec)
    if matrix is None:
        return None
    steps = np.arange(settings.steps)
    return panels.log_heatmap_figure(
        matrix,
        steps,
        title=f"{name(kind)}: how the loss at step t depends on h<sub>s</sub>",
        colour_title="‖∂L<sub>t</sub>/∂h<sub>s</sub>‖",
        y_title="loss at step t",
        y_values=steps,
        x_title="state at step s",
        height=560,
        square=True,
    )


def map_fits(settings: Settings, spec) -> bool:
    """Whether the T × T map is drawn: small enough, and within the page's budget."""
    return sensitivity_feasible(spec) and budget.sensitivity_fits(settings)


def render(settings: Settings, runs: Runs) -> None:
    finished = list(runs.finished())
    if not finished:
        st.info("No cell could run with these settings.")
        return
    jacobians = _jacobians(runs, finished)

    left, right = st.columns(TEXT_BESIDE, gap="medium")
    with left:
        chart(jacobian_figure(settings, jacobians), "jacobian_norms", settings, alone=True)
    with right:
        _explain_jacobian(settings, finished, jacobians)

    left, right = st.columns(TEXT_BESIDE, gap="medium")
    with left:
        chart(product_bound_figure(settings, finished, jacobians), "product_bound", settings)
    with right:
        text_column(
            "Dotted: the product of the step norms from the last step back to t, times "
            "the last step's gradient. The norm of a product is at most the product of "
            "the norms, so with the loss on the last step the actual gradient (solid) "
            "can never rise above it; it is often far below, when the steps' stretches "
            "point in different directions.",
            latex=[
                r"\Big\|\frac{\partial L}{\partial h_t}\Big\| \le "
                r"\Big\|\frac{\partial L}{\partial h_{T-1}}\Big\|"
                r"\prod_{\tau=t+1}^{T-1}\Big\|\frac{\partial s_\tau}{\partial s_{\tau-1}}\Big\|"
            ],
        )
        if settings.setup == "many_to_many":
            st.caption(
                "With the loss summed over steps the bound covers only the last step's loss; "
                "the other steps' losses add to the solid lines."
            )

    left, right = st.columns([1.2, 1], gap="medium")
    focus = runs.focus
    focus_run = runs.get(focus)
    eigenvalues = eigenvalues_figure(runs)
    with left:
        if eigenvalues is not None:
            chart(eigenvalues, "eigenvalues", settings)
    with right:
        if focus_run.params is not None:
            _explain_eigenvalues(settings, focus, focus_run)

    _sensitivity(settings, runs)


def _explain_jacobian(settings: Settings, finished, jacobians) -> None:
    parts = []
    for kind, _ in finished:
        j = jacobians[kind]
        if j is None:
            continue
        finite = j[1:][np.isfinite(j[1:])] if j.size > 1 else j[np.isfinite(j)]
        if finite.size:
            parts.append(
                f"**{name(kind)}** {np.exp(np.mean(np.log(np.maximum(finite, 1e-300)))):.3f}"
            )
    elman = "rnn" in settings.cells
    text_column(
        "How much one step back can stretch the gradient: the largest singular value of "
        "the Jacobian of the state (h, and c for an LSTM). Below the dashed line at 1 every "
        "step shrinks it; above, a step may grow it — but need not: the stretch may point "
        "away from where the gradient is.",
        ("Typical value (geometric mean over steps): " + "; ".join(parts) + ".") if parts else "",
        "For the Elman RNN one step is the activation's slope times W_hh:" if elman else "",
        latex=[
            r"\frac{\partial h_t}{\partial h_{t-1}} = \operatorname{diag}\big(f'(a_t)\big)\,W_{hh}"
        ]
        if elman
        else [],
    )


def _explain_eigenvalues(settings: Settings, kind: str, run) -> None:
    H = settings.hidden_size
    if kind == "jordan":
        radius = float(np.max(np.abs(recurrent_eigenvalues(run.spec, run.params)["main"])))
    else:
        main = GATE_BLOCKS[kind].index("main")
        block = run.params["weight_hh"][main * H : (main + 1) * H]
        radius = float(np.max(np.abs(np.linalg.eigvals(block))))
    verdict = "inside" if radius < 1 else "outside" if radius > 1 else "on"
    text_column(
        f"The recurrent matrix's eigenvalues: the largest |λ| (the spectral radius) is "
        f"{radius:.3f}, {verdict} the unit circle. Repeated multiplication by W_hh "
        "shrinks along eigenvectors inside the circle and grows along those outside: "
        "the rule course notes 002 (“Problem of BPTT”) give: largest eigenvalue of W_hh "
        "below 1 → gradients likely vanish, above 1 → likely explode.",
        "It is a tendency, not a law: the activation's slope multiplies each step too, "
        "and a non-symmetric W_hh can grow a vector for a while before shrinking it.",
        latex=[rf"\rho(W_{{hh}}) = \max_i |\lambda_i| = {latex_number(radius)}"],
    )


def _sensitivity(settings: Settings, runs: Runs) -> None:
    kind = runs.focus
    spec = runs.spec(kind)
    left, right = st.columns([1.2, 1], gap="medium")
    with right:
        text_column(
            "Row t, column s: how much the loss at step t depends on the state at step s, "
            r"$\|\partial L_t/\partial h_s\|$. The diagonal is each loss's own step; "
            "moving left along a row goes back in time. A one-way network cannot look "
            "ahead, so the upper triangle stays empty; a bidirectional one fills both.",
            latex=[r"\Big\|\frac{\partial L_t}{\partial h_s}\Big\|,\quad s \le t"],
        )
    with left:
        if not map_fits(settings, spec):
            st.info(
                f"The T × T map is drawn for T ≤ {SENSITIVITY_MAX_T} and small enough "
                "cells (it takes T batched runs, beside the Jacobian norms above, within "
                "what this server gives one page); lower T or H, or show fewer cells, "
                "to see it."
            )
            return
        with st.spinner("Computing the T × T map…"):
            fig = sensitivity_figure(settings, runs)
        if fig is None:
            st.info("The T × T map could not be computed for these settings.")
            return
        chart(fig, "sensitivity", settings)
