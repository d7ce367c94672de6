"""What every command module shares: the options, the backend, and the scenario catalogue."""

from __future__ import annotations

import click

from chaoslab.backend import Backend, Options, open_backend

pass_options = click.make_pass_decorator(Options)
"""Hands a command the global options (``chaoslab --state-dir/--target/--namespace/--context``)."""


def team_option(command):
    """``--team T``: act on team T's namespace (chaoslab-T) on the cluster; implies --target kubernetes."""
    return click.option(
        "--team", default=None, help="A team's namespace on the cluster (chaoslab-TEAM); implies --target kubernetes."
    )(command)


def backend(options: Options, team: str | None = None) -> Backend:
    """The lab the command acts on: the options' target, or team ``team``'s namespace."""
    return open_backend(options.for_team(team))


def scenario(scenario_id: str):
    """A scenario from the catalogue; ScenarioError (bad input) names the known ones."""
    from chaoslab.chaos.scenarios import get

    return get(scenario_id)


def local_state(options: Options):
    """The local lab's state directory, for the commands that run the local lab itself (up, down,
    status, logs, traces, stop/start/restart, config). Refused with --target kubernetes: there the
    lab is a Helm release (docs/kubernetes.md)."""
    from chaoslab.errors import BadInput
    from chaoslab.local.statedir import StateDir

    if options.target != "local":
        raise BadInput(
            f"this command runs the local lab; {options.namespace} on the cluster is a Helm release: use "
            f"`kubectl -n {options.namespace} get pods` or `make deploy` (docs/kubernetes.md)"
        )
    return StateDir.at(options.state_dir)
