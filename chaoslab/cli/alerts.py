"""Alerts, silences and runbooks: what is firing on the local lab, what to keep quiet, and what to do."""

from __future__ import annotations

import json
import time

import click

from chaoslab.alerts import matchers as label_matchers
from chaoslab.alerts.definitions import RULES
from chaoslab.alerts.runbooks import find
from chaoslab.backend import Options
from chaoslab.chaos.journal import parse_since
from chaoslab.cli import cli
from chaoslab.cli.common import backend, local_state, pass_options, team_option
from chaoslab.errors import BadInput
from chaoslab.escape import printable
from chaoslab.incident import silence
from chaoslab.local.client import LabClient
from chaoslab.timefmt import clock, duration

MAX_SILENCE_S = 24 * 3600
"""The longest silence: a lab's day."""
HIDDEN_LABELS = {"alertname", "severity", "owner", "slo", "team", "namespace", "job", "instance"}
"""Labels every alert of a lab shares or that the columns already show."""


def _labels(alert: dict) -> str:
    shown = {k: v for k, v in alert["labels"].items() if k not in HIDDEN_LABELS}
    return printable("{" + ", ".join(f"{k}={v}" for k, v in sorted(shown.items())) + "}") if shown else ""


def _client(options: Options):
    if options.target == "kubernetes":
        raise BadInput(
            "alerts are evaluated by the lab daemon on the local target; on Kubernetes Prometheus evaluates the "
            f"same rules and Alertmanager holds what fires: `kubectl -n {options.namespace} port-forward "
            "svc/alertmanager 9093` (a cohort team: -n chaoslab-platform) and open http://127.0.0.1:9093; "
            "what paged the team is on its incident record (`incident show`)"
        )
    return LabClient(local_state(options))


@cli.group("alerts", invoke_without_command=True)
@click.option("--json", "as_json", is_flag=True, help="The daemon's alert state as JSON.")
@click.option(
    "--history", is_flag=True, help="Every transition (pending, fired, resolved) the daemon keeps, oldest first."
)
@click.option("--all", "show_all", is_flag=True, help="Also the alerts resolved in the last 15 minutes.")
@click.pass_context
@pass_options
def alerts(options: Options, ctx: click.Context, as_json: bool, history: bool, show_all: bool) -> None:
    """Firing and pending alerts of the local lab: tier, owner, since when, value, runbook.

    The lab daemon scrapes every service's /metrics every few seconds and evaluates the same rules
    Prometheus runs on Kubernetes (charts/chaoslab/files/alerts.yaml). `chaoslab runbook ALERT` prints
    an alert's runbook; `alerts silence`, `alerts silences` and `alerts unsilence` keep pages quiet.
    """
    if ctx.invoked_subcommand is not None:
        return
    state = _client(options).alerts(since=0 if history else None)
    if as_json:
        click.echo(json.dumps(state, indent=2))
        return
    now = time.time()
    if history:
        events = state.get("events", [])
        if not events:
            click.echo("no alert has changed state since the lab started")
        for event in events:
            stamp = clock(event["ts"])
            kind = event["kind"].removeprefix("alert_")
            labels = _labels(event)
            click.echo(
                f"{stamp}  {kind:<8} {event['severity']}  {printable(event['alert'])}"
                f"{' ' + labels if labels else ''}  owner {printable(event['owner'])}: {printable(event['summary'])}"
            )
        return
    shown = [a for a in state["alerts"] if show_all or a["state"] != "resolved"]
    down = [name for name, scrape in state["targets"].items() if not scrape["up"]]
    if state["evaluated_at"] is None:
        click.echo("the lab daemon has not evaluated the alert rules yet; try again in a few seconds")
    elif not shown:
        click.echo(f"no alerts firing or pending ({state['rules']} rules, evaluated every {state['interval_s']:g}s)")
    for alert in shown:
        since = {"firing": alert["fired_at"], "pending": alert["active_at"], "resolved": alert["resolved_at"]}
        labels = _labels(alert)
        click.echo(
            f"{alert['state']:<8} {alert['severity']}  {printable(alert['alert'])}{' ' + labels if labels else ''}"
            f"  owner {printable(alert['owner'])}  since {duration(now - since[alert['state']])}"
        )
        click.echo(f"    {printable(alert['summary'])}")
        click.echo(f"    runbook: {printable(alert['runbook_url'])} (chaoslab runbook {printable(alert['alert'])})")
    if down:
        click.echo(f"not answering /metrics: {', '.join(sorted(down))}")
    for name, error in state["rule_errors"].items():
        click.echo(f"rule {printable(name)} cannot be evaluated: {printable(error)}", err=True)


@alerts.command("silence")
@team_option
@click.argument("matchers", nargs=-1)
@click.option("--for", "for_text", default="1h", show_default=True, help="How long: 90s, 10m, 2h.")
@click.option("--reason", required=True, help="Why, in a sentence (kept with the silence).")
@pass_options
def alerts_silence(options: Options, team: str | None, matchers: tuple[str, ...], for_text: str, reason: str) -> None:
    """Keep matching alerts from opening an incident, e.g. `alerts silence owner=payments --for 10m
    --reason "gateway maintenance"` (label=value, label!=value, label=~regex; none: every alert)."""
    parsed = [label_matchers.parse(m) for m in matchers]
    try:
        seconds = parse_since(for_text)
    except ValueError:
        raise BadInput(f"--for {for_text!r}: use a number and a unit, e.g. 90s, 10m, 2h") from None
    if not 0 < seconds <= MAX_SILENCE_S:
        raise BadInput(f"--for {for_text!r}: between 1 s and {MAX_SILENCE_S // 3600} h")
    lab = backend(options, team)
    now = time.time()
    made = silence.Silences(lab.store()).add(
        now, now + seconds, " ".join(reason.split()), lab.actor, parsed, for_this_run=False
    )
    click.echo(f"{made['id']}: {printable(label_matchers.described(parsed))} silenced until {clock(made['until'])}")


@alerts.command("silences")
@team_option
@click.option("--json", "as_json", is_flag=True)
@pass_options
def alerts_silences(options: Options, team: str | None, as_json: bool) -> None:
    """The silences in force now: id, matchers, until when, who and why."""
    found = silence.Silences(backend(options, team).store()).active(time.time())
    if as_json:
        click.echo(json.dumps(found, indent=2))
        return
    if not found:
        click.echo("no silence in force")
    for item in found:
        said = label_matchers.described(item.get("matchers") or [])
        until = clock(item["until"])
        click.echo(
            f"{item.get('id', '-')}  {printable(said)}  until {until}  by {printable(item.get('actor', '-'))}: "
            f"{printable(item.get('reason', ''))}"
        )


@alerts.command("unsilence")
@team_option
@click.argument("silence_id")
@pass_options
def alerts_unsilence(options: Options, team: str | None, silence_id: str) -> None:
    """End a silence now."""
    lab = backend(options, team)
    silence.Silences(lab.store()).end(silence_id, lab.actor)
    click.echo(f"{silence_id} ended")


@cli.command("runbook")
@click.argument("alert")
def runbook(alert: str) -> None:
    """Print the runbook of ALERT (an alert name such as QueueBacklog, or a runbook name)."""
    _, path = find(alert, RULES)
    click.echo(path.read_text().rstrip())
