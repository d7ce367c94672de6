"""Training drills: list, show, start (with the drill's traffic), stop, status, hint, fix."""

from __future__ import annotations

import json
import time

import click

from chaoslab.cli import cli
from chaoslab.cli.common import fail, front_door, guard, lab_state, open_controller, remaining, start_load, team_option
from chaoslab.cli.common import scenario as load_scenario


@cli.group()
def scenario() -> None:
    """Training drills: list, show, start, stop, status, hint, fix."""


@scenario.command("list")
def scenario_list() -> None:
    """Every scenario, easiest first."""
    from chaoslab.chaos.scenarios import catalogue

    for s in guard(catalogue):
        fixes = f"{len(s.fixes)} fix{'es' if len(s.fixes) != 1 else ''}" if s.fixes else "diagnosis"
        click.echo(f"{s.difficulty:<7} {s.id:<18} {s.title:<52} {fixes}")


@scenario.command("show")
@click.argument("scenario_id")
@click.option("--spoilers", is_flag=True, help="Also the faults, root cause, fixes and checks (instructors).")
def scenario_show(scenario_id: str, spoilers: bool) -> None:
    """The story handed to trainees (and, with --spoilers, everything else)."""
    s = load_scenario(scenario_id)
    click.echo(
        f"{s.title}  [{s.id}, {s.difficulty}]\n\n{s.story}\n\n{len(s.hints)} hints: "
        f"`chaoslab scenario hint` gives them one at a time."
    )
    if spoilers:
        click.echo(f"\nsummary: {s.summary}")
        for spec in s.faults:
            click.echo(f"fault: {json.dumps(spec)}")
        for spec in s.red_herrings:
            click.echo(f"red herring: {json.dumps(spec)}")
        click.echo(f"root cause: {s.root_cause['kind']} on {s.root_cause['service']}: {s.root_cause['explanation']}")
        for fix in s.fixes:
            changes = " ".join(f"{k}={v}" for k, v in fix.changes.items())
            click.echo(f"fix {fix.id}: {fix.summary}  (chaoslab deploy {fix.service} {changes})")
        click.echo("symptom: " + "; ".join(c.describe() for c in s.symptom))
        click.echo("slo: " + "; ".join(c.describe() for c in s.slo))


@scenario.command("start")
@team_option
@click.argument("scenario_id")
@click.option("--ttl", type=click.FloatRange(min=1), default=None, help="Seconds until its faults expire.")
@click.option(
    "--load/--no-load",
    "with_load",
    default=True,
    show_default=True,
    help="Also start the drill's traffic (unless load already runs).",
)
@click.pass_context
def scenario_start(ctx: click.Context, scenario_id: str, ttl: float | None, with_load: bool) -> None:
    """Start a drill: apply its faults (all or none), start its traffic, print the story."""
    from chaoslab.loadtest import background
    from chaoslab.loadtest.runner import LoadPlan

    s = load_scenario(scenario_id)
    controller = open_controller(ctx)
    controller.audit.settle()
    applied = guard(lambda: controller.start(s, ttl))
    load_note = ""
    if with_load and ctx.obj["target"] == "kubernetes":
        from chaoslab.chaos.kubernetes import load as cluster_load
        from chaoslab.chaos.kubernetes.client import KubernetesError

        try:
            cluster_load.swarm(
                controller.targets.api,
                ctx.obj["namespace"],
                s.load["users"],
                s.load["spawn_rate"],
                s.load["think_time_s"],
                s.load["journey"],
            )
            controller.note_load_started()
            load_note = f"traffic: {s.load['users']} {s.load['journey']} users from the namespace's Locust\n"
        except KubernetesError as exc:
            click.echo(f"warning: could not start the drill's traffic: {exc}", err=True)
    elif with_load and background.current(lab_state(ctx)) is None:
        plan = LoadPlan(
            host=front_door(ctx),
            users=s.load["users"],
            spawn_rate=s.load["spawn_rate"],
            think_time_s=s.load["think_time_s"],
            journey=s.load["journey"],
            shape=s.load["shape"],
        )
        info = start_load(ctx, plan, f"scenario:{s.id}")
        controller.note_load_started()
        load_note = f"traffic: {s.load['users']} {s.load['journey']} users, web UI {info['web_url']}\n"
    click.echo(
        f"scenario {s.id} started: {len(applied)} fault(s) applied, they expire in "
        f"{remaining(applied[0].fault.ttl_s)}\n{load_note}\n{s.title}\n\n{s.story}\n"
    )
    click.echo(
        "hints: chaoslab scenario hint    give up: chaoslab scenario stop    prove a fix: chaoslab verify " + s.id
    )


@scenario.command("stop")
@team_option
@click.pass_context
def scenario_stop(ctx: click.Context) -> None:
    """Revert the running scenario's faults."""
    from chaoslab.loadtest import background

    controller = open_controller(ctx)
    running = guard(controller.stop)
    if running.get("load_started") and ctx.obj["target"] == "kubernetes":
        from chaoslab.chaos.kubernetes import load as cluster_load
        from chaoslab.chaos.kubernetes.client import KubernetesError

        try:
            cluster_load.stop(controller.targets.api, ctx.obj["namespace"])
        except KubernetesError as exc:
            click.echo(f"warning: could not stop the drill's traffic: {exc}", err=True)
    elif running.get("load_started"):
        background.stop(lab_state(ctx))
    s = load_scenario(running["id"])
    click.echo(
        f"scenario {s.id} stopped after {remaining(time.time() - running['started_at'])}.\n"
        f"root cause: {s.root_cause['kind']} on {s.root_cause['service']}: {s.root_cause['explanation']}"
    )


@scenario.command("status")
@team_option
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def scenario_status(ctx: click.Context, as_json: bool) -> None:
    """The running scenario, its age, and which of its faults are still active. Exit 1 if none runs."""
    controller = open_controller(ctx)
    controller.audit.settle()
    running = controller.current()
    if running is None or running["expires_at"] <= time.time():
        fail("no scenario is running" + (f" ({running['id']} expired)" if running else ""))
    active = {f["id"] for f in controller.faults()[0]}
    alive = [fid for fid in running["fault_ids"] if fid in active]
    if as_json:
        click.echo(json.dumps(dict(running, active_fault_ids=alive), indent=2))
        return
    click.echo(
        f"{running['id']}: running for {remaining(time.time() - running['started_at'])}, "
        f"{remaining(running['expires_at'] - time.time())} left, {len(alive)}/{len(running['fault_ids'])} "
        f"faults active, {running.get('hints_shown', 0)} hint(s) given, started by {running['actor']}"
    )


@scenario.command("hint")
@team_option
@click.pass_context
def scenario_hint(ctx: click.Context) -> None:
    """The next hint for the running scenario."""
    controller = open_controller(ctx)
    running = controller.current()
    if running is None:
        fail("no scenario is running")
    s = load_scenario(running["id"])
    number, text = guard(lambda: controller.next_hint(s))
    click.echo(f"hint {number}/{len(s.hints)}: {text}")


@scenario.command("fix")
@team_option
@click.argument("fix_id", required=False)
@click.pass_context
def scenario_fix(ctx: click.Context, fix_id: str | None) -> None:
    """Deploy one of the running scenario's fixes (the first one unless FIX_ID is given)."""
    controller = open_controller(ctx)
    running = controller.current()
    if running is None:
        fail("no scenario is running")
    s = load_scenario(running["id"])
    fix = guard(lambda: s.fix(fix_id))
    version = guard(lambda: controller.apply_fix(s, fix))
    click.echo(f"deployed {fix.service} {version}: {fix.summary}")
