"""Faults, deploys, the journals, reset and the reaper: the controller's commands."""

from __future__ import annotations

import json
import logging
import time

import click

from chaoslab import command
from chaoslab.backend import Options
from chaoslab.chaos.faults import KINDS, TTL, parse_cli_params
from chaoslab.chaos.journal import parse_since
from chaoslab.cli import cli
from chaoslab.cli.cohort import team_namespaces
from chaoslab.cli.common import backend, pass_options, team_option
from chaoslab.cli.instructor import authorise
from chaoslab.errors import BadInput, Refused
from chaoslab.escape import printable
from chaoslab.incident import drills
from chaoslab.incident.mystery import refuse_if_hidden
from chaoslab.settings import Alerts, Paging, load
from chaoslab.timefmt import duration
from chaoslab.topology import SERVICE_NAMES, owner


@cli.group()
def fault() -> None:
    """Add, list and remove single faults (every fault has a TTL)."""


@fault.command("kinds")
def fault_kinds() -> None:
    """The fault vocabulary: every kind, its scope and its parameters."""
    scopes = {"service": "--service", "peer": "--service --peer", "route_or_peer": "--service --route|--peer"}
    for kind in KINDS.values():
        click.echo(f"{kind.name:<17} {kind.summary}")
        click.echo(f"{'':<17} where: {scopes[kind.scope]}; services: {', '.join(kind.services)}")
        if kind.analogue:
            click.echo(f"{'':<17} like: {kind.analogue}")
        for param in kind.params:
            click.echo(f"{'':<17} {param.name}={param.default}  {param.help} ({param.allowed()})")
    click.echo(f"\nEvery fault takes --ttl ({TTL.allowed()}, default {TTL.default:g}).")


@fault.command("add")
@team_option
@click.argument("kind")
@click.argument("params", nargs=-1)
@click.option("--service", "-s", required=True, help="The service the fault applies to.")
@click.option("--route", help="Inbound route (e.g. /checkout, Reserve) or * for every route.")
@click.option("--peer", help="Outbound peer (e.g. service-c, gateway).")
@click.option(
    "--ttl", type=float, default=None, help=f"{TTL.help.rstrip('.')} (default {TTL.default:g}, at most {TTL.max:g})."
)
@pass_options
def fault_add(
    options: Options,
    team: str | None,
    kind: str,
    params: tuple[str, ...],
    service: str,
    route: str | None,
    peer: str | None,
    ttl: float | None,
) -> None:
    """Inject one fault, e.g. `chaoslab fault add latency ms=500 --service service-b --peer service-c`."""
    spec = {"kind": kind, "service": service, "route": route, "peer": peer, "params": parse_cli_params(params)}
    if ttl is not None:
        spec["ttl_s"] = ttl
    applied = backend(options, team).controller().add({k: v for k, v in spec.items() if v is not None})
    instances = ", ".join(o.instance.name for o in applied.outcomes)
    click.echo(
        f"added {applied.fault.id}: {applied.fault.describe()}; expires in {duration(applied.fault.ttl_s)} "
        f"(on {instances})"
    )


@fault.command("list")
@team_option
@click.option("--json", "as_json", is_flag=True)
@click.option("--reveal", is_flag=True, help="Also while a mystery drill runs (instructors: CHAOSLAB_TOKEN).")
@pass_options
def fault_list(options: Options, team: str | None, as_json: bool, reveal: bool) -> None:
    """Every active fault, read from the agents themselves."""
    lab = backend(options, team)
    if reveal:
        authorise(lab, "fault list --reveal")
    controller = lab.controller()
    refuse_if_hidden(controller.store, reveal, "the fault list")
    found, unreachable = controller.faults()
    if as_json:
        click.echo(json.dumps({"faults": found, "unreachable": unreachable}, indent=2))
        return
    if not found:
        click.echo("no active faults")
    else:
        click.echo(f"{'ID':<12} {'KIND':<16} {'WHERE':<28} {'LEFT':>7}  SCENARIO")
        for f in found:
            where = (
                f["service"]
                + (f" {f['route']}" if f.get("route") else "")
                + (f" → {f['peer']}" if f.get("peer") else "")
            )
            scenario = (f.get("scenario") or "") + (" (red herring)" if f.get("red_herring") else "")
            click.echo(
                f"{printable(f['id']):<12} {printable(f['kind']):<16} {printable(where):<28} "
                f"{duration(f['remaining_s']):>7}  {printable(scenario)}"
            )
    for line in unreachable:
        click.echo(f"warning: {printable(line)}", err=True)


@fault.command("rm")
@team_option
@click.argument("fault_id")
@pass_options
def fault_rm(options: Options, team: str | None, fault_id: str) -> None:
    """Remove one fault by id (from `chaoslab fault list`)."""
    removed = backend(options, team).controller().remove(fault_id, "stop")
    if not removed:
        raise Refused(
            f"no active fault {fault_id} (it may have expired); `{command('fault list')}` shows the active ones"
        )
    click.echo(f"removed {fault_id} from {', '.join(f'{i.service} ({i.name})' for i in removed)}")


@fault.command("reset")
@click.pass_context
def fault_reset(ctx: click.Context) -> None:
    """Remove every fault and deploy everywhere (same as `chaoslab reset`)."""
    ctx.invoke(reset)


@cli.command()
@team_option
@click.option("--all-teams", is_flag=True, help="Every team namespace on the cluster (instructors).")
@pass_options
def reset(options: Options, team: str | None, all_teams: bool) -> None:
    """Remove every fault and every deploy from every service and stop the scenario. Always safe to run."""
    if all_teams:
        for namespace in team_namespaces(options):
            report, _ = drills.reset(backend(options.for_namespace(namespace)))
            gone = f"; {len(report.unreachable)} agent(s) did not answer (their pods were replaced)"
            click.echo(f"{namespace}: removed {report.removed} fault(s)" + (gone if report.unreachable else ""))
        return
    lab = backend(options, team)
    report, warning = drills.reset(lab)
    if warning:
        click.echo(f"warning: {warning}", err=True)
    if not report.running:
        click.echo(f"no lab running in {lab.where}; cleared {report.cleared} saved fault(s)")
        return
    for line in report.unreachable:
        click.echo(f"warning: {line} (its saved faults were cleared, so it restarts clean)", err=True)
    click.echo(f"reset: removed {report.removed} fault(s); every service is back on its baseline configuration")


@cli.command()
@team_option
@click.argument("service", type=click.Choice(SERVICE_NAMES))
@click.argument("changes", nargs=-1, required=True)
@click.option("--note", default="", help="Why: shown in the change feed.")
@pass_options
def deploy(options: Options, team: str | None, service: str, changes: tuple[str, ...], note: str) -> None:
    """Ship a runtime configuration change, e.g. `chaoslab deploy payment money_math=decimal`."""
    typed = parse_cli_params(changes)
    version = backend(options, team).controller().deploy(service, typed, note)
    click.echo(f"deployed {service} {version}: {', '.join(changes)}")


def _since(text: str) -> float:
    try:
        return time.time() - parse_since(text)
    except ValueError as exc:
        raise BadInput(str(exc)) from None


@cli.command()
@team_option
@click.option("--since", default="4h", show_default=True, help="How far back, e.g. 30m, 4h, 2d.")
@click.option("--json", "as_json", is_flag=True)
@pass_options
def changes(options: Options, team: str | None, since: str, as_json: bool) -> None:
    """What changed: every deploy (good or bad), newest last. The first question in triage."""
    feed = backend(options, team).journals()
    try:
        feed.audit.settle()  # folds in the versions agents made on their own (a TTL ending a bad deploy)
    except Refused:
        pass  # a graded trainee may not read the answer key; the feed stays as the last settle left it
    entries = feed.changes.entries(since_ts=_since(since))
    if as_json:
        click.echo(json.dumps(entries, indent=2))
        return
    if not entries:
        click.echo(f"no changes in the last {since}")

    for e in sorted(entries, key=lambda e: e["ts"]):
        team = owner(e["service"]) if e["service"] in SERVICE_NAMES else "-"
        click.echo(
            f"{time.strftime('%m-%d %H:%M:%S', time.localtime(e['ts']))}  {printable(e.get('id', '-')):<10} "
            f"{printable(e['service']):<10} {team:<10} {printable(e['version']):<14} {printable(e['summary'])}  "
            f"(by {printable(e['by'])})"
        )


@cli.command()
@team_option
@click.option("--since", default="24h", show_default=True)
@click.option("--reveal", is_flag=True, help="Also while a mystery drill runs (instructors: CHAOSLAB_TOKEN).")
@pass_options
def audit(options: Options, team: str | None, since: str, reveal: bool) -> None:
    """The audit log: who started and reverted which fault, where, when and why."""
    lab = backend(options, team)
    if reveal:
        authorise(lab, "audit --reveal")
    refuse_if_hidden(lab.store(), reveal, "the audit log")
    log = lab.journals().audit
    for e in log.entries(since_ts=_since(since)):
        detail = {k: v for k, v in e.items() if k not in ("ts", "event", "actor")}
        click.echo(
            f"{time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(e['ts']))}  {printable(e['event']):<16} "
            f"{printable(e.get('actor', '')):<12} {json.dumps(detail, default=str)}"
        )


@cli.command()
@pass_options
def reap(options: Options) -> None:
    """Revert Kubernetes-level faults whose TTL has passed (what the reaper CronJob runs)."""
    lab = backend(options)
    reverted = lab.reap()
    click.echo(f"reaped {len(reverted)} expired change(s)" + (f": {', '.join(reverted)}" if reverted else ""))


@cli.command()
@click.option("--host", default="0.0.0.0", show_default=True, help="Address to serve Alertmanager's webhook on.")
@click.option("--port", default=9095, show_default=True, type=click.IntRange(1, 65535), help="Its port.")
@pass_options
def pager(options: Options, host: str, port: int) -> None:
    """Run the team's pager (what its `pager` Deployment runs): Alertmanager's webhook receiver at
    /alerts, which puts the team's alerts from CHAOSLAB_ALERTS_ALERTMANAGER_URL on its incident record,
    mirrors the team's silences there, escalates on time and sends the record's notices to
    CHAOSLAB_PAGE_WEBHOOK."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    settings = load(Alerts)
    backend(options).pager(settings.alertmanager_url, settings.pager_interval_s, load(Paging)).serve(host, port)
