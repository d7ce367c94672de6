"""The 5-question drill (WHAT fired, WHEN, SCOPE, RECENT CHANGE, OWNER) and the team's answers. The
drill arrives with chaoslab/incident's triage; until then the panel lists the questions."""

from __future__ import annotations

from markupsafe import Markup

from chaoslab.console.panels import Context, Panel

QUESTIONS = (
    ("WHAT", "Which alert fired?"),
    ("WHEN", "When did the impact start?"),
    ("SCOPE", "What share of checkouts or users is affected?"),
    ("RECENT CHANGE", "Which change, if any, came just before?"),
    ("OWNER", "Which team owns the failing part?"),
)


def render(ctx: Context) -> Markup:
    rows = "".join(f"<li><b>{word}</b> {question}</li>" for word, question in QUESTIONS)
    return Markup(
        f'<ol class="drill">{rows}</ol><p class="muted placeholder">Answers are recorded with the incident '
        "(chaoslab/incident, to come).</p>"
    )


PANEL = Panel("drill", "5-question drill", render, every_s=60.0)
