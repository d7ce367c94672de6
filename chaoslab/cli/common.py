"""Helpers every command module shares: the state directory, failing with one line, the controller."""

from __future__ import annotations

import sys

import click


def lab_state(ctx: click.Context):
    """The local lab's state directory (--state-dir)."""
    from chaoslab.local.statedir import StateDir

    return StateDir.at(ctx.obj["state_dir"])


def fail(message: str, code: int = 1) -> None:
    from chaoslab.escape import printable

    click.echo(f"chaoslab: {printable(message)}", err=True)  # one line, whatever an agent or a file said
    sys.exit(code)


def age(seconds: float) -> str:
    seconds = int(seconds)
    if seconds >= 3600:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    return f"{seconds // 60}m{seconds % 60:02d}s"


def open_controller(ctx: click.Context, namespace: str | None = None):
    """The controller for the lab this CLI points at: the local lab in --state-dir, or a team's
    namespace (whose journals live in it, in ConfigMap chaoslab-journal)."""
    import getpass
    import os

    from chaoslab.chaos.controller import Controller
    from chaoslab.chaos.journal import FileStore
    from chaoslab.chaos.targets import LocalTargets
    from chaoslab.local.client import LabError

    state = lab_state(ctx)
    actor = os.environ.get("CHAOSLAB_ACTOR") or getpass.getuser()
    if ctx.obj["target"] == "kubernetes":
        from chaoslab.chaos.kubernetes.client import KubernetesError
        from chaoslab.chaos.kubernetes.store import ConfigMapStore
        from chaoslab.chaos.kubernetes.targets import KubernetesTargets

        try:
            targets = KubernetesTargets(namespace or ctx.obj["namespace"], ctx.obj["context"])
        except KubernetesError as exc:
            fail(str(exc))
        return Controller(targets, ConfigMapStore(targets.api, targets.namespace), targets.identity.username)
    try:
        targets = LocalTargets(state)
    except LabError as exc:
        fail(str(exc))
    return Controller(targets, FileStore(state.root), actor)


def team_option(command):
    """``--team T``: act on team T's namespace (chaoslab-T) on the cluster; implies --target kubernetes."""

    def apply(ctx: click.Context, _param, team: str | None):
        if team:
            ctx.obj["target"], ctx.obj["namespace"] = "kubernetes", f"chaoslab-{team}"
        return team

    return click.option(
        "--team",
        default=None,
        expose_value=False,
        callback=apply,
        is_eager=True,
        help="A team's namespace on the cluster (chaoslab-TEAM); implies --target kubernetes.",
    )(command)


def guard(action):
    """Run a chaos action; bad input exits 2, a refused or impossible operation exits 1, one line each."""
    from chaoslab.chaos.controller import ControllerError
    from chaoslab.chaos.faults import FaultSpecError
    from chaoslab.chaos.scenarios import ScenarioError
    from chaoslab.settings import SettingsError

    try:
        return action()
    except (FaultSpecError, ScenarioError, SettingsError) as exc:
        fail(str(exc), 2)
    except ControllerError as exc:
        fail(str(exc), 1)


def remaining(seconds: float) -> str:
    seconds = max(0, int(seconds))
    return f"{seconds // 60}m{seconds % 60:02d}s"


def journals(ctx: click.Context):
    """The audit log and change feed, readable with or without a running lab; with one, settling them
    folds in what the agents recorded themselves (chaos.journal.fold_agent_records)."""
    from types import SimpleNamespace

    from chaoslab.chaos.controller import AUDIT, CHANGES
    from chaoslab.chaos.journal import AuditLog, FileStore, Journal

    if ctx.obj["target"] == "kubernetes":
        controller = open_controller(ctx)
        return SimpleNamespace(audit=controller.audit, changes=controller.changes)
    from chaoslab.chaos.controller import Controller
    from chaoslab.chaos.targets import LocalTargets
    from chaoslab.local.client import LabError

    store = FileStore(lab_state(ctx).root)
    try:
        controller = Controller(LocalTargets(lab_state(ctx)), store, "")
        return SimpleNamespace(audit=controller.audit, changes=controller.changes)
    except LabError:
        return SimpleNamespace(audit=AuditLog(store, AUDIT), changes=Journal(store, CHANGES))


def scenario(scenario_id: str):
    from chaoslab.chaos.scenarios import get

    return guard(lambda: get(scenario_id))


def front_door(ctx: click.Context) -> str:
    from chaoslab.local.client import LabClient, LabError

    try:
        status = LabClient(lab_state(ctx)).status()
    except LabError as exc:
        fail(str(exc), 2)
    return next(p["url"] for p in status["processes"] if p["name"] == "service-a")


def start_load(ctx: click.Context, plan, started_by: str) -> dict:
    from chaoslab.loadtest import background
    from chaoslab.loadtest.runner import LoadError

    try:
        return background.start(lab_state(ctx), plan, started_by)
    except LoadError as exc:
        fail(str(exc))
