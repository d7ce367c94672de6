"""Load: Locust in the background (start, status, stop), verify against an SLO, and locust itself."""

from __future__ import annotations

import json
import os
import random
import sys
from dataclasses import replace

import click

from chaoslab import command
from chaoslab.backend import LoadProfile, Options
from chaoslab.chaos.scenarios import DEFAULT_LOAD, get
from chaoslab.chaos.soak import run
from chaoslab.cli import cli
from chaoslab.cli.common import backend, pass_options, team_option
from chaoslab.errors import BadInput, ChaoslabError, Refused
from chaoslab.incident.desk import Desk
from chaoslab.loadtest.runner import LOCUSTFILE
from chaoslab.loadtest.verify import BASELINE_SLO


@cli.group()
def load() -> None:
    """Locust in the background against the lab (or, --target kubernetes, the namespace's Locust)."""


@load.command("start")
@team_option
@click.option("-u", "--users", type=click.IntRange(1, 1000), envvar="LOCUST_USERS", default=10, show_default=True)
@click.option(
    "-r", "--spawn-rate", type=click.FloatRange(min=0.1), envvar="LOCUST_SPAWN_RATE", default=5.0, show_default=True
)
@click.option(
    "--think-time",
    type=click.FloatRange(min=0),
    envvar="LOCUST_THINK_TIME",
    default=1.0,
    show_default=True,
    help="Max seconds a user waits between actions.",
)
@click.option(
    "--shape",
    type=click.Choice(["steady", "ramp", "spike"]),
    envvar="LOCUST_SHAPE",
    default="steady",
    show_default=True,
)
@click.option(
    "--journey",
    type=click.Choice(["shop", "rush"]),
    envvar="LOCUST_JOURNEY",
    default="shop",
    show_default=True,
    help="shop: browse, history, checkout; rush: checkout only.",
)
@click.option("--host", envvar="LOCUST_HOST", default=None, help="URL to load (default: the lab's service-a).")
@pass_options
def load_start(
    options: Options,
    team: str | None,
    users: int,
    spawn_rate: float,
    think_time: float,
    shape: str,
    journey: str,
    host: str | None,
) -> None:
    """Start Locust in the background; say where to watch it."""
    lab = backend(options, team)
    profile = LoadProfile(users, spawn_rate, think_time, journey, shape)
    where = lab.load().start(profile, "cli", host)
    click.echo(
        f"load started: {users} {journey} users ({shape}) against {host or lab.front_door()}\n  {where}\n"
        f"  {command('load status')} | {command('load stop')}"
    )


@load.command("status")
@team_option
@click.option("--json", "as_json", is_flag=True)
@pass_options
def load_status(options: Options, team: str | None, as_json: bool) -> None:
    """Users, requests per second, failures and P95 right now. Exit 1 when no load runs."""
    lab = backend(options, team)
    stats = lab.load().stats()
    if stats is None:
        raise Refused(f"no load is running in {lab.where}; start it with `{command('load start')}`")
    if as_json:
        click.echo(json.dumps(stats, indent=2))
        return
    p95 = stats.get("current_response_time_percentiles", {}).get("response_time_percentile_0.95")
    click.echo(
        f"load {stats['state']}: {stats['user_count']} users, {stats['total_rps']:.1f} req/s "
        f"({stats['current_rps']:.1f} now), failures {stats['fail_ratio']:.1%}, P95 now {p95} ms"
    )
    click.echo(f"  {'REQUEST':<22}{'COUNT':>8}{'FAILS':>7}{'P50':>7}{'P95':>7}{'RPS':>7}")
    for entry in stats["stats"]:
        click.echo(
            f"  {entry['name']:<22}{entry['num_requests']:>8}{entry['num_failures']:>7}"
            f"{entry.get('median_response_time') or 0:>7.0f}"
            f"{entry.get('response_time_percentile_0.95') or 0:>7.0f}{entry.get('current_rps', 0):>7.1f}"
        )


@load.command("stop")
@team_option
@pass_options
def load_stop(options: Options, team: str | None) -> None:
    """Stop the background load; Locust writes its CSV and HTML reports first."""
    stopped = backend(options, team).load().stop()
    click.echo(stopped or "no load was running")


@cli.command()
@team_option
@click.argument("scenario_id", required=False)
@click.option("--duration", type=float, default=30.0, show_default=True, help="Seconds of load.")
@click.option("-u", "--users", type=int, default=None, help="Users (default: the scenario's traffic, or 10).")
@click.option("--think-time", type=float, default=None, help="Max seconds between a user's actions.")
@click.option("--json", "as_json", is_flag=True, help="Print the verdict as JSON.")
@pass_options
def verify(
    options: Options,
    team: str | None,
    scenario_id: str | None,
    duration: float,
    users: int | None,
    think_time: float | None,
    as_json: bool,
) -> None:
    """Run load for a while and judge it against an SLO: the scenario's, or the lab's baseline.

    Exit 0 when the SLO holds, 1 when it does not, 2 for bad input or a lab that does not answer.
    """
    if duration <= 0:
        raise BadInput(f"--duration must be more than 0 seconds, got {duration:g}")
    if users is not None and users < 1:
        raise BadInput(f"--users must be at least 1, got {users}")
    drill = get(scenario_id) if scenario_id else None
    lab = backend(options, team)
    try:
        lab.probe()
    except Refused as exc:
        raise BadInput(str(exc)) from None  # no lab to verify: the command cannot run at all
    desk = Desk(lab)
    traffic = lab.load()
    if traffic.stats() is not None:
        click.echo(
            "warning: background load is running (a drill's traffic?): it adds to this run's, and its orders keep "
            "arriving while verify waits for the queue to drain, so unfulfilled_orders cannot reach 0; "
            f"`{command('load stop')}` first (`{command('incident resolve')}` does that itself)",
            err=True,
        )
    profile = drill.load if drill else DEFAULT_LOAD
    if users is not None:
        profile = replace(profile, users=users, spawn_rate=max(profile.spawn_rate, users))
    if think_time is not None:
        profile = replace(profile, think_time_s=think_time)
    tty = sys.stdout.isatty() and not as_json
    last = [0.0]

    def progress(elapsed: float, stats: dict) -> None:
        if as_json or (not tty and elapsed - last[0] < 5):
            return
        last[0] = elapsed
        p95 = stats.get("current_response_time_percentiles", {}).get("response_time_percentile_0.95")
        line = (
            f"  {min(elapsed, duration):5.0f}/{duration:.0f}s  {stats.get('user_count', 0):>3} users  "
            f"{stats.get('current_rps', 0):6.1f} req/s  failures {stats.get('fail_ratio', 0):6.1%}  P95 {p95} ms"
        )
        click.echo("\r" + line if tty else line, nl=not tty)

    if not as_json:
        click.echo(
            f"verify {scenario_id or 'baseline'}: {profile.users} {profile.journey} users for {duration:g}s "
            f"against {lab.front_door()}"
        )
    try:
        verdict = desk.run_verify(
            profile,
            duration,
            drill.slo if drill else BASELINE_SLO,
            scenario_id or "baseline",
            progress,
            desk.healthy_for(scenario_id),
            drill.accepted_books if drill else (),
            None if as_json else click.echo,
        )
    except Refused as exc:
        raise BadInput(str(exc)) from None
    try:
        desk.record_verify_run(verdict, scenario_id)  # on the open incident's timeline, if there is one
    except ChaoslabError as exc:
        click.echo(f"warning: the verify run is not on the incident's record: {exc}", err=True)
    if as_json:
        click.echo(json.dumps(verdict.to_json(), indent=2))
        sys.exit(0 if verdict.ok else 1)
    f = verdict.figures
    click.echo(
        ("\n" if tty else "")
        + f"\n  throughput  {f['throughput_rps']} req/s ({f['requests']} requests), error rate {f['error_rate']:.2%}"
        if f["error_rate"] is not None
        else "\n  no requests completed"
    )
    for label, key in (("all", "all"), ("checkout", "checkout")):
        lat = f[key]
        click.echo(f"  {label:<10}  P50 {lat['p50_ms']} ms  P95 {lat['p95_ms']} ms  P99 {lat['p99_ms']} ms")
    click.echo(f"\n  {'CHECK':<58} {'VALUE':>12}  VERDICT")
    for r in verdict.results:
        value = "n/a" if r.value is None else f"{r.value:.4g}"
        note = f"  ({r.note})" if r.note and not r.ok else ""
        click.echo(f"  {r.check.describe():<58} {value:>12}  {'PASS' if r.ok else 'FAIL'}{note}")
        if r.basis:
            click.echo(f"  {'':<58} {'':>12}  judged against {r.basis}")
    for check in verdict.skipped:
        click.echo(f"  {check.describe():<58} {'n/a':>12}  SKIPPED (needs the lab's database)")
    breached = [r.check.describe() for r in verdict.results if not r.ok]
    click.echo(f"\nreports: {verdict.report_dir}")
    if breached:
        click.echo(f"SLO BREACHED: {'; '.join(breached)}")
        sys.exit(1)
    click.echo("SLO holds")


@cli.command()
@team_option
@click.option(
    "--minutes", type=click.FloatRange(min=0.5, max=24 * 60), default=10.0, show_default=True, help="Minutes of drills."
)
@click.option("--seed", type=int, default=None, help="Seed of the drills drawn (default: random; printed).")
@pass_options
def soak(options: Options, team: str | None, minutes: float, seed: int | None) -> None:
    """Random drills started and stopped under load with retries, then the whole database reconciled:
    exit 0 when nothing was lost, doubled or mischarged and every fault expired by itself, 1 otherwise.
    It resets the lab first and takes it over for the whole run: not during a drill, and one soak at a time."""
    seed = random.SystemRandom().randrange(10**6) if seed is None else seed
    report = run(backend(options, team), minutes * 60, seed, say=click.echo)
    click.echo(report.summary())
    if not report.ok:
        raise SystemExit(1)


@cli.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
@click.pass_context
def locust(ctx: click.Context) -> None:
    """Run Locust with the lab's locustfile; every other argument goes to Locust (the in-cluster load)."""
    os.execvp(sys.executable, [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), *ctx.args])
