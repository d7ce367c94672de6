"""Load: Locust in the background (start, status, stop), verify against an SLO, and locust itself."""

from __future__ import annotations

import json
import sys
import time

import click

from chaoslab.cli import cli
from chaoslab.cli.common import fail, front_door, lab_state, remaining, start_load


@cli.group()
def load() -> None:
    """Locust in the background against the lab (or, --target kubernetes, the namespace's Locust)."""


def _cluster(ctx: click.Context):
    """The API client for the namespace, after the controller's authorisation checks."""
    from chaoslab.cli.common import open_controller

    return open_controller(ctx).targets.api


@load.command("start")
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
@click.option("--host", envvar="LOCUST_HOST", default=None, help="Target (default: the local lab's service-a).")
@click.pass_context
def load_start(
    ctx: click.Context, users: int, spawn_rate: float, think_time: float, shape: str, journey: str, host: str | None
) -> None:
    """Start Locust headless in the background; its web UI is on a loopback port printed here."""
    from chaoslab.loadtest.runner import LoadPlan

    if ctx.obj["target"] == "kubernetes":
        from chaoslab.chaos.kubernetes import load as cluster_load
        from chaoslab.chaos.kubernetes.client import KubernetesError

        try:
            cluster_load.swarm(_cluster(ctx), ctx.obj["namespace"], users, spawn_rate, think_time, journey)
        except KubernetesError as exc:
            fail(str(exc))
        click.echo(
            f"load started: {users} {journey} users from the Locust in {ctx.obj['namespace']} "
            f"(web UI: kubectl -n {ctx.obj['namespace']} port-forward svc/locust 8089)"
        )
        return
    plan = LoadPlan(
        host=host or front_door(ctx),
        users=users,
        spawn_rate=spawn_rate,
        think_time_s=think_time,
        shape=shape,
        journey=journey,
    )
    info = start_load(ctx, plan, "cli")
    click.echo(
        f"load started: {users} {journey} users ({shape}) against {plan.host}\n"
        f"  web UI:  {info['web_url']}\n  reports: {info['report_dir']} (written when it stops)\n"
        "  chaoslab load status | chaoslab load stop"
    )


@load.command("status")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def load_status(ctx: click.Context, as_json: bool) -> None:
    """Users, requests per second, failures and P95 right now. Exit 1 when no load runs."""
    from chaoslab.loadtest import background
    from chaoslab.loadtest.runner import LoadError

    if ctx.obj["target"] == "kubernetes":
        from chaoslab.chaos.kubernetes import load as cluster_load
        from chaoslab.chaos.kubernetes.client import KubernetesError

        try:
            stats = cluster_load.stats(_cluster(ctx), ctx.obj["namespace"])
        except KubernetesError as exc:
            fail(str(exc))
        info = {"web_url": f"svc/locust in {ctx.obj['namespace']}"}
        if stats.get("state") in (None, "ready", "stopped"):
            fail(f"no load is running in {ctx.obj['namespace']}; start it with `chaoslab load start`")
    else:
        info = background.current(lab_state(ctx))
        if info is None:
            fail("no load is running; start it with `chaoslab load start`")
        try:
            stats = background.attach(info).stats()
        except LoadError as exc:
            fail(str(exc))
    if as_json:
        click.echo(json.dumps(stats, indent=2))
        return
    p95 = stats.get("current_response_time_percentiles", {}).get("response_time_percentile_0.95")
    click.echo(
        f"load {stats['state']}: {stats['user_count']} users, {stats['total_rps']:.1f} req/s "
        f"({stats['current_rps']:.1f} now), failures {stats['fail_ratio']:.1%}, P95 now {p95} ms, "
        f"web UI {info['web_url']}"
    )
    click.echo(f"  {'REQUEST':<22}{'COUNT':>8}{'FAILS':>7}{'P50':>7}{'P95':>7}{'RPS':>7}")
    for entry in stats["stats"]:
        click.echo(
            f"  {entry['name']:<22}{entry['num_requests']:>8}{entry['num_failures']:>7}"
            f"{entry.get('median_response_time') or 0:>7.0f}"
            f"{entry.get('response_time_percentile_0.95') or 0:>7.0f}{entry.get('current_rps', 0):>7.1f}"
        )


@load.command("stop")
@click.pass_context
def load_stop(ctx: click.Context) -> None:
    """Stop the background load; Locust writes its CSV and HTML reports first."""
    from chaoslab.loadtest import background

    if ctx.obj["target"] == "kubernetes":
        from chaoslab.chaos.kubernetes import load as cluster_load
        from chaoslab.chaos.kubernetes.client import KubernetesError

        try:
            cluster_load.stop(_cluster(ctx), ctx.obj["namespace"])
        except KubernetesError as exc:
            fail(str(exc))
        click.echo(f"load stopped in {ctx.obj['namespace']}")
        return

    info = background.stop(lab_state(ctx))
    if info is None:
        click.echo("no load was running")
        return
    click.echo(f"load stopped after {remaining(time.time() - info['started_at'])}; reports in {info['report_dir']}")


@cli.command()
@click.argument("scenario_id", required=False)
@click.option("--duration", type=float, default=30.0, show_default=True, help="Seconds of load.")
@click.option("-u", "--users", type=int, default=None, help="Users (default: the scenario's traffic, or 10).")
@click.option("--think-time", type=float, default=None, help="Max seconds between a user's actions.")
@click.option("--json", "as_json", is_flag=True, help="Print the verdict as JSON.")
@click.pass_context
def verify(
    ctx: click.Context,
    scenario_id: str | None,
    duration: float,
    users: int | None,
    think_time: float | None,
    as_json: bool,
) -> None:
    """Run load for a while and judge it against an SLO: the scenario's, or the lab's baseline.

    Exit 0 when the SLO holds, 1 when it does not, 2 for bad input or a lab that does not answer.
    """
    import sys as _sys

    from chaoslab.chaos.scenarios import DEFAULT_LOAD, ScenarioError, get
    from chaoslab.loadtest import background
    from chaoslab.loadtest.runner import LoadError, LoadPlan
    from chaoslab.loadtest.verify import BASELINE_SLO
    from chaoslab.loadtest.verify import verify as run_verify
    from chaoslab.local.client import LabError
    from chaoslab.local.probe import LocalProbe

    if duration <= 0:
        fail(f"--duration must be more than 0 seconds, got {duration:g}", 2)
    if users is not None and users < 1:
        fail(f"--users must be at least 1, got {users}", 2)
    try:
        drill = get(scenario_id) if scenario_id else None
    except ScenarioError as exc:
        fail(str(exc), 2)
    state = lab_state(ctx)
    try:
        probe = LocalProbe(state)
    except LabError as exc:
        fail(str(exc), 2)
    if background.current(state) is not None:
        click.echo("warning: background load is running; its traffic adds to this run's", err=True)
    profile = drill.load if drill else DEFAULT_LOAD
    report_dir = background.reports_dir(state, f"verify-{scenario_id or 'baseline'}")
    plan = LoadPlan(
        host=next(p["url"] for p in probe.status["processes"] if p["name"] == "service-a"),
        users=users or profile["users"],
        spawn_rate=max(profile["spawn_rate"], users or 0),
        think_time_s=profile["think_time_s"] if think_time is None else think_time,
        journey=profile["journey"],
        shape=profile["shape"],
        run_time_s=duration,
        report_dir=report_dir,
    )
    tty = _sys.stdout.isatty() and not as_json
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
            f"verify {scenario_id or 'baseline'}: {plan.users} {plan.journey} users for {duration:g}s "
            f"against {plan.host}"
        )
    try:
        verdict = run_verify(
            probe, plan, drill.slo if drill else BASELINE_SLO, scenario_id, state.log("verify-locust"), progress
        )
    except LoadError as exc:
        fail(str(exc), 2)
    if as_json:
        click.echo(json.dumps(verdict.to_json(), indent=2))
        _sys.exit(0 if verdict.ok else 1)
    f = verdict.figures
    click.echo(
        ("\n" if tty else "") + f"\n  throughput  {f['throughput_rps']} req/s ({f['requests']} requests), "
        f"error rate {f['error_rate']:.2%}"
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
    breached = [r.check.describe() for r in verdict.results if not r.ok]
    click.echo(f"\nreports: {verdict.report_dir}")
    if breached:
        click.echo(f"SLO BREACHED: {'; '.join(breached)}")
        _sys.exit(1)
    click.echo("SLO holds")


@cli.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
@click.pass_context
def locust(ctx: click.Context) -> None:
    """Run Locust with the lab's locustfile; every other argument goes to Locust (the in-cluster load)."""
    import os

    from chaoslab.loadtest.runner import LOCUSTFILE

    os.execvp(sys.executable, [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), *ctx.args])
