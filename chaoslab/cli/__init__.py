"""The ``chaoslab`` command: run the local lab, break it, load it, and run cohorts on a cluster.

Exit codes: 0 success, 1 the lab is not in the state asked for (not ready, not
running, a check failed, an operation was refused), 2 bad input (unknown name,
bad option, malformed spec). Heavy imports happen inside each command, so
``chaoslab serve`` stays lean. Commands live by topic: ``lab`` (the local
lab), ``chaos`` (faults, deploys, journals), ``drills`` (scenarios), ``load``
(Locust, verify), ``cohort`` (teams on a cluster), ``alerts`` (alerts and runbooks).
"""

from __future__ import annotations

import click

from chaoslab import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
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
    type=click.Choice(["local", "kubernetes"]),
    envvar="CHAOSLAB_TARGET",
    default="local",
    show_default=True,
    help="Which lab the chaos commands act on (env CHAOSLAB_TARGET).",
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
    ctx.obj = {"state_dir": state_dir, "target": target, "namespace": namespace, "context": kube_context}


def main() -> int:
    try:
        cli.main(standalone_mode=True)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    return 0


# Each module registers its commands on `cli` when imported.
from chaoslab.cli import alerts, chaos, cohort, drills, lab, load  # noqa: E402,F401 isort:skip
