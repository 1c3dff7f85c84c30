"""What the explorer shows fits on the lecturer's screen: measured in Chromium.

At the projector's 1024×768 and at 1400×900, in the light and dark themes and
in projector mode, with the sidebar open and collapsed, every tab is opened
and measured with ``getBoundingClientRect``: each chart's own text (titles,
axis titles, legend, annotations, the in-chart slider's labels) lies inside
the chart and no two of those texts overlap; the tab list is not under the
page header (``elementFromPoint`` at each tab's centre and near its top finds
the tab) and no tab is off the screen; no formula is cut or scrolls. At 200 %
zoom (half the CSS pixels) the sidebar starts collapsed, so it does not lie
over the chart. Screenshots go to test-output/layout_<size>_<look>.png.

One server, one browser, one page per screen size; the look is set by the
link (``proj=1``, ``theme=dark``), ``T=101`` so that no preset's box is shown.
"""

from __future__ import annotations

import pytest

from app.figures import VIEW_MODULES
from tests.browser_support import ROOT, wait_until_idle

pytestmark = pytest.mark.browser

TABS = list(VIEW_MODULES)
SCREENSHOTS = ROOT / "test-output"
TIMEOUT = 90_000  # ms; the machine may be shared with other test runs
SIX_CELLS = "cell=rnn,jordan,gru,mgu,lstm,lstm_nofg&"  # the longest legend
LOOKS = {
    "light": "",
    "dark": "theme=dark&",
    "projector": "proj=1&",
    "projector-dark": "proj=1&theme=dark&",
}
SIZES = [(1024, 768), (1400, 900)]
# look → (the tabs measured, the (size, sidebar open) each is measured in).
# The page is loaded once a look; sizes and the sidebar change in place.
# Every tab in projector mode with the sidebar open (the hardest case); the
# first tab in the other looks, sidebar open and collapsed across the sizes.
BOTH = [(size, open_) for size in SIZES for open_ in (True, False)]
CASES = {
    "projector": (TABS, [(size, True) for size in SIZES]),
    "projector-dark": (TABS[:1], BOTH),
    "light": (TABS[:1], [(SIZES[0], True), (SIZES[1], False)]),
    "dark": (TABS[:1], [(SIZES[0], False), (SIZES[1], True)]),
}

# Every problem of the tab bar and the sidebar's buttons, as sentences.
_MEASURE_TABS = r"""() => {
  const problems = [];
  const name = (el) => (el.textContent || '').trim().slice(0, 40);
  const header = document.querySelector('[data-testid=stHeader]');
  const headerBottom = header && getComputedStyle(header).display !== 'none'
      ? header.getBoundingClientRect().bottom : 0;
  for (const tab of document.querySelectorAll('[role=tab]')) {
    const r = tab.getBoundingClientRect();
    if (r.left < 0 || r.right > window.innerWidth + 0.5) {
      const from = Math.round(r.left), to = Math.round(r.right);
      problems.push(`tab "${name(tab)}" is off the screen at x ${from}…${to}`);
      continue;
    }
    if (r.top < headerBottom - 0.5) {
      const top = Math.round(r.top), bottom = Math.round(headerBottom);
      problems.push(`tab "${name(tab)}" starts at y=${top}, under the page header (to ${bottom})`);
    }
    for (const y of [r.top + 4, (r.top + r.bottom) / 2]) {
      const hit = document.elementFromPoint((r.left + r.right) / 2, y);
      if (!hit || !tab.contains(hit)) {
        const by = hit ? (hit.closest('[data-testid]')?.dataset.testid || hit.tagName) : 'nothing';
        problems.push(`tab "${name(tab)}" is covered at y=${Math.round(y)} by ${by}`);
      }
    }
  }
  // the sidebar's buttons (the presets' pills): whole names, no "…"
  for (const text of document.querySelectorAll('[data-testid=stSidebar] button p')) {
    if (text.getBoundingClientRect().width > 0 && text.scrollWidth > text.clientWidth + 1) {
      problems.push(`the sidebar's button "${name(text)}" is cut`);
    }
  }
  return problems;
}"""

# Every problem of the open tab's charts and formulas, as sentences.
_MEASURE = r"""() => {
  const problems = [];
  const visible = (el) => {
    const r = el.getBoundingClientRect();
    if (r.width < 1 || r.height < 1) return false;
    const style = getComputedStyle(el);
    if (style.display === 'none' || style.visibility === 'hidden') return false;
    if (parseFloat(style.opacity) === 0 || parseFloat(style.fillOpacity) === 0) return false;
    return !/rgba\(.*,\s*0\)$/.test(style.fill);
  };
  const box = (el) => el.getBoundingClientRect();
  const name = (el) => (el.textContent || '').trim().slice(0, 40);
  const px = (r) => '[' + [r.left, r.top, r.right, r.bottom].map(Math.round).join(', ') + ']';
  const overlap = (a, b) => Math.min(a.right, b.right) - Math.max(a.left, b.left) > 2
      && Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top) > 2;
  const width = window.innerWidth;
  const panel = [...document.querySelectorAll('[role=tabpanel]')].find((p) => visible(p));
  if (!panel) return ['no open tab panel'];

  // each chart's own text inside the chart, and no two of them overlapping
  const TEXT = 'text.gtitle, text[class$="title"], .cbtitle text, text.legendtext, '
      + '.annotation-text, text.slider-label';
  for (const gd of panel.querySelectorAll('.js-plotly-plot')) {
    const chart = box(gd);
    const where = name(gd.querySelector('text.gtitle') || gd) || 'a chart';
    if (chart.left < 0 || chart.right > width + 0.5) {
      problems.push(`chart "${where}" is off the screen at ${px(chart)}`);
    }
    const texts = [...gd.querySelectorAll(TEXT)].filter(visible);
    for (const text of texts) {
      const r = box(text);
      if (r.left < chart.left - 1 || r.right > chart.right + 1
          || r.top < chart.top - 1 || r.bottom > chart.bottom + 1) {
        problems.push(`"${name(text)}" ${px(r)} is cut by its chart "${where}" ${px(chart)}`);
      }
    }
    // Plotly's toolbar (shown on hover, always laid out): not over the title
    const toolbar = gd.querySelector('.modebar');
    const title = gd.querySelector('text.gtitle');
    if (toolbar && title && box(toolbar).width > 0 && overlap(box(toolbar), box(title))) {
      problems.push(`Plotly's toolbar ${px(box(toolbar))} covers the title of "${where}"`);
    }
    for (let i = 0; i < texts.length; i++) {
      for (let j = i + 1; j < texts.length; j++) {
        if (overlap(box(texts[i]), box(texts[j]))) {
          problems.push(`"${name(texts[i])}" overlaps "${name(texts[j])}" in "${where}"`);
        }
      }
    }
  }

  // formulas: whole, not scrolled, within the column they stand in
  for (const formula of panel.querySelectorAll('.katex')) {
    if (!visible(formula)) continue;
    const holder = formula.closest('.katex-display') || formula.parentElement;
    const column = formula.closest('[data-testid=stColumn]') || panel;
    const r = box(formula);
    if (holder.scrollWidth > holder.clientWidth + 1) {
      const needs = holder.scrollWidth, has = holder.clientWidth;
      problems.push(`formula "${name(formula)}" scrolls (${needs} > ${has} px)`);
    }
    if (r.right > box(column).right + 1 || r.right > width) {
      const inside = px(box(column));
      problems.push(`formula "${name(formula)}" ${px(r)} runs out of its column ${inside}`);
    }
  }
  return problems;
}"""

_CHARTS_SETTLED = """() => {
  const panel = [...document.querySelectorAll('[role=tabpanel]')]
      .find((p) => p.getBoundingClientRect().height > 0);
  if (!panel) return false;
  const charts = [...panel.querySelectorAll('.js-plotly-plot')];
  return charts.length > 0 && charts.every((gd) => gd._fullLayout && gd.querySelector('.main-svg'));
}"""


def settle(page) -> None:
    wait_until_idle(page, timeout=TIMEOUT)
    page.wait_for_function(_CHARTS_SETTLED, timeout=TIMEOUT)
    page.wait_for_timeout(400)  # Plotly's responsive resize after the column's width is known


def set_sidebar(page, open_: bool) -> None:
    """Open or collapse the sidebar with its own buttons (Streamlit keeps the
    choice in the browser's storage, across reloads)."""
    sidebar = page.locator("[data-testid=stSidebar]")
    if (sidebar.get_attribute("data-collapsed") == "false") == open_:
        return
    if open_:
        page.locator("[data-testid=stExpandSidebarButton]").click()
    else:
        sidebar.hover()  # the collapse button shows on hover
        page.locator("[data-testid=stSidebarCollapseButton] button").click()
    page.wait_for_selector(
        f"[data-testid=stSidebar][data-collapsed={'false' if open_ else 'true'}]",
        state="attached",
    )
    page.wait_for_timeout(300)  # the sidebar slides


def test_every_text_fits_its_chart_and_no_header_covers_the_tabs(browser, app_url):
    """Each look's tabs measured (see the module's docstring) in its sizes,
    sidebar open or collapsed; the tab bar too, and once more with the last
    tab open (a tab list that scrolled sideways slid its first tabs under the
    sidebar)."""
    width, height = SIZES[0]
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    page.set_default_timeout(TIMEOUT)
    SCREENSHOTS.mkdir(exist_ok=True)
    problems = []
    try:
        for look, (tabs, screens) in CASES.items():
            # the longest legend in two looks: all six cells
            cells = SIX_CELLS if look in ("light", "projector-dark") else ""
            page.goto(f"{app_url}/?{cells}{LOOKS[look]}T=101")
            page.wait_for_selector("[role=tab]")
            settle(page)
            for tab in tabs:
                page.get_by_role("tab", name=tab).click()
                settle(page)
                for (width, height), sidebar_open in screens:
                    page.set_viewport_size({"width": width, "height": height})
                    set_sidebar(page, sidebar_open)
                    page.wait_for_timeout(500)  # Plotly redraws for the new width
                    sidebar = "open" if sidebar_open else "collapsed"
                    case = f"{width}x{height} {look}, sidebar {sidebar}, {tab}"
                    problems += [f"{case}: {p}" for p in page.evaluate(_MEASURE_TABS)]
                    problems += [f"{case}: {p}" for p in page.evaluate(_MEASURE)]
                    if tab == TABS[0]:
                        name = f"layout_{width}x{height}_{look}_{sidebar}.png"
                        page.screenshot(path=SCREENSHOTS / name)
    finally:
        context.close()
    assert not problems, "\n".join(problems)


def test_at_200_percent_zoom_the_sidebar_starts_collapsed_beside_the_chart(browser, app_url):
    """1024×768 at 200 %: 512×384 CSS pixels. The sidebar does not open over the chart."""
    context = browser.new_context(viewport={"width": 512, "height": 384})
    page = context.new_page()
    page.set_default_timeout(TIMEOUT)
    try:
        page.goto(f"{app_url}/?proj=1&T=101")
        page.wait_for_selector("[role=tab]")
        settle(page)
        SCREENSHOTS.mkdir(exist_ok=True)
        page.screenshot(path=SCREENSHOTS / "layout_512x384_projector.png")
        covered = page.evaluate(
            """() => {
                const gd = document.querySelector('.js-plotly-plot');
                const r = gd.getBoundingClientRect();
                const points = [[r.left + 20, r.top + 40], [(r.left + r.right) / 2, r.top + 40]];
                return points.filter(([x, y]) => x < window.innerWidth && y < window.innerHeight)
                    .filter(([x, y]) => !gd.contains(document.elementFromPoint(x, y)))
                    .map(([x, y]) => [Math.round(x), Math.round(y)]);
            }"""
        )
        assert covered == [], f"something lies over the chart at {covered}"
        assert page.locator("[data-testid=stSidebar][data-collapsed=false]").count() == 0
    finally:
        context.close()
