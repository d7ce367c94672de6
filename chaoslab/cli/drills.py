"""Training drills: list, show, start (with the drill's traffic, or a hidden one: --mystery), stop, status,
hint, fix, reveal."""

from __future__ import annotations

import json
import time

import click

from chaoslab import command
from chaoslab.backend import Options
from chaoslab.chaos.drill import DrillJournal
from chaoslab.chaos.scenarios import catalogue
from chaoslab.cli import cli
from chaoslab.cli.common import backend, more_time, pass_options, team_option
from chaoslab.cli.common import scenario as load_scenario
from chaoslab.cli.instructor import authorise
from chaoslab.errors import BadInput, Refused
from chaoslab.escape import printable
from chaoslab.incident import drills
from chaoslab.incident.actions import Actions
from chaoslab.incident.mystery import draw, hidden, reveal
from chaoslab.timefmt import clock, duration


@cli.group()
def scenario() -> None:
    """Training drills: list, show, start, stop, status, hint, fix."""


@scenario.command("list")
def scenario_list() -> None:
    """Every scenario, easiest first."""
    for s in catalogue():
        fixes = f"{len(s.fixes)} fix{'es' if len(s.fixes) != 1 else ''}" if s.fixes else "diagnosis"
        click.echo(f"{s.difficulty:<7} {s.id:<18} {s.title:<52} {fixes}")


@scenario.command("show")
@team_option
@click.argument("scenario_id")
@click.option(
    "--spoilers", is_flag=True, help="Also the faults, root cause, fixes and checks (instructors: CHAOSLAB_TOKEN)."
)
@pass_options
def scenario_show(options: Options, team: str | None, scenario_id: str, spoilers: bool) -> None:
    """The story handed to trainees (and, with --spoilers, everything else)."""
    s = load_scenario(scenario_id)
    if spoilers:
        authorise(backend(options, team), f"scenario show {s.id} --spoilers")
    click.echo(
        f"{s.title}  [{s.id}, {s.difficulty}]\n\n{s.story}\n\n{len(s.hints)} hints: "
        f"`{command('scenario hint')}` gives them one at a time."
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
            click.echo(f"fix {fix.id}: {fix.summary}  ({command(f'deploy {fix.service} {changes}')})")
        click.echo("symptom: " + "; ".join(c.describe() for c in s.symptom))
        click.echo("slo: " + "; ".join(c.describe() for c in s.slo))


@scenario.command("start")
@team_option
@click.argument("scenario_id", required=False)
@click.option(
    "--ttl",
    type=click.FloatRange(min=1),
    default=None,
    help="Seconds until its faults expire (default: the drill's own duration).",
)
@click.option(
    "--mystery", is_flag=True, help="Hide the drill from trainees (only its story); without SCENARIO_ID, draw one."
)
@click.option("--difficulty", default=None, help="With --mystery: draw from intern, junior, senior or staff only.")
@click.option("--seed", type=int, default=None, help="With --mystery: a repeatable draw.")
@click.option(
    "--load/--no-load",
    "with_load",
    default=True,
    show_default=True,
    help="Also start the drill's traffic (unless load already runs).",
)
@pass_options
def scenario_start(
    options: Options,
    team: str | None,
    scenario_id: str | None,
    ttl: float | None,
    with_load: bool,
    mystery: bool,
    difficulty: str | None,
    seed: int | None,
) -> None:
    """Start a drill: its traffic, a short measurement of the healthy lab under it, then its faults
    (all or none); print the story."""
    if not mystery and (difficulty or seed is not None):
        raise BadInput("--difficulty and --seed choose a mystery drill: add --mystery")
    if not mystery and not scenario_id:
        raise BadInput(f"name a drill (`{command('scenario list')}`), or draw a hidden one with --mystery")
    s = load_scenario(scenario_id) if scenario_id else draw(difficulty, seed)
    lab = backend(options, team)
    started = drills.start(
        lab, s, ttl, mystery, with_load, "scenario" if mystery else f"scenario:{s.id}", click.echo, seed
    )
    for warning in started.warnings or []:
        click.echo(f"warning: {warning}", err=True)
    carried = Actions(lab.store()).open_items()
    if carried:
        click.echo(
            f"{len(carried)} action item(s) still open from earlier drills (`{command('actions list')}`), "
            f"e.g. {carried[0].id} {printable(carried[0].text)} (owner {printable(carried[0].owner)})"
        )
    load_note = f"traffic: {s.load.users} {s.load.journey} users; {started.traffic}\n" if started.traffic else ""
    if mystery:
        click.echo(
            f"a mystery drill started; its faults expire by themselves in {duration(started.ttl_s)}\n"
            f"{load_note}\n{started.story}\n"
        )
        click.echo(
            f"open an incident: {command('incident open TITLE')}    hints: {command('scenario hint')}    "
            f"prove a fix: {command('incident resolve')}"
        )
        return
    click.echo(
        f"scenario {s.id} started: {started.faults} fault(s) applied, they expire in "
        f"{duration(started.ttl_s)}\n{load_note}\n{s.title}\n\n{s.story}\n"
    )
    click.echo(
        f"hints: {command('scenario hint')}    give up: {command('scenario stop')}    "
        f"prove a fix: {command('verify ' + s.id)}"
    )


@scenario.command("stop")
@team_option
@pass_options
def scenario_stop(options: Options, team: str | None) -> None:
    """End the last drill (running, or ended by its time limit): revert its faults, stop the traffic it
    started, and name it (a mystery too: stopping ends the secrecy)."""
    running, warning = drills.stop(backend(options, team))
    if warning:
        click.echo(f"warning: {warning}", err=True)
    s = load_scenario(running["id"])
    if running.get("mystery"):
        click.echo(f"the mystery drill was {s.id}: {s.title}")
    ended = (
        f"stopped after {duration(time.time() - running['started_at'])}"
        if running["expires_at"] > time.time()
        else f"had ended by its time limit {duration(time.time() - running['expires_at'])} ago"
    )
    click.echo(
        f"scenario {s.id} {ended}.\n"
        f"root cause: {s.root_cause['kind']} on {s.root_cause['service']}: {s.root_cause['explanation']}"
    )


@scenario.command("extend")
@team_option
@click.option("--by", "by_text", required=True, help="How much more time: 90s, 10m, 1h.")
@pass_options
def scenario_extend(options: Options, team: str | None, by_text: str) -> None:
    """Give the running drill more time: its faults expire later and its traffic runs on."""
    by_s = more_time(by_text)  # bad input is refused before any lab is looked for
    note, warnings = drills.extend(backend(options, team), by_s, "scenario")
    for warning in warnings:
        click.echo(f"warning: {warning}", err=True)
    click.echo(f"the drill's faults now expire in {duration(note['expires_at'] - time.time())}")


@scenario.command("status")
@team_option
@click.option("--json", "as_json", is_flag=True)
@click.option("--reveal", is_flag=True, help="Name a mystery drill and its faults (instructors: CHAOSLAB_TOKEN).")
@pass_options
def scenario_status(options: Options, team: str | None, as_json: bool, reveal: bool) -> None:
    """The last drill, its age, and which of its faults are still active. Exit 1 when none runs (one that
    ended by its time limit says so)."""
    lab = backend(options, team)
    if reveal:
        authorise(lab, "scenario status --reveal")
    controller = lab.controller()
    running = controller.current()
    if running is None:
        raise Refused("no scenario is running")
    now = time.time()
    secret = hidden(controller.store, reveal)
    name = "a mystery drill" if secret else running["id"]
    on = controller.on_break(now)
    pause = f"\non a break until {clock(on[1])}: moves wait for its end" if on else ""
    if running["expires_at"] <= now:
        still = (
            "; it stays secret until its incident is resolved, or an instructor reveals or stops it" if secret else ""
        )
        raise Refused(
            f"{name} ended by its time limit {duration(now - running['expires_at'])} ago{still}; "
            f"`{command('scenario stop')}` closes it"
        )
    if secret:
        run = DrillJournal(controller.store).get(running.get("run"))
        click.echo(
            f"a mystery drill: running for {duration(now - running['started_at'])}, "
            f"{duration(running['expires_at'] - now)} left, {running.get('hints_shown', 0)} hint(s) given{pause}"
            + (f"\n\n{run.story}" if run and run.story else "")
        )
        return
    active = {f["id"] for f in controller.faults()[0]}
    alive = [fid for fid in running["fault_ids"] if fid in active]
    if as_json:
        click.echo(json.dumps(dict(running, active_fault_ids=alive), indent=2))
        return
    state = running.get("state", "running")
    click.echo(
        f"{running['id']}: {state} for {duration(now - running['started_at'])}, "
        f"{duration(running['expires_at'] - now)} left, {len(alive)}/{len(running['fault_ids'])} "
        f"faults active, {running.get('hints_shown', 0)} hint(s) given, started by {running['actor']}{pause}"
    )
    if state == "starting":
        click.echo(
            f"its start has not finished (or was interrupted); `{command('scenario stop')}` removes every fault "
            "it may have placed"
        )


def _running_scenario(controller):
    running = controller.current()
    if running is None:
        raise Refused(f"no scenario is running; `{command('scenario start ID')}` starts one")
    return load_scenario(running["id"])


@scenario.command("hint")
@team_option
@pass_options
def scenario_hint(options: Options, team: str | None) -> None:
    """The next hint for the running scenario."""
    controller = backend(options, team).controller()
    s = _running_scenario(controller)
    number, text = controller.next_hint(s)
    click.echo(f"hint {number}/{len(s.hints)}: {text}")


@scenario.command("fix")
@team_option
@click.argument("fix_id", required=False)
@click.option("--reveal", is_flag=True, help="In a mystery drill too (instructors: CHAOSLAB_TOKEN).")
@pass_options
def scenario_fix(options: Options, team: str | None, fix_id: str | None, reveal: bool) -> None:
    """Deploy one of the running scenario's fixes (the first one unless FIX_ID is given)."""
    lab = backend(options, team)
    if reveal:
        authorise(lab, "scenario fix --reveal")
    controller = lab.controller()
    if hidden(controller.store, reveal):
        raise Refused(
            f"in a mystery drill the fix is yours to find: ship it with `{command('deploy SERVICE setting=value')}`"
        )
    s = _running_scenario(controller)
    fix = s.fix(fix_id)
    version = controller.apply_fix(s, fix)
    click.echo(f"deployed {fix.service} {version}: {fix.summary}")


@scenario.command("reveal")
@team_option
@pass_options
def scenario_reveal(options: Options, team: str | None) -> None:
    """End a mystery drill's secrecy for everyone (instructors: CHAOSLAB_TOKEN): name it; reviews show the
    truth."""
    lab = backend(options, team)
    authorise(lab, "scenario reveal")
    note = reveal(lab.store(), lab.actor)
    s = load_scenario(note["id"])
    click.echo(
        f"the drill is {s.id}: {s.title}\nroot cause: {s.root_cause['kind']} on {s.root_cause['service']}: "
        f"{' '.join(s.root_cause['explanation'].split())}"
    )
