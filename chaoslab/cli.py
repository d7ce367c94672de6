"""The ``chaoslab`` command: run the local lab, look inside it, serve one component.

Exit codes: 0 success, 1 the lab is not in the state asked for (not ready, not
running, a check failed), 2 bad input (unknown service, bad option).
Heavy imports happen inside each command, so ``chaoslab serve`` stays lean.
"""
from __future__ import annotations

import json
import sys
import time

import click

from chaoslab import __version__
from chaoslab.topology import COMPONENTS, DEPENDENCIES, SERVICE_NAMES

PROCESS_NAMES = ("postgres", "redis", *SERVICE_NAMES)


def _state(ctx: click.Context):
    from chaoslab.local.statedir import StateDir

    return StateDir.at(ctx.obj["state_dir"])


def _fail(message: str, code: int = 1) -> None:
    click.echo(f"chaoslab: {message}", err=True)
    sys.exit(code)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="chaoslab")
@click.option("--state-dir", envvar="CHAOSLAB_STATE_DIR", default=".chaoslab", show_default=True,
              help="Directory of the local lab's data, logs and lock (env CHAOSLAB_STATE_DIR).")
@click.option("--target", type=click.Choice(["local", "kubernetes"]), envvar="CHAOSLAB_TARGET", default="local",
              show_default=True, help="Which lab the chaos commands act on (env CHAOSLAB_TARGET).")
@click.option("--namespace", "-n", envvar="CHAOSLAB_NAMESPACE", default="chaoslab-lab", show_default=True,
              help="The team namespace, with --target kubernetes (env CHAOSLAB_NAMESPACE).")
@click.option("--context", "kube_context", envvar="CHAOSLAB_KUBE_CONTEXT", default=None,
              help="kubeconfig context, with --target kubernetes (default: the current one).")
@click.pass_context
def cli(ctx: click.Context, state_dir: str, target: str, namespace: str, kube_context: str | None) -> None:
    """chaoslab: break a real multi-service system on purpose, then find and fix it."""
    ctx.obj = {"state_dir": state_dir, "target": target, "namespace": namespace, "context": kube_context}


# ---- the local lab ---------------------------------------------------------------------------

@cli.command()
@click.option("--timeout", type=click.FloatRange(min=1), default=None,
              help="Seconds to wait for every component (default CHAOSLAB_READY_TIMEOUT_S, 60).")
@click.pass_context
def up(ctx: click.Context, timeout: float | None) -> None:
    """Start PostgreSQL, Redis, the gateway and the five services on loopback; wait until ready."""
    from chaoslab.local.client import LabError, start_daemon, stop_lab, wait_until_ready
    from chaoslab.settings import Local, SettingsError, load

    try:
        settings = load(Local)
    except SettingsError as exc:
        _fail(str(exc), 2)
    state = _state(ctx)
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
    click.echo(f"  {'traces':<10} {status['lab']['api'] + '/v1/traces':<48} OTLP/HTTP receiver; "
               "`chaoslab traces` prints them")
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

    state = _state(ctx)
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
        doc = LabClient(_state(ctx)).status()
    except LabError as exc:
        _fail(str(exc))
    if as_json:
        click.echo(json.dumps(doc, indent=2))
    else:
        lab = doc["lab"]
        click.echo(f"lab in {lab['state_dir']}: daemon pid {lab['pid']}, up {_age(time.time() - lab['started_at'])}, "
                   f"migrations {lab['migrations']}")
        click.echo(f"{'NAME':<10} {'STATE':<11} {'PID':>7}  {'PORTS':<22} {'RESTARTS':>8}  URL / REASON")
        for p in doc["processes"]:
            ports = ",".join(f"{k}:{v}" for k, v in p["ports"].items())
            detail = p["url"] if p["state"] == "ready" else p["reason"]
            if p.get("restart_in_s") is not None:
                detail = f"{detail}; next start in {p['restart_in_s']}s"
            click.echo(f"{p['name']:<10} {p['state']:<11} {p['pid'] or '-':>7}  {ports:<22} {p['restarts']:>8}  {detail}")
    if not all(p["state"] == "ready" for p in doc["processes"]):
        sys.exit(1)


def _age(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m" if seconds >= 3600 else f"{seconds // 60}m{seconds % 60:02d}s"


@cli.command()
@click.argument("name", type=click.Choice(PROCESS_NAMES + ("labd",)))
@click.option("-n", "--lines", type=click.IntRange(min=0), default=40, show_default=True)
@click.option("-f", "--follow", is_flag=True, help="Keep printing new lines (Ctrl-C to stop).")
@click.option("--json", "raw", is_flag=True, help="Print the raw JSON lines.")
@click.pass_context
def logs(ctx: click.Context, name: str, lines: int, follow: bool, raw: bool) -> None:
    """Print a process's log (services log JSON; shown here as readable lines)."""
    from chaoslab.logview import follow_lines, pretty

    path = _state(ctx).log(name)
    if not path.exists():
        _fail(f"no log for {name} in {path.parent}; is the lab up?")
    for line in follow_lines(path, lines, follow):
        click.echo(line if raw else pretty(line))


@cli.command()
@click.option("--last", type=click.IntRange(min=1, max=500), default=5, show_default=True)
@click.option("--service", type=click.Choice(SERVICE_NAMES), help="Only traces that touch this service.")
@click.option("--trace", "trace_id", help="One trace by id (from a log line's trace_id).")
@click.option("--no-db", is_flag=True, help="Hide PostgreSQL and Redis spans.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def traces(ctx: click.Context, last: int, service: str | None, trace_id: str | None, no_db: bool,
           as_json: bool) -> None:
    """Recent traces as trees: follow one request around the ring."""
    from chaoslab.local.client import LabClient, LabError
    from chaoslab.tracetree import render

    try:
        found = LabClient(_state(ctx)).traces(last, service, trace_id)
    except LabError as exc:
        _fail(str(exc))
    if as_json:
        click.echo(json.dumps(found, indent=2))
        return
    if not found:
        _fail("no traces yet; send a request (see `chaoslab up`'s output) and try again")
    click.echo("\n\n".join(render(spans, show_db=not no_db) for spans in found))


def _control(ctx: click.Context, name: str, action: str) -> None:
    from chaoslab.local.client import LabClient, LabError

    try:
        proc = LabClient(_state(ctx)).control(name, action)
    except LabError as exc:
        _fail(str(exc))
    click.echo(f"{name}: {proc['state']}" + (f" (pid {proc['pid']})" if proc["pid"] else ""))


for _action, _help in (("stop", "Stop one process of the lab and keep it stopped (e.g. postgres)."),
                       ("start", "Start a stopped process again."),
                       ("restart", "Stop and start one process.")):
    def _make(action: str):
        @click.argument("name", type=click.Choice(PROCESS_NAMES))
        @click.pass_context
        def command(ctx: click.Context, name: str) -> None:
            _control(ctx, name, action)
        return command
    cli.command(name=_action, help=_help)(_make(_action))


# ---- chaos: faults, scenarios, deploys ---------------------------------------------------------

def _controller(ctx: click.Context, namespace: str | None = None):
    """The controller for the lab this CLI points at: the local lab in --state-dir, or a team's
    namespace (whose journals live in it, in ConfigMap chaoslab-journal)."""
    import getpass
    import os

    from chaoslab.chaos.controller import Controller
    from chaoslab.chaos.journal import FileStore
    from chaoslab.chaos.targets import LocalTargets
    from chaoslab.local.client import LabError

    state = _state(ctx)
    actor = os.environ.get("CHAOSLAB_ACTOR") or getpass.getuser()
    if ctx.obj["target"] == "kubernetes":
        from chaoslab.chaos.kubernetes.client import KubernetesError
        from chaoslab.chaos.kubernetes.store import ConfigMapStore
        from chaoslab.chaos.kubernetes.targets import KubernetesTargets

        try:
            targets = KubernetesTargets(namespace or ctx.obj["namespace"], ctx.obj["context"])
        except KubernetesError as exc:
            _fail(str(exc))
        return Controller(targets, ConfigMapStore(targets.api, targets.namespace), targets.identity.username)
    try:
        targets = LocalTargets(state)
    except LabError as exc:
        _fail(str(exc))
    return Controller(targets, FileStore(state.root), actor)


def team_option(command):
    """``--team T``: act on team T's namespace (chaoslab-T) on the cluster; implies --target kubernetes."""
    def apply(ctx: click.Context, _param, team: str | None):
        if team:
            ctx.obj["target"], ctx.obj["namespace"] = "kubernetes", f"chaoslab-{team}"
        return team
    return click.option("--team", default=None, expose_value=False, callback=apply, is_eager=True,
                        help="A team's namespace on the cluster (chaoslab-TEAM); implies --target kubernetes.")(command)


def _guard(action):
    """Run a chaos action; bad input exits 2, a refused or impossible operation exits 1, one line each."""
    from chaoslab.chaos.controller import ControllerError
    from chaoslab.chaos.faults import FaultSpecError
    from chaoslab.chaos.scenarios import ScenarioError
    from chaoslab.settings import SettingsError

    try:
        return action()
    except (FaultSpecError, ScenarioError, SettingsError) as exc:
        _fail(str(exc), 2)
    except ControllerError as exc:
        _fail(str(exc), 1)


def _remaining(seconds: float) -> str:
    seconds = max(0, int(seconds))
    return f"{seconds // 60}m{seconds % 60:02d}s"


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
def fault_add(ctx: click.Context, kind: str, params: tuple[str, ...], service: str, route: str | None,
              peer: str | None, ttl: float | None) -> None:
    """Inject one fault, e.g. `chaoslab fault add latency ms=500 --service service-b --peer service-c`."""
    from chaoslab.chaos.faults import DEFAULT_TTL_S, parse_cli_params

    controller = _controller(ctx)
    spec = {"kind": kind, "service": service, "route": route, "peer": peer,
            "params": _guard(lambda: parse_cli_params(params)), "ttl_s": DEFAULT_TTL_S if ttl is None else ttl}
    applied = _guard(lambda: controller.add({k: v for k, v in spec.items() if v is not None}))
    instances = ", ".join(o.target.instance for o in applied.outcomes)
    click.echo(f"added {applied.fault.id}: {applied.fault.describe()}; expires in {_remaining(applied.fault.ttl_s)} "
               f"(on {instances})")


@fault.command("list")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def fault_list(ctx: click.Context, as_json: bool) -> None:
    """Every active fault, read from the agents themselves."""
    controller = _controller(ctx)
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
            where = f["service"] + (f" {f['route']}" if f.get("route") else "") +                 (f" → {f['peer']}" if f.get("peer") else "")
            scenario = (f.get("scenario") or "") + (" (red herring)" if f.get("red_herring") else "")
            click.echo(f"{f['id']:<12} {f['kind']:<16} {where:<28} {_remaining(f['remaining_s']):>7}  {scenario}")
    for line in unreachable:
        click.echo(f"warning: {line}", err=True)


@fault.command("rm")
@click.argument("fault_id")
@click.pass_context
def fault_rm(ctx: click.Context, fault_id: str) -> None:
    """Remove one fault by id (from `chaoslab fault list`)."""
    removed = _controller(ctx).remove(fault_id, "stop")
    if not removed:
        _fail(f"no active fault {fault_id} (it may have expired); `chaoslab fault list` shows the active ones")
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
        ctx.obj["target"] = "kubernetes"
        for namespace in _team_namespaces(ctx):
            controller = _controller(ctx, namespace)
            controller.audit.settle()
            removed, unreachable = controller.reset()
            click.echo(f"{namespace}: removed {removed} fault(s)"
                       + (f"; {len(unreachable)} agent(s) did not answer (their pods were replaced)" if unreachable
                          else ""))
        return
    state = _state(ctx)
    if ctx.obj["target"] == "local" and not lock_is_held(state):
        cleared = [p for p in state.agents.glob("*.faults.json")] if state.agents.exists() else []
        for path in cleared:
            path.unlink()
        from chaoslab.chaos.controller import SCENARIO
        from chaoslab.chaos.journal import FileStore

        FileStore(state.root).delete(SCENARIO)
        click.echo(f"no lab running in {state.root}; cleared {len(cleared)} saved fault file(s)")
        return
    controller = _controller(ctx)
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

    typed = _guard(lambda: parse_cli_params(changes))
    controller = _controller(ctx)
    version = _guard(lambda: controller.deploy(service, typed, note))
    click.echo(f"deployed {service} {version}: {', '.join(changes)}")


def _journals(ctx: click.Context):
    """The audit log and change feed, readable with or without a running lab."""
    from types import SimpleNamespace

    from chaoslab.chaos.controller import AUDIT, CHANGES
    from chaoslab.chaos.journal import AuditLog, FileStore, Journal

    if ctx.obj["target"] == "kubernetes":
        controller = _controller(ctx)
        return SimpleNamespace(audit=controller.audit, changes=controller.changes)
    store = FileStore(_state(ctx).root)
    return SimpleNamespace(audit=AuditLog(store, AUDIT), changes=Journal(store, CHANGES))


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
        _fail(str(exc), 2)
    entries = _journals(ctx).changes.entries(since_ts=time.time() - window)
    if as_json:
        click.echo(json.dumps(entries, indent=2))
        return
    if not entries:
        click.echo(f"no changes in the last {since}")
    for e in entries:
        click.echo(f"{time.strftime('%H:%M:%S', time.localtime(e['ts']))}  {e['service']:<10} {e['version']:<14} "
                   f"{e['summary']}  (by {e['by']})")


@cli.command()
@click.option("--since", default="24h", show_default=True)
@click.pass_context
def audit(ctx: click.Context, since: str) -> None:
    """The audit log: who started and reverted which fault, where, when and why."""
    from chaoslab.chaos.journal import parse_since

    try:
        window = parse_since(since)
    except ValueError as exc:
        _fail(str(exc), 2)
    log = _journals(ctx).audit
    log.settle()
    for e in log.entries(since_ts=time.time() - window):
        detail = {k: v for k, v in e.items() if k not in ("ts", "event", "actor")}
        click.echo(f"{time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(e['ts']))}  {e['event']:<16} "
                   f"{e.get('actor', ''):<12} {json.dumps(detail, default=str)}")


@cli.group()
def scenario() -> None:
    """Training drills: list, show, start, stop, status, hint, fix."""


def _scenario(scenario_id: str):
    from chaoslab.chaos.scenarios import get

    return _guard(lambda: get(scenario_id))


@scenario.command("list")
def scenario_list() -> None:
    """Every scenario, easiest first."""
    from chaoslab.chaos.scenarios import catalogue

    for s in _guard(catalogue):
        fixes = f"{len(s.fixes)} fix{'es' if len(s.fixes) != 1 else ''}" if s.fixes else "diagnosis"
        click.echo(f"{s.difficulty:<7} {s.id:<18} {s.title:<52} {fixes}")


@scenario.command("show")
@click.argument("scenario_id")
@click.option("--spoilers", is_flag=True, help="Also the faults, root cause, fixes and checks (instructors).")
def scenario_show(scenario_id: str, spoilers: bool) -> None:
    """The story handed to trainees (and, with --spoilers, everything else)."""
    s = _scenario(scenario_id)
    click.echo(f"{s.title}  [{s.id}, {s.difficulty}]\n\n{s.story}\n\n{len(s.hints)} hints: "
               f"`chaoslab scenario hint` gives them one at a time.")
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
@click.option("--load/--no-load", "with_load", default=True, show_default=True,
              help="Also start the drill's traffic (unless load already runs).")
@click.pass_context
def scenario_start(ctx: click.Context, scenario_id: str, ttl: float | None, with_load: bool) -> None:
    """Start a drill: apply its faults (all or none), start its traffic, print the story."""
    from chaoslab.loadtest import background
    from chaoslab.loadtest.runner import LoadPlan

    s = _scenario(scenario_id)
    controller = _controller(ctx)
    controller.audit.settle()
    applied = _guard(lambda: controller.start(s, ttl))
    load_note = ""
    if with_load and ctx.obj["target"] == "kubernetes":
        from chaoslab.chaos.kubernetes import load as cluster_load
        from chaoslab.chaos.kubernetes.client import KubernetesError

        try:
            cluster_load.swarm(controller.targets.api, ctx.obj["namespace"], s.load["users"], s.load["spawn_rate"],
                               s.load["think_time_s"], s.load["journey"])
            controller.note_load_started()
            load_note = f"traffic: {s.load['users']} {s.load['journey']} users from the namespace's Locust\n"
        except KubernetesError as exc:
            click.echo(f"warning: could not start the drill's traffic: {exc}", err=True)
    elif with_load and background.current(_state(ctx)) is None:
        plan = LoadPlan(host=_front_door(ctx), users=s.load["users"], spawn_rate=s.load["spawn_rate"],
                        think_time_s=s.load["think_time_s"], journey=s.load["journey"], shape=s.load["shape"])
        info = _start_load(ctx, plan, f"scenario:{s.id}")
        controller.note_load_started()
        load_note = f"traffic: {s.load['users']} {s.load['journey']} users, web UI {info['web_url']}\n"
    click.echo(f"scenario {s.id} started: {len(applied)} fault(s) applied, they expire in "
               f"{_remaining(applied[0].fault.ttl_s)}\n{load_note}\n{s.title}\n\n{s.story}\n")
    click.echo("hints: chaoslab scenario hint    give up: chaoslab scenario stop    prove a fix: chaoslab verify "
               + s.id)


@scenario.command("stop")
@team_option
@click.pass_context
def scenario_stop(ctx: click.Context) -> None:
    """Revert the running scenario's faults."""
    from chaoslab.loadtest import background

    controller = _controller(ctx)
    running = _guard(controller.stop)
    if running.get("load_started") and ctx.obj["target"] == "kubernetes":
        from chaoslab.chaos.kubernetes import load as cluster_load
        from chaoslab.chaos.kubernetes.client import KubernetesError

        try:
            cluster_load.stop(controller.targets.api, ctx.obj["namespace"])
        except KubernetesError as exc:
            click.echo(f"warning: could not stop the drill's traffic: {exc}", err=True)
    elif running.get("load_started"):
        background.stop(_state(ctx))
    s = _scenario(running["id"])
    click.echo(f"scenario {s.id} stopped after {_remaining(time.time() - running['started_at'])}.\n"
               f"root cause: {s.root_cause['kind']} on {s.root_cause['service']}: {s.root_cause['explanation']}")


@scenario.command("status")
@team_option
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def scenario_status(ctx: click.Context, as_json: bool) -> None:
    """The running scenario, its age, and which of its faults are still active. Exit 1 if none runs."""
    controller = _controller(ctx)
    controller.audit.settle()
    running = controller.current()
    if running is None or running["expires_at"] <= time.time():
        _fail("no scenario is running" + (f" ({running['id']} expired)" if running else ""))
    active = {f["id"] for f in controller.faults()[0]}
    alive = [fid for fid in running["fault_ids"] if fid in active]
    if as_json:
        click.echo(json.dumps(dict(running, active_fault_ids=alive), indent=2))
        return
    click.echo(f"{running['id']}: running for {_remaining(time.time() - running['started_at'])}, "
               f"{_remaining(running['expires_at'] - time.time())} left, {len(alive)}/{len(running['fault_ids'])} "
               f"faults active, {running.get('hints_shown', 0)} hint(s) given, started by {running['actor']}")


@scenario.command("hint")
@team_option
@click.pass_context
def scenario_hint(ctx: click.Context) -> None:
    """The next hint for the running scenario."""
    controller = _controller(ctx)
    running = controller.current()
    if running is None:
        _fail("no scenario is running")
    s = _scenario(running["id"])
    number, text = _guard(lambda: controller.next_hint(s))
    click.echo(f"hint {number}/{len(s.hints)}: {text}")


@scenario.command("fix")
@team_option
@click.argument("fix_id", required=False)
@click.pass_context
def scenario_fix(ctx: click.Context, fix_id: str | None) -> None:
    """Deploy one of the running scenario's fixes (the first one unless FIX_ID is given)."""
    controller = _controller(ctx)
    running = controller.current()
    if running is None:
        _fail("no scenario is running")
    s = _scenario(running["id"])
    fix = _guard(lambda: s.fix(fix_id))
    version = _guard(lambda: controller.apply_fix(s, fix))
    click.echo(f"deployed {fix.service} {version}: {fix.summary}")


def _team_namespaces(ctx: click.Context) -> list[str]:
    """Every namespace labelled as a chaoslab team's (needs the instructor role to list namespaces)."""
    from kubernetes import client
    from kubernetes.client.exceptions import ApiException

    from chaoslab.chaos.kubernetes.client import KubernetesError, api_client, explain
    from chaoslab.chaos.kubernetes.identity import TEAM_LABEL

    try:
        found = client.CoreV1Api(api_client(ctx.obj["context"])).list_namespace(label_selector=TEAM_LABEL).items
    except ApiException as exc:
        _fail(str(explain(exc, "listing team namespaces (an instructor's command)")))
    except KubernetesError as exc:
        _fail(str(exc))
    return sorted(ns.metadata.name for ns in found)


@cli.command()
@click.option("--slo/--no-slo", default=True, show_default=True,
              help="Also measure whether each team's SLO holds right now (a few seconds per team).")
@click.pass_context
def teams(ctx: click.Context, slo: bool) -> None:
    """Every team on the cluster: its running scenario, how long it has run, whether its SLO holds."""
    from chaoslab.chaos.checks import MEASURES, CheckError, observe
    from chaoslab.chaos.kubernetes.client import KubernetesError
    from chaoslab.chaos.kubernetes.probes import ClusterLoad, KubernetesProbe
    from chaoslab.chaos.scenarios import ScenarioError, get
    from chaoslab.loadtest.verify import BASELINE_SLO

    ctx.obj["target"] = "kubernetes"
    click.echo(f"{'TEAM':<10} {'NAMESPACE':<18} {'SCENARIO':<18} {'AGE':>7}  SLO")
    for namespace in _team_namespaces(ctx):
        controller = _controller(ctx, namespace)
        running = controller.current()
        live = running is not None and running["expires_at"] > time.time()
        age = _remaining(time.time() - running["started_at"]) if live else "-"
        verdict = "not measured"
        if slo:
            try:
                wanted = get(running["id"]).slo if live else BASELINE_SLO
                evaluable = [c for c in wanted if MEASURES[c.measure].source != "data"]
                results = observe(evaluable, KubernetesProbe(controller.targets.api, namespace),
                                  ClusterLoad(controller.targets.api, namespace), window_s=3)
                failed = [r.check.describe() for r in results if not r.ok]
                verdict = "holds" if not failed else "BREACHED: " + "; ".join(failed)
            except (CheckError, KubernetesError, ScenarioError) as exc:
                verdict = f"unknown ({exc})"
        click.echo(f"{controller.targets.team:<10} {namespace:<18} {(running['id'] if live else '-'):<18} "
                   f"{age:>7}  {verdict}")


@cli.command("team-kubeconfig")
@click.option("--team", required=True, help="The team whose trainees get the kubeconfig.")
@click.option("--output", "-o", type=click.Path(dir_okay=False), default=None,
              help="File to write (default: kubeconfig-TEAM.yaml).")
@click.option("--duration", default="12h", show_default=True, help="Token lifetime, e.g. 8h.")
@click.pass_context
def team_kubeconfig(ctx: click.Context, team: str, output: str | None, duration: str) -> None:
    """Write a kubeconfig bound to the team's ServiceAccount: its kubectl sees only its namespace."""
    import base64
    import os

    import yaml
    from kubernetes import client
    from kubernetes.client.exceptions import ApiException

    from chaoslab.chaos.journal import parse_since
    from chaoslab.chaos.kubernetes.client import KubernetesError, api_client, explain

    namespace = f"chaoslab-{team}"
    try:
        seconds = int(parse_since(duration))
        api = api_client(ctx.obj["context"])
        token = client.CoreV1Api(api).create_namespaced_service_account_token(
            "trainee", namespace, {"spec": {"expirationSeconds": seconds}}).status.token
    except ValueError as exc:
        _fail(str(exc).replace("--since", "--duration"), 2)
    except ApiException as exc:
        _fail(str(explain(exc, f"asking for a token of {namespace}/trainee")))
    except KubernetesError as exc:
        _fail(str(exc))
    cluster = {"server": api.configuration.host}
    if api.configuration.ssl_ca_cert:
        with open(api.configuration.ssl_ca_cert, "rb") as handle:
            cluster["certificate-authority-data"] = base64.b64encode(handle.read()).decode()
    elif not api.configuration.verify_ssl:
        cluster["insecure-skip-tls-verify"] = True
    config = {"apiVersion": "v1", "kind": "Config", "current-context": f"chaoslab-{team}",
              "clusters": [{"name": "chaoslab", "cluster": cluster}],
              "users": [{"name": f"{team}-trainee", "user": {"token": token}}],
              "contexts": [{"name": f"chaoslab-{team}",
                            "context": {"cluster": "chaoslab", "user": f"{team}-trainee", "namespace": namespace}}]}
    path = output or f"kubeconfig-{team}.yaml"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        yaml.safe_dump(config, handle)
    click.echo(f"wrote {path} (team {team}, namespace {namespace}, valid {duration}); "
               f"export KUBECONFIG={path}")


# ---- load ------------------------------------------------------------------------------------

@cli.group()
def load() -> None:
    """Locust in the background against the lab: start, status, stop."""


def _front_door(ctx: click.Context) -> str:
    from chaoslab.local.client import LabClient, LabError

    try:
        status = LabClient(_state(ctx)).status()
    except LabError as exc:
        _fail(str(exc), 2)
    return next(p["url"] for p in status["processes"] if p["name"] == "service-a")


def _start_load(ctx: click.Context, plan, started_by: str) -> dict:
    from chaoslab.loadtest import background
    from chaoslab.loadtest.runner import LoadError

    try:
        return background.start(_state(ctx), plan, started_by)
    except LoadError as exc:
        _fail(str(exc))


@load.command("start")
@click.option("-u", "--users", type=click.IntRange(1, 1000), envvar="LOCUST_USERS", default=10, show_default=True)
@click.option("-r", "--spawn-rate", type=click.FloatRange(min=0.1), envvar="LOCUST_SPAWN_RATE", default=5.0,
              show_default=True)
@click.option("--think-time", type=click.FloatRange(min=0), envvar="LOCUST_THINK_TIME", default=1.0,
              show_default=True, help="Max seconds a user waits between actions.")
@click.option("--shape", type=click.Choice(["steady", "ramp", "spike"]), envvar="LOCUST_SHAPE", default="steady",
              show_default=True)
@click.option("--journey", type=click.Choice(["shop", "rush"]), envvar="LOCUST_JOURNEY", default="shop",
              show_default=True, help="shop: browse, history, checkout; rush: checkout only.")
@click.option("--host", envvar="LOCUST_HOST", default=None, help="Target (default: the local lab's service-a).")
@click.pass_context
def load_start(ctx: click.Context, users: int, spawn_rate: float, think_time: float, shape: str, journey: str,
               host: str | None) -> None:
    """Start Locust headless in the background; its web UI is on a loopback port printed here."""
    from chaoslab.loadtest.runner import LoadPlan

    plan = LoadPlan(host=host or _front_door(ctx), users=users, spawn_rate=spawn_rate, think_time_s=think_time,
                    shape=shape, journey=journey)
    info = _start_load(ctx, plan, "cli")
    click.echo(f"load started: {users} {journey} users ({shape}) against {plan.host}\n"
               f"  web UI:  {info['web_url']}\n  reports: {info['report_dir']} (written when it stops)\n"
               "  chaoslab load status | chaoslab load stop")


@load.command("status")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def load_status(ctx: click.Context, as_json: bool) -> None:
    """Users, requests per second, failures and P95 right now. Exit 1 when no load runs."""
    from chaoslab.loadtest import background
    from chaoslab.loadtest.runner import LoadError

    info = background.current(_state(ctx))
    if info is None:
        _fail("no load is running; start it with `chaoslab load start`")
    try:
        stats = background.attach(info).stats()
    except LoadError as exc:
        _fail(str(exc))
    if as_json:
        click.echo(json.dumps(stats, indent=2))
        return
    p95 = stats.get("current_response_time_percentiles", {}).get("response_time_percentile_0.95")
    click.echo(f"load {stats['state']}: {stats['user_count']} users, {stats['total_rps']:.1f} req/s "
               f"({stats['current_rps']:.1f} now), failures {stats['fail_ratio']:.1%}, P95 now {p95} ms, "
               f"web UI {info['web_url']}")
    click.echo(f"  {'REQUEST':<22}{'COUNT':>8}{'FAILS':>7}{'P50':>7}{'P95':>7}{'RPS':>7}")
    for entry in stats["stats"]:
        click.echo(f"  {entry['name']:<22}{entry['num_requests']:>8}{entry['num_failures']:>7}"
                   f"{entry.get('median_response_time') or 0:>7.0f}"
                   f"{entry.get('response_time_percentile_0.95') or 0:>7.0f}{entry.get('current_rps', 0):>7.1f}")


@load.command("stop")
@click.pass_context
def load_stop(ctx: click.Context) -> None:
    """Stop the background load; Locust writes its CSV and HTML reports first."""
    from chaoslab.loadtest import background

    info = background.stop(_state(ctx))
    if info is None:
        click.echo("no load was running")
        return
    click.echo(f"load stopped after {_remaining(time.time() - info['started_at'])}; reports in {info['report_dir']}")


@cli.command()
@click.argument("scenario_id", required=False)
@click.option("--duration", type=float, default=30.0, show_default=True, help="Seconds of load.")
@click.option("-u", "--users", type=int, default=None, help="Users (default: the scenario's traffic, or 10).")
@click.option("--think-time", type=float, default=None, help="Max seconds between a user's actions.")
@click.option("--json", "as_json", is_flag=True, help="Print the verdict as JSON.")
@click.pass_context
def verify(ctx: click.Context, scenario_id: str | None, duration: float, users: int | None,
           think_time: float | None, as_json: bool) -> None:
    """Run load for a while and judge it against an SLO: the scenario's, or the lab's baseline.

    Exit 0 when the SLO holds, 1 when it does not, 2 for bad input or a lab that does not answer.
    """
    import sys as _sys

    from chaoslab.chaos.scenarios import DEFAULT_LOAD, ScenarioError, get
    from chaoslab.loadtest import background
    from chaoslab.loadtest.runner import LoadError, LoadPlan
    from chaoslab.loadtest.verify import BASELINE_SLO, verify as run_verify
    from chaoslab.local.client import LabError
    from chaoslab.local.probe import LocalProbe

    if duration <= 0:
        _fail(f"--duration must be more than 0 seconds, got {duration:g}", 2)
    if users is not None and users < 1:
        _fail(f"--users must be at least 1, got {users}", 2)
    try:
        drill = get(scenario_id) if scenario_id else None
    except ScenarioError as exc:
        _fail(str(exc), 2)
    state = _state(ctx)
    try:
        probe = LocalProbe(state)
    except LabError as exc:
        _fail(str(exc), 2)
    if background.current(state) is not None:
        click.echo("warning: background load is running; its traffic adds to this run's", err=True)
    profile = drill.load if drill else DEFAULT_LOAD
    report_dir = background.reports_dir(state, f"verify-{scenario_id or 'baseline'}")
    plan = LoadPlan(host=next(p["url"] for p in probe.status["processes"] if p["name"] == "service-a"),
                    users=users or profile["users"], spawn_rate=max(profile["spawn_rate"], users or 0),
                    think_time_s=profile["think_time_s"] if think_time is None else think_time,
                    journey=profile["journey"], shape=profile["shape"], run_time_s=duration, report_dir=report_dir)
    tty = _sys.stdout.isatty() and not as_json
    last = [0.0]

    def progress(elapsed: float, stats: dict) -> None:
        if as_json or (not tty and elapsed - last[0] < 5):
            return
        last[0] = elapsed
        p95 = stats.get("current_response_time_percentiles", {}).get("response_time_percentile_0.95")
        line = (f"  {min(elapsed, duration):5.0f}/{duration:.0f}s  {stats.get('user_count', 0):>3} users  "
                f"{stats.get('current_rps', 0):6.1f} req/s  failures {stats.get('fail_ratio', 0):6.1%}  P95 {p95} ms")
        click.echo("\r" + line if tty else line, nl=not tty)

    if not as_json:
        click.echo(f"verify {scenario_id or 'baseline'}: {plan.users} {plan.journey} users for {duration:g}s "
                   f"against {plan.host}")
    try:
        verdict = run_verify(probe, plan, drill.slo if drill else BASELINE_SLO, scenario_id, state.log("verify-locust"),
                             progress)
    except LoadError as exc:
        _fail(str(exc), 2)
    if as_json:
        click.echo(json.dumps(verdict.to_json(), indent=2))
        _sys.exit(0 if verdict.ok else 1)
    f = verdict.figures
    click.echo(("\n" if tty else "") + f"\n  throughput  {f['throughput_rps']} req/s ({f['requests']} requests), "
               f"error rate {f['error_rate']:.2%}" if f["error_rate"] is not None else "\n  no requests completed")
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


# ---- components and configuration -----------------------------------------------------------

@cli.command()
@click.pass_context
def reap(ctx: click.Context) -> None:
    """Revert Kubernetes-level faults whose TTL has passed (what the reaper CronJob runs)."""
    from chaoslab.chaos.kubernetes.client import KubernetesError
    from chaoslab.chaos.kubernetes.targets import KubernetesTargets

    if ctx.obj["target"] != "kubernetes":
        _fail("reap works on a cluster: chaoslab --target kubernetes --namespace NS reap "
              "(local faults expire inside their agents)", 2)
    try:
        reverted = KubernetesTargets(ctx.obj["namespace"], ctx.obj["context"]).reap()
    except KubernetesError as exc:
        _fail(str(exc))
    click.echo(f"reaped {len(reverted)} expired change(s)" + (f": {', '.join(reverted)}" if reverted else ""))


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
            response = requests.post(f"{url}/checkout", json={"customer_id": 1, "items": [
                {"sku": "SKU-1001", "quantity": 1}]}, headers={"Idempotency-Key": f"smoke-{uuid.uuid4()}"}, timeout=10)
            if response.status_code == 201:
                order = response.json()
                while time.monotonic() < deadline:
                    status = requests.get(f"{url}/orders/{order['id']}", timeout=10).json()["status"]
                    if status == "fulfilled":
                        click.echo(f"order {order['id']} ({order['total']} {order['currency']}) was fulfilled")
                        return
                    time.sleep(1)  # the worker fulfils asynchronously; look again in a second
                _fail(f"order {order['id']} was paid but not fulfilled within {timeout:g}s")
            last = f"checkout answered {response.status_code}: {response.text[:200]}"
        except requests.RequestException as exc:
            last = f"{url} did not answer: {exc}"
        time.sleep(2)  # the lab may still be starting: try again
    _fail(f"no successful checkout within {timeout:g}s; last: {last}")


@cli.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
@click.pass_context
def locust(ctx: click.Context) -> None:
    """Run Locust with the lab's locustfile; every other argument goes to Locust (the in-cluster load)."""
    import os

    from chaoslab.loadtest.runner import LOCUSTFILE

    os.execvp(sys.executable, [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), *ctx.args])

@cli.command()
@click.argument("name", type=click.Choice(SERVICE_NAMES))
def serve(name: str) -> None:
    """Run one component in the foreground (the entry point of every container and local process)."""
    import importlib

    from chaoslab.topology import component

    module = importlib.import_module(component(name).module)
    sys.exit(module.main())


@cli.command()
@click.option("--database-url", envvar="CHAOSLAB_DATABASE_URL", required=True,
              help="PostgreSQL URL (env CHAOSLAB_DATABASE_URL).")
@click.option("--create-database/--no-create-database", default=False,
              help="Create the URL's database first if it does not exist.")
def migrate(database_url: str, create_database: bool) -> None:
    """Apply pending schema migrations (idempotent)."""
    import psycopg

    from chaoslab.services.common.migrations import LATEST, apply, ensure_database

    try:
        if create_database and ensure_database(database_url):
            click.echo("created the database")
        applied = apply(database_url, say=click.echo)
    except psycopg.OperationalError as exc:
        _fail(f"cannot reach PostgreSQL: {str(exc).strip().splitlines()[0]}")
    click.echo(f"schema at version {LATEST}" + ("" if applied else " (nothing to do)"))


@cli.command()
def config() -> None:
    """Every setting of every component: its environment variable and current value."""
    from chaoslab import settings

    for group in settings.ALL_GROUPS:
        try:
            current = settings.load(group)
        except settings.SettingsError as exc:
            _fail(str(exc), 2)
        click.echo(f"# {group.__doc__.strip()}")
        for variable, default, _ in settings.describe(group):
            value = getattr(current, variable.removeprefix(group.prefix).lower())
            shown = str(value).lower() if isinstance(value, bool) else str(value)
            marker = "" if shown == default else "   (default " + (default or "empty") + ")"
            click.echo(f"{variable}={shown}{marker}")
        click.echo("")


def main() -> int:
    try:
        cli.main(standalone_mode=True)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    return 0
