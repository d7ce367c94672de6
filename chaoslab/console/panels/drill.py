"""The 5-question drill (WHAT fired, WHEN, SCOPE, RECENT CHANGE, OWNER) and the team's answers, graded
as `chaoslab triage` told the team when it answered; before any answer, the questions."""

from __future__ import annotations

from markupsafe import Markup

from chaoslab import command
from chaoslab.console.panel import Context, Panel
from chaoslab.console.render import clock, esc
from chaoslab.incident.triage import QUESTIONS

WORDS = {"what": "WHAT", "when": "WHEN", "scope": "SCOPE", "change": "RECENT CHANGE", "owner": "OWNER"}
ASKS = {
    "what": "Which alert fired?",
    "when": "When did the impact start?",
    "scope": "What share of checkouts or users is affected?",
    "change": "Which change, if any, came just before?",
    "owner": "Which team owns the failing part?",
}
GRADES = {True: ("right", "right"), False: ("wrong", "wrong"), None: ("ungraded", "not graded")}


def _answer(question: str, answer: dict | None) -> str:
    if answer is None:
        return f'<span class="muted">{esc(ASKS[question])}</span>'
    given = answer["given"]
    if question == "when" and answer.get("value") is not None:
        given = f"{clock(float(answer['value']))} ({given})" if given != clock(float(answer["value"])) else given
    css, said = GRADES[answer.get("correct")]
    again = (
        f' <span class="muted">(answered {answer["answers"]}×; the first counts)</span>'
        if answer["answers"] > 1
        else ""
    )
    return f'<span class="given">{esc(given)}</span> <span class="grade {css}">{said}</span>{again}'


def render(ctx: Context) -> Markup:
    found = ctx.source.incident()
    answers = found["answers"] if found else {}
    rows = "".join(
        f'<li data-question="{question}"><b>{WORDS[question]}</b> {_answer(question, answers.get(question))}</li>'
        for question in QUESTIONS
    )
    right = sum(a.get("correct") is True for a in answers.values())
    if found is None:
        tail = f"Open an incident first, then answer with <code>{esc(command('triage'))}</code>."
    elif found["state"].startswith("resolved"):
        tail = f"{right}/{len(answers)} right for {esc(found['id'])} (resolved)."
    elif not answers:
        tail = f"Not answered yet for {esc(found['id'])}: <code>{esc(command('triage'))}</code> asks each question."
    else:
        tail = (
            f"{right}/{len(answers)} right for {esc(found['id'])}; <code>{esc(command('triage'))}</code> answers more."
        )
    tail = f'<p class="muted drill-tally">{tail}</p>'
    return Markup(f'<ol class="drill">{rows}</ol>{tail}')


PANEL = Panel("drill", "5-question drill", render, every_s=5.0)
