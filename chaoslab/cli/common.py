"""What every command module shares: the options, the backend, and the scenario catalogue."""

from __future__ import annotations

import click

from chaoslab.backend import Backend, Options
from chaoslab.chaos.faults import MAX_TTL_S
from chaoslab.chaos.journal import parse_since
from chaoslab.chaos.scenarios import get
from chaoslab.errors import BadInput

pass_options = click.make_pass_decorator(Options)
"""Hands a command the global options (``chaoslab --state-dir/--target/--namespace/--context``)."""


def team_option(command):
    """``--team T``: act on team T's namespace (chaoslab-T) on the cluster; implies --target kubernetes."""
    return click.option(
        "--team", default=None, help="A team's namespace on the cluster (chaoslab-TEAM); implies --target kubernetes."
    )(command)


def open_backend(options: Options) -> Backend:
    """The backend for ``options.target``: the one place that knows which wing serves which target.
    Each wing is imported when chosen: the Kubernetes client is an optional extra, and a local
    command should not pay for loading it."""
    if options.target == "kubernetes":
        from chaoslab.kubernetes.backend import KubernetesBackend

        return KubernetesBackend(options.namespace, options.context)
    from chaoslab.local.backend import LocalBackend

    return LocalBackend(options.state_dir, options.actor)


def backend(options: Options, team: str | None = None) -> Backend:
    """The lab the command acts on: the options' target, or team ``team``'s namespace."""
    return open_backend(options.for_team(team))


def scenario(scenario_id: str):
    """A scenario from the catalogue; ScenarioError (bad input) names the known ones."""
    return get(scenario_id)


def more_time(text: str, option: str = "--by") -> float:
    """``--by 10m`` (or a break's ``--for``): the seconds a drill is given on top of its time limit (1 s
    to a fault's longest life)."""
    try:
        seconds = parse_since(text)
    except ValueError:
        raise BadInput(f"{option} {text!r}: use a number and a unit, e.g. 90s, 10m, 1h") from None
    if not 1 <= seconds <= MAX_TTL_S:
        raise BadInput(f"{option} {text!r}: between 1 s and {MAX_TTL_S / 3600:g} h")
    return seconds


def local_state(options: Options):
    """The local lab's state directory, for the commands that run the local lab itself (up, down,
    status, logs, traces, stop/start/restart, config). Refused with --target kubernetes: there the
    lab is a Helm release (docs/kubernetes.md)."""
    from chaoslab.local.statedir import StateDir

    if options.target != "local":
        raise BadInput(
            f"this command runs the local lab; {options.namespace} on the cluster is a Helm release: use "
            f"`kubectl -n {options.namespace} get pods` or `make deploy` (docs/kubernetes.md)"
        )
    return StateDir.at(options.state_dir)
