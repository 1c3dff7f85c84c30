"""What each chart says must be what it shows (issue 13): every line in a
legend is visible or named in words where it leaves the axis; θ only on the
chart of the quantity it bounds; the phase diagram's border where its text
says; axes over the data they hold.

Figure-level: each view's ``figures`` on a ``Runs`` of the settings, as the
app draws and exports them."""

from __future__ import annotations

from app import alt_text
from app.presets import PRESETS
from app.state import Settings
from app.views import clipping, gradient_flow
from app.views.common import Runs


def _figures(view, settings: Settings) -> dict[str, dict]:
    return {key: fig.to_dict() for key, fig in view.figures(settings, Runs(settings)).items()}


def _titles(figs: dict[str, dict]) -> list[str]:
    return [alt_text.plain(fig["layout"]["title"]["text"]) for fig in figs.values()]


# ---- clipping's θ ---------------------------------------------------------------------------


def test_theta_is_not_drawn_on_the_gradient_over_time():
    """θ bounds the parameters' global norm, not ‖∂L/∂h_t‖: a θ line on the
    gradient-flow chart reads as if the curves were capped there."""
    settings = PRESETS["Clipping tames an explosion"].settings
    flow = _figures(gradient_flow, settings)["gradient_flow"]
    texts = [a.get("text", "") for a in flow["layout"].get("annotations", [])]
    assert not any("θ" in text for text in texts), texts
    assert not flow["layout"].get("shapes"), flow["layout"].get("shapes")
    global_norm = _figures(clipping, settings)["clipping_global"]
    assert any("θ" in a.get("text", "") for a in global_norm["layout"]["annotations"])


def test_clipping_titles_say_no_theta_when_clipping_is_off():
    titles = _titles(_figures(clipping, Settings()))
    assert titles and not any("θ" in t or "before and after" in t for t in titles), titles
    clipped = _titles(_figures(clipping, Settings(clip=1.0)))
    assert any("against θ" in t for t in clipped) and any("before and after" in t for t in clipped)
