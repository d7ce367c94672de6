"""``chaoslab diagnose``: the shadow on-call's ranked root-cause candidates, the evidence as a prompt for
an AI assistant, or the assistant's answer recorded on the incident (chaoslab/diagnose)."""

from __future__ import annotations

import json
import threading

import click

from chaoslab import command
from chaoslab.backend import Options
from chaoslab.chaos.journal import parse_since
from chaoslab.cli import cli
from chaoslab.cli.common import backend, pass_options, team_option
from chaoslab.diagnose import DEFAULT_SINCE_S, ask, report
from chaoslab.diagnose.ask import KEPT_CHARS
from chaoslab.diagnose.shadow import EVERY_S, ShadowOnCall
from chaoslab.errors import BadInput, Refused
from chaoslab.escape import printable
from chaoslab.incident.record import IncidentLog

SINCE_RANGE_S = (30.0, 900.0)
"""The baseline holds at least this much and at most as much as the lab daemon remembers."""


@cli.command()
@team_option
@click.option(
    "--since",
    default=f"{DEFAULT_SINCE_S / 60:g}m",
    show_default=True,
    help="How much of the lab's healthy past the baseline holds, and how far back changes count (30s to 15m).",
)
@click.option("--json", "as_json", is_flag=True, help="The whole diagnosis as JSON.")
@click.option("--prompt", "as_prompt", is_flag=True, help="The evidence as a prompt for an AI assistant (not ranked).")
@click.option(
    "--ask",
    "ask_command",
    metavar="COMMAND",
    help="Pipe the prompt to COMMAND (an assistant's CLI reading stdin) and record its answer on the open incident.",
)
@click.option(
    "--shadow",
    is_flag=True,
    help="Be the shadow on-call in the foreground while the team's incident is open (Kubernetes: run it as an "
    "instructor; the local lab's daemon does it by itself).",
)
@click.option("--reveal", is_flag=True, help="Instructors: the ranking even before the team wrote its own hypothesis.")
@pass_options
def diagnose(
    options: Options,
    team: str | None,
    since: str,
    as_json: bool,
    as_prompt: bool,
    ask_command: str | None,
    shadow: bool,
    reveal: bool,
) -> None:
    """Rank root-cause candidates (service, fault kind) from traces, metrics and the change feed, with the
    evidence to check and what was ruled out. It reads what a trainee can read, nothing else."""
    try:
        since_s = parse_since(since)
    except ValueError as exc:
        raise BadInput(str(exc)) from None
    low, high = SINCE_RANGE_S
    if not low <= since_s <= high:
        raise BadInput(f"--since {since}: from {low:g}s to {high / 60:g}m (the lab remembers 15 minutes)")
    if sum([as_json, as_prompt, ask_command is not None, shadow]) > 1:
        raise BadInput("--json, --prompt, --ask and --shadow are separate uses: give one of them")
    argv = ask.parse(ask_command) if ask_command is not None else None
    lab = backend(options, team)
    if shadow:
        _shadow(lab)
        return
    ranked = not (as_prompt or argv)
    incident = _open_incident(lab)
    if ranked and incident is not None and not reveal:
        _hypothesis_first(incident)
    result = lab.diagnose(since_s)
    if as_json:
        click.echo(json.dumps(result.to_json(), indent=2))
    elif as_prompt:
        click.echo(report.prompt(result))
    elif argv is not None:
        answer = ask.ask(argv, report.prompt(result))
        click.echo(answer.text)
        _record_answer(lab, incident, answer)
    else:
        click.echo(report.text(result))
    if ranked and incident is not None and not reveal:
        _record_consulted(lab, incident)


def _open_incident(lab):
    return IncidentLog(lab.store(), lab.actor).current()


def _hypothesis_first(incident) -> None:
    """During an open incident the ranking comes after the team's own hypothesis: a trainee consults it
    to compare, not instead of thinking (the lab daemon's ``/api/diagnose`` needs the lab's token)."""
    own = [e for e in incident.of_kind("hypothesis", "root_cause_answer") if e.get("source") != "shadow"]
    if not own:
        raise Refused(
            f"{incident.id} is open and your team has no hypothesis yet: write one first "
            f"(`{command('incident note TEXT --hypothesis')}`), then compare it with the diagnosis "
            "(--prompt and --ask show the evidence without a ranking; instructors: --reveal)"
        )


def _record_consulted(lab, incident) -> None:
    IncidentLog(lab.store(), lab.actor).write(incident, "note", "consulted the shadow on-call's ranking (`diagnose`)")


def _record_answer(lab, incident, answer) -> None:
    if incident is None:
        click.echo("(no open incident: the answer is not recorded)", err=True)
        return
    first = next((line for line in answer.text.splitlines() if line.strip()), "(empty answer)")
    IncidentLog(lab.store(), lab.actor).write(
        incident,
        "note",
        f"AI assistant ({answer.command}) answered in {answer.seconds:g} s: {first[:300]}",
        {"assistant": answer.command, "seconds": answer.seconds, "answer": answer.text[:KEPT_CHARS]},
    )
    click.echo(f"recorded on {incident.id}'s timeline", err=True)


def _shadow(lab) -> None:
    if lab.target == "local":  # one shadow per lab: two would race for the same record
        raise Refused("the local lab's daemon runs the shadow on-call by itself whenever an incident is open")
    shadow = ShadowOnCall(lab.store(), lab.diagnose)
    click.echo(f"shadow on-call for {lab.where}: looking every {EVERY_S:g} s while an incident is open (Ctrl-C stops)")
    stopping = threading.Event()
    try:
        while not stopping.wait(EVERY_S):
            written = shadow.tick()
            if written is not None:
                click.echo(
                    f"{written['incident']}: top answer now {printable(written['kind'])} on "
                    f"{printable(written['service'])} ({written['confidence']:.2f}), kept off the team's board"
                )
    except KeyboardInterrupt:
        click.echo("shadow on-call stopped")
