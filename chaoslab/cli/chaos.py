"""Faults, deploys, the journals, reset and the reaper: the controller's commands."""

from __future__ import annotations

import json
import time

import click

from chaoslab.cli import cli
from chaoslab.cli.common import fail, guard, journals, lab_state, open_controller, remaining, team_option
from chaoslab.escape import printable
from chaoslab.topology import SERVICE_NAMES


@cli.group()
def fault() -> None:
    """Add, list and remove single faults (every fault has a TTL)."""


@fault.command("kinds")
def fault_kinds() -> None:
    """The fault vocabulary: every kind, its target and its parameters."""
    from chaoslab.chaos.faults import DEFAULT_TTL_S, KINDS, MAX_TTL_S

    for kind in KINDS.values():
        target = {"service": "--service", "peer": "--service --peer", "route_or_peer": "--service --route|--peer"}
        click.echo(f"{kind.name:<17} {kind.summary}")
        click.echo(f"{'':<17} target: {target[kind.target]}; services: {', '.join(kind.services)}")
        for param in kind.params:
            click.echo(f"{'':<17} {param.name}={param.default}  {param.help} ({param.allowed()})")
    click.echo(f"\nEvery fault takes --ttl (seconds, default {DEFAULT_TTL_S:g}, at most {MAX_TTL_S:g}).")


@fault.command("add")
@click.argument("kind")
@click.argument("params", nargs=-1)
@click.option("--service", "-s", required=True, help="The service the fault applies to.")
@click.option("--route", help="Inbound route (e.g. /checkout, Reserve) or * for every route.")
@click.option("--peer", help="Outbound peer (e.g. service-c, gateway).")
@click.option("--ttl", type=float, default=None, help="Seconds until the fault removes itself (default 600).")
@click.pass_context
def fault_add(
    ctx: click.Context,
    kind: str,
    params: tuple[str, ...],
    service: str,
    route: str | None,
    peer: str | None,
    ttl: float | None,
) -> None:
    """Inject one fault, e.g. `chaoslab fault add latency ms=500 --service service-b --peer service-c`."""
    from chaoslab.chaos.faults import DEFAULT_TTL_S, parse_cli_params

    controller = open_controller(ctx)
    spec = {
        "kind": kind,
        "service": service,
        "route": route,
        "peer": peer,
        "params": guard(lambda: parse_cli_params(params)),
        "ttl_s": DEFAULT_TTL_S if ttl is None else ttl,
    }
    applied = guard(lambda: controller.add({k: v for k, v in spec.items() if v is not None}))
    instances = ", ".join(o.target.instance for o in applied.outcomes)
    click.echo(
        f"added {applied.fault.id}: {applied.fault.describe()}; expires in {remaining(applied.fault.ttl_s)} "
        f"(on {instances})"
    )


@fault.command("list")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def fault_list(ctx: click.Context, as_json: bool) -> None:
    """Every active fault, read from the agents themselves."""
    controller = open_controller(ctx)
    controller.audit.settle()
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
                f"{remaining(f['remaining_s']):>7}  {printable(scenario)}"
            )
    for line in unreachable:
        click.echo(f"warning: {printable(line)}", err=True)


@fault.command("rm")
@click.argument("fault_id")
@click.pass_context
def fault_rm(ctx: click.Context, fault_id: str) -> None:
    """Remove one fault by id (from `chaoslab fault list`)."""
    removed = open_controller(ctx).remove(fault_id, "stop")
    if not removed:
        fail(f"no active fault {fault_id} (it may have expired); `chaoslab fault list` shows the active ones")
    click.echo(f"removed {fault_id} from {', '.join(f'{t.service} ({t.instance})' for t in removed)}")


@fault.command("reset")
@click.pass_context
def fault_reset(ctx: click.Context) -> None:
    """Remove every fault and deploy everywhere (same as `chaoslab reset`)."""
    ctx.invoke(reset)


@cli.command()
@team_option
@click.option("--all-teams", is_flag=True, help="Every team namespace on the cluster (instructors).")
@click.pass_context
def reset(ctx: click.Context, all_teams: bool) -> None:
    """Remove every fault and every deploy from every service and stop the scenario. Always safe to run."""
    from chaoslab.local.client import lock_is_held

    if all_teams:
        from chaoslab.cli.cohort import team_namespaces

        ctx.obj["target"] = "kubernetes"
        for namespace in team_namespaces(ctx):
            controller = open_controller(ctx, namespace)
            controller.audit.settle()
            removed, unreachable = controller.reset()
            click.echo(
                f"{namespace}: removed {removed} fault(s)"
                + (f"; {len(unreachable)} agent(s) did not answer (their pods were replaced)" if unreachable else "")
            )
        return
    state = lab_state(ctx)
    if ctx.obj["target"] == "local" and not lock_is_held(state):
        cleared = [p for p in state.agents.glob("*.faults.json")] if state.agents.exists() else []
        for path in cleared:
            path.unlink()
        from chaoslab.chaos.controller import SCENARIO
        from chaoslab.chaos.journal import FileStore

        FileStore(state.root).delete(SCENARIO)
        click.echo(f"no lab running in {state.root}; cleared {len(cleared)} saved fault file(s)")
        return
    controller = open_controller(ctx)
    controller.audit.settle()
    removed, unreachable = controller.reset()
    for line in unreachable:
        click.echo(f"warning: {line} (its saved faults were cleared, so it restarts clean)", err=True)
    click.echo(f"reset: removed {removed} fault(s); every service is back on its baseline configuration")


@cli.command()
@click.argument("service", type=click.Choice(SERVICE_NAMES))
@click.argument("changes", nargs=-1, required=True)
@click.option("--note", default="", help="Why: shown in the change feed.")
@click.pass_context
def deploy(ctx: click.Context, service: str, changes: tuple[str, ...], note: str) -> None:
    """Ship a runtime configuration change, e.g. `chaoslab deploy payment money_math=decimal`."""
    from chaoslab.chaos.faults import parse_cli_params

    typed = guard(lambda: parse_cli_params(changes))
    controller = open_controller(ctx)
    version = guard(lambda: controller.deploy(service, typed, note))
    click.echo(f"deployed {service} {version}: {', '.join(changes)}")


@cli.command()
@click.option("--since", default="4h", show_default=True, help="How far back, e.g. 30m, 4h, 2d.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def changes(ctx: click.Context, since: str, as_json: bool) -> None:
    """What changed: every deploy (good or bad), newest last. The first question in triage."""
    from chaoslab.chaos.journal import parse_since

    try:
        window = parse_since(since)
    except ValueError as exc:
        fail(str(exc), 2)
    feed = journals(ctx)
    feed.audit.settle()  # folds in the versions agents made on their own (a TTL ending a bad deploy)
    entries = feed.changes.entries(since_ts=time.time() - window)
    if as_json:
        click.echo(json.dumps(entries, indent=2))
        return
    if not entries:
        click.echo(f"no changes in the last {since}")
    for e in entries:
        click.echo(
            f"{time.strftime('%H:%M:%S', time.localtime(e['ts']))}  {printable(e['service']):<10} "
            f"{printable(e['version']):<14} {printable(e['summary'])}  (by {printable(e['by'])})"
        )


@cli.command()
@click.option("--since", default="24h", show_default=True)
@click.pass_context
def audit(ctx: click.Context, since: str) -> None:
    """The audit log: who started and reverted which fault, where, when and why."""
    from chaoslab.chaos.journal import parse_since

    try:
        window = parse_since(since)
    except ValueError as exc:
        fail(str(exc), 2)
    log = journals(ctx).audit
    log.settle()
    for e in log.entries(since_ts=time.time() - window):
        detail = {k: v for k, v in e.items() if k not in ("ts", "event", "actor")}
        click.echo(
            f"{time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(e['ts']))}  {printable(e['event']):<16} "
            f"{printable(e.get('actor', '')):<12} {json.dumps(detail, default=str)}"
        )


@cli.command()
@click.pass_context
def reap(ctx: click.Context) -> None:
    """Revert Kubernetes-level faults whose TTL has passed (what the reaper CronJob runs)."""
    from chaoslab.chaos.kubernetes.client import KubernetesError
    from chaoslab.chaos.kubernetes.targets import KubernetesTargets

    if ctx.obj["target"] != "kubernetes":
        fail(
            "reap works on a cluster: chaoslab --target kubernetes --namespace NS reap "
            "(local faults expire inside their agents)",
            2,
        )
    try:
        reverted = KubernetesTargets(ctx.obj["namespace"], ctx.obj["context"]).reap()
    except KubernetesError as exc:
        fail(str(exc))
    click.echo(f"reaped {len(reverted)} expired change(s)" + (f": {', '.join(reverted)}" if reverted else ""))
