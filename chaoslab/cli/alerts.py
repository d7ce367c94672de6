"""Alerts and runbooks: what is firing on the local lab, and what to do about it."""

from __future__ import annotations

import json
import time

import click

from chaoslab.alerts.definitions import RULES
from chaoslab.alerts.runbooks import find
from chaoslab.backend import Options
from chaoslab.cli import cli
from chaoslab.cli.common import local_state, pass_options
from chaoslab.errors import BadInput
from chaoslab.escape import printable
from chaoslab.local.client import LabClient
from chaoslab.timefmt import duration

HIDDEN_LABELS = {"alertname", "severity", "owner", "slo", "team", "namespace", "job", "instance"}
"""Labels every alert of a lab shares or that the columns already show."""


def _labels(alert: dict) -> str:
    shown = {k: v for k, v in alert["labels"].items() if k not in HIDDEN_LABELS}
    return printable("{" + ", ".join(f"{k}={v}" for k, v in sorted(shown.items())) + "}") if shown else ""


def _client(options: Options):
    if options.target == "kubernetes":
        raise BadInput(
            "alerts are evaluated by the lab daemon on the local target; on Kubernetes the namespace's "
            f"Prometheus evaluates the same rules: `kubectl -n {options.namespace} port-forward svc/prometheus 9090` "
            "and open http://127.0.0.1:9090/alerts"
        )
    return LabClient(local_state(options))


@cli.command("alerts")
@click.option("--json", "as_json", is_flag=True, help="The daemon's alert state as JSON.")
@click.option(
    "--history", is_flag=True, help="Every transition (pending, fired, resolved) the daemon keeps, oldest first."
)
@click.option("--all", "show_all", is_flag=True, help="Also the alerts resolved in the last 15 minutes.")
@pass_options
def alerts(options: Options, as_json: bool, history: bool, show_all: bool) -> None:
    """Firing and pending alerts of the local lab: tier, owner, since when, value, runbook.

    The lab daemon scrapes every service's /metrics every few seconds and evaluates the same rules
    Prometheus runs on Kubernetes (charts/chaoslab/files/alerts.yaml). `chaoslab runbook ALERT` prints
    an alert's runbook.
    """
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
            stamp = time.strftime("%H:%M:%S", time.localtime(event["ts"]))
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


@cli.command("runbook")
@click.argument("alert")
def runbook(alert: str) -> None:
    """Print the runbook of ALERT (an alert name such as QueueBacklog, or a runbook name)."""
    _, path = find(alert, RULES)
    click.echo(path.read_text().rstrip())
