"""The open incident and its timeline. The incident record arrives with chaoslab/incident (issue 10,
second part); this panel is its place on the page until then."""

from __future__ import annotations

from markupsafe import Markup

from chaoslab.console.panels import Context, Panel


def render(ctx: Context) -> Markup:
    return Markup(
        '<p class="muted placeholder">No incident record in this lab yet (chaoslab/incident). Note what you '
        "see and when: impact start, detection, mitigation.</p>"
    )


PANEL = Panel("incident", "Incident", render, every_s=30.0)
