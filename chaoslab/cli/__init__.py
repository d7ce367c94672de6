"""The ``chaoslab`` command: run the local lab, break it, load it, and run cohorts on a cluster.

Exit codes: 0 success, 1 the lab is not in the state asked for (not ready, not
running, a check failed, an operation was refused), 2 bad input (unknown name,
bad option, malformed spec). Commands raise ``chaoslab.errors`` exceptions and
``ChaoslabGroup.invoke`` below is the one place that turns them into a line on
stderr and an exit code. Heavy imports happen inside each command, so
``chaoslab serve`` stays lean. Commands live by topic: ``lab`` (the local lab),
``chaos`` (faults, deploys, journals), ``drills`` (scenarios), ``load`` (Locust,
verify), ``cohort`` (teams on a cluster), ``incident`` (incidents, triage, scores),
``alerts`` (alerts and runbooks).
"""

from __future__ import annotations

import getpass
import os
from pathlib import Path

import click

from chaoslab import __version__
from chaoslab.backend import TARGETS, Options
from chaoslab.errors import ChaoslabError
from chaoslab.escape import printable


class ChaoslabGroup(click.Group):
    """Maps every ChaoslabError to ``chaoslab: <message>`` on stderr and its exit code."""

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


# Each module registers its commands on `cli` when imported.
from chaoslab.cli import alerts, chaos, cohort, console, diagnose, drills, incident, lab, load, reconcile  # noqa: E402,F401 isort:skip
