"""The in-chart controls from the keyboard (WCAG 2.1.1).

Plotly draws a chart's slider and its Play / Pause buttons in SVG, which a
keyboard cannot reach. ``controls(key)`` puts, under the chart with
Streamlit key ``key``, a native range input and native buttons that drive
that same chart in the browser: an arrow key (Home, End, Page Up / Down)
shows the slider's next frame with ``Plotly.animate``, exactly what a click
on the Plotly slider's step does, and the buttons run the Plotly buttons'
own commands; no rerun. The input follows the Plotly slider when the mouse
moves it or the film plays. Every frame and button is read from the drawn
figure, so nothing here knows what the chart shows. The look is in
``app.style.CHART_KEYS_CSS``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import streamlit as st

from app.style import CHART_KEYS_CSS

# What each chart's controls are called for a screen reader (the group's
# name; the buttons' are their own word followed by ``what``; the input's label).
NAMES = {
    "gradient_flow": (
        "The in-chart slider, from the keyboard",
        "the chart",
        "Scrub the chart (arrow keys):",
    ),
    "backward_sweep": (
        "The backward sweep, from the keyboard",
        "the backward sweep",
        "Step through the sweep (arrow keys):",
    ),
}

_JS = r"""
const TICK_MS = 400;

function clone(value) { return JSON.parse(JSON.stringify(value)); }

export default function (component) {
    const { data, parentElement } = component;
    let box = parentElement.querySelector('.gfl-keys');
    if (!box) {
        box = document.createElement('div');
        box.className = 'gfl-keys';
        box.setAttribute('role', 'group');
        box.innerHTML = '<label class="gfl-keys-label"><span class="gfl-keys-name"></span>'
            + '<input type="range" min="0" max="0" step="1" value="0"></label>'
            + '<output class="gfl-keys-value" aria-hidden="true"></output>'
            + '<span class="gfl-keys-buttons"></span>'
            + '<button type="button" class="gfl-keys-use" hidden></button>';
        parentElement.appendChild(box);
    }
    box.dataset.chart = data.chart;
    box.setAttribute('aria-label', data.group);
    const input = box.querySelector('input');
    const shown = box.querySelector('output');
    box.querySelector('.gfl-keys-name').textContent = data.label;

    const chart = () => document.querySelector('.st-key-' + data.chart + ' .js-plotly-plot');
    const sliderOf = (gd) => gd && gd._fullLayout && gd._fullLayout.sliders
        && gd._fullLayout.sliders[0];

    // The frame the user moved to, when it is not the setting: the text that
    // says the chart's numbers follows it (its ``follow`` element), and one
    // button makes it the setting (a trigger the page's script receives).
    const track = data.follow;
    const use = box.querySelector('.gfl-keys-use');
    const followKey = JSON.stringify(track || null);
    if (box.dataset.follow !== followKey) {  // a new setting: the page says it again
        box.dataset.follow = followKey;
        use.hidden = true;
        const said = track && document.querySelector('.' + track.element);
        if (said) delete said.__setting;
    }
    use.onclick = () => {
        if (use.dataset.index) component.setTriggerValue('use', Number(use.dataset.index));
    };

    function moved(index) {
        if (!track || track.labels[index] === undefined) return;
        const away = track.labels[index] !== track.setting;
        const said = document.querySelector('.' + track.element);
        if (said) {
            // the page's own text (the setting's) is kept to put back
            if (said.__setting === undefined) said.__setting = said.innerHTML;
            said.innerHTML = away ? track.texts[index] : said.__setting;
        }
        use.hidden = !away;
        use.dataset.index = String(index);
        use.textContent = track.use.replace('{}', track.labels[index]);
    }

    function show(index) {
        const slider = sliderOf(chart());
        if (!slider || !slider.steps[index]) return;
        input.value = String(index);
        const text = (slider.currentvalue && slider.currentvalue.prefix || '')
            .replace(/^drag to scrub\s*/, '') + slider.steps[index].label;
        input.setAttribute('aria-valuetext', text);
        shown.textContent = text;
    }

    function follow(gd) {
        if (gd.__gflKeys) return;
        gd.__gflKeys = true;
        gd.on('plotly_sliderchange', (event) => {
            show(event.step._index);
            box.__moved && box.__moved(event.step._index);
        });
        gd.on('plotly_animatingframe', (event) => {
            const slider = sliderOf(gd);
            if (!slider) return;
            const index = slider.steps.findIndex(
                (step) => step.args && step.args[0] && step.args[0][0] === event.name);
            if (index >= 0) {
                show(index);
                box.__moved && box.__moved(index);
            }
        });
    }

    function buttons(gd) {
        const holder = box.querySelector('.gfl-keys-buttons');
        const menu = gd._fullLayout.updatemenus && gd._fullLayout.updatemenus[0];
        const wanted = menu ? menu.buttons.map((b) => b.label) : [];
        if (holder.dataset.labels === JSON.stringify(wanted)) return;
        holder.dataset.labels = JSON.stringify(wanted);
        holder.replaceChildren();
        wanted.forEach((label, i) => {
            const button = document.createElement('button');
            button.type = 'button';
            button.textContent = label;
            const word = label.replace(/[^\p{L}\s]/gu, '').trim();
            button.setAttribute('aria-label', word + ' ' + data.what);
            button.addEventListener('click', () => {
                const gd = chart();
                const command = gd._fullLayout.updatemenus[0].buttons[i];
                window.Plotly.animate(gd, ...clone(command.args));
            });
            holder.appendChild(button);
        });
    }

    function sync() {
        const gd = chart();
        const slider = sliderOf(gd);
        box.hidden = !slider;
        if (!slider || !window.Plotly) return;
        input.max = String(slider.steps.length - 1);
        follow(gd);
        buttons(gd);
        if (document.activeElement !== input && !box.dataset.moved) show(slider.active);
    }

    input.oninput = () => {
        const gd = chart();
        const slider = sliderOf(gd);
        if (!slider) return;
        const index = Number(input.value);
        box.dataset.moved = '1';
        window.Plotly.animate(gd, ...clone(slider.steps[index].args));
        show(index);
        moved(index);
    };
    box.__moved = moved;  // the chart's listeners, attached once, call this render's
    input.onblur = () => { delete box.dataset.moved; };
    if (box.__timer) clearInterval(box.__timer);
    box.__timer = setInterval(sync, TICK_MS);  // the chart may be drawn, or redrawn, later
    sync();
}
"""

_COMPONENT = st.components.v2.component(
    "gfl_chart_keys", js=_JS, css=CHART_KEYS_CSS, isolate_styles=False
)


# A formula wider than its column scrolls sideways (projector mode's larger
# text): such a formula is made a tab stop, so that the arrow keys scroll it
# (WCAG 2.1.1); the ones that fit are left out of the tab order.
_FORMULAS_JS = r"""
export default function (component) {
    const mark = () => document.querySelectorAll('.katex-display').forEach((formula) => {
        const scrolls = formula.scrollWidth > formula.clientWidth + 1;
        if (scrolls && !formula.hasAttribute('tabindex')) {
            formula.tabIndex = 0;
            formula.setAttribute('role', 'group');
            formula.setAttribute('aria-label',
                'Formula, wider than its column: arrow keys scroll it');
        } else if (!scrolls && formula.getAttribute('tabindex') === '0') {
            formula.removeAttribute('tabindex');
            formula.removeAttribute('role');
            formula.removeAttribute('aria-label');
        }
    });
    if (window.__gflFormulas) return;
    const main = document.querySelector('[data-testid=stMain]') || document.body;
    let pending = null;
    window.__gflFormulas = new MutationObserver(() => {
        if (pending === null) pending = setTimeout(() => { pending = null; mark(); }, 150);
    });
    window.__gflFormulas.observe(main, { childList: true, subtree: true });
    window.addEventListener('resize', mark);
    mark();
}
"""

_FORMULAS = st.components.v2.component("gfl_formula_keys", js=_FORMULAS_JS, isolate_styles=False)
FORMULAS_KEY = "gfl_formula_keys"


def scrollable_formulas() -> None:
    """Once per page: formulas that scroll sideways become keyboard-scrollable."""
    _FORMULAS(key=FORMULAS_KEY)


def has_controls(spec: dict) -> bool:
    """Whether a figure's specification has an in-chart slider."""
    return bool((spec.get("layout") or {}).get("sliders"))


@dataclass(frozen=True)
class Follow:
    """What follows the in-chart slider when it leaves the setting.

    labels: each step's label (the Plotly slider's); setting: the label of the
    setting's value (none of ``labels`` when it is off the grid); element: the
    class of the page element whose HTML says the chart's numbers at the
    setting, replaced by ``texts[i]`` at step i; use: the button's text, "{}"
    standing for the label; on_use: called with the step index when that
    button is clicked (before the script reruns: it may set any widget)."""

    labels: list[str]
    setting: str
    element: str
    texts: list[str]
    use: str
    on_use: Callable[[int], None]


def controls(key: str, follow: Follow | None = None) -> None:
    """The keyboard's controls for chart ``key`` (see the module's docstring)."""
    group, what, label = NAMES.get(
        key, ("The chart's controls, from the keyboard", "the chart", "Frame (arrow keys):")
    )
    data = {"chart": key, "group": group, "what": what, "label": label}
    own_key = component_key(key)
    callbacks = {}
    if follow is not None:
        data["follow"] = {
            "labels": follow.labels,
            "setting": follow.setting,
            "element": follow.element,
            "texts": follow.texts,
            "use": follow.use,
        }

        def used() -> None:
            index = (st.session_state.get(own_key) or {}).get("use")
            if isinstance(index, int) and 0 <= index < len(follow.labels):
                follow.on_use(index)

        callbacks["on_use_change"] = used
    _COMPONENT(key=own_key, data=data, **callbacks)


def component_key(key: str) -> str:
    """The element key of chart ``key``'s keyboard controls."""
    return f"chart_keys_{key}"
