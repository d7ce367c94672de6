"""The ``chaoslab`` command: run the local lab, break it, load it, and run cohorts on a cluster.

Exit codes: 0 success, 1 the lab is not in the state asked for (not ready, not
running, a check failed, an operation was refused), 2 bad input (unknown name,
bad option, malformed spec). Commands raise ``chaoslab.errors`` exceptions and
``ChaoslabGroup.invoke`` below is the one place that turns them into a line on
stderr and an exit code.

Commands live by topic, one module each: ``lab`` (the local lab), ``serve`` (what a
container or the lab's supervisor runs), ``shop`` (an order by hand), ``chaos``
(faults, deploys, journals), ``drills`` (scenarios), ``load`` (Locust, verify),
``cohort`` (teams on a cluster), ``console``, ``diagnose``, ``incident``
(incidents, triage, scores), ``alerts`` (alerts and runbooks), ``reconcile``. A
module is imported only when one of its commands runs (``COMMANDS`` maps each name
to its module): ``chaoslab serve`` starts a service without loading the rest of the
lab, and each module imports what it needs at its top.
"""

from __future__ import annotations

import getpass
import importlib
import os
from pathlib import Path

import click

from chaoslab import __version__
from chaoslab.backend import TARGETS, Options
from chaoslab.errors import ChaoslabError
from chaoslab.escape import printable

COMMANDS: dict[str, str] = {
    **dict.fromkeys(("up", "down", "status", "logs", "traces", "stop", "start", "restart", "config"), "lab"),
    **dict.fromkeys(("serve", "migrate"), "serve"),
    **dict.fromkeys(("checkout", "smoke"), "shop"),
    **dict.fromkeys(("fault", "reset", "deploy", "changes", "audit", "reap", "pager"), "chaos"),
    "scenario": "drills",
    "gameday": "gameday",
    **dict.fromkeys(("load", "verify", "soak", "locust"), "load"),
    **dict.fromkeys(("teams", "team-kubeconfig"), "cohort"),
    **dict.fromkeys(("console", "console-server"), "console"),
    "diagnose": "diagnose",
    **dict.fromkeys(("incident", "triage", "score", "oncall", "actions"), "incident"),
    **dict.fromkeys(("alerts", "runbook"), "alerts"),
    "reconcile": "reconcile",
    **dict.fromkeys(("replay", "recordings"), "replay"),
}
"""Each command's module under chaoslab.cli (tests/unit/test_cli_errors.py checks every module's commands
are here)."""


class ChaoslabGroup(click.Group):
    """Loads a command's module when the command is asked for, and maps every ChaoslabError to
    ``chaoslab: <message>`` on stderr and its exit code."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(COMMANDS) | set(self.commands))

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in self.commands and name in COMMANDS:
            importlib.import_module(f"chaoslab.cli.{COMMANDS[name]}")  # registers its commands on ``cli``
        return self.commands.get(name)

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except ChaoslabError as exc:
            click.echo(f"chaoslab: {printable(str(exc))}", err=True)
            ctx.exit(exc.exit_code)


@click.group(cls=ChaoslabGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="chaoslab")
@click.option(
    "--state-dir",
    envvar="CHAOSLAB_STATE_DIR",
    default=".chaoslab",
    show_default=True,
    help="Directory of the local lab's data, logs and lock (env CHAOSLAB_STATE_DIR).",
)
@click.option(
    "--target",
    type=click.Choice(TARGETS),
    envvar="CHAOSLAB_TARGET",
    default="local",
    show_default=True,
    help="Which lab the commands act on (env CHAOSLAB_TARGET).",
)
@click.option(
    "--namespace",
    "-n",
    envvar="CHAOSLAB_NAMESPACE",
    default="chaoslab-lab",
    show_default=True,
    help="The team namespace, with --target kubernetes (env CHAOSLAB_NAMESPACE).",
)
@click.option(
    "--context",
    "kube_context",
    envvar="CHAOSLAB_KUBE_CONTEXT",
    default=None,
    help="kubeconfig context, with --target kubernetes (default: the current one).",
)
@click.pass_context
def cli(ctx: click.Context, state_dir: str, target: str, namespace: str, kube_context: str | None) -> None:
    """chaoslab: break a real multi-service system on purpose, then find and fix it."""
    actor = os.environ.get("CHAOSLAB_ACTOR") or getpass.getuser()
    ctx.obj = Options(Path(state_dir).expanduser(), target, namespace, kube_context, actor)


def main() -> int:
    try:
        cli.main(standalone_mode=True)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    return 0
