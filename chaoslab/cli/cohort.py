"""Cohorts on a cluster: every team at a glance, and kubeconfigs for trainees."""

from __future__ import annotations

import os
import time

import click
import yaml

from chaoslab.backend import Options, team_namespace
from chaoslab.chaos.checks import MEASURES, observe
from chaoslab.chaos.journal import parse_since
from chaoslab.chaos.scenarios import get
from chaoslab.cli import cli
from chaoslab.cli.common import backend, pass_options
from chaoslab.errors import BadInput, ChaoslabError
from chaoslab.loadtest.verify import BASELINE_SLO
from chaoslab.timefmt import duration


def team_namespaces(options: Options) -> list[str]:
    """Every team namespace of the cluster (an instructor's command; chaoslab.kubernetes.cohort)."""
    from chaoslab.kubernetes.cohort import team_namespaces as listed

    return listed(options.context)


@cli.command()
@click.option(
    "--slo/--no-slo",
    default=True,
    show_default=True,
    help="Also measure whether each team's SLO holds right now (a few seconds per team).",
)
@pass_options
def teams(options: Options, slo: bool) -> None:
    """Every team on the cluster: its running scenario, how long it has run, whether its SLO holds."""
    click.echo(f"{'TEAM':<10} {'NAMESPACE':<18} {'SCENARIO':<18} {'AGE':>7}  SLO")
    for namespace in team_namespaces(options):
        lab = backend(options.for_namespace(namespace))
        controller = lab.controller()
        running = controller.current()
        live = running is not None and running["expires_at"] > time.time()
        age = duration(time.time() - running["started_at"]) if live else "-"
        verdict = "not measured"
        if slo:
            try:
                probe = lab.probe()
                wanted = get(running["id"]).slo if live else BASELINE_SLO
                evaluable = [c for c in wanted if MEASURES[c.measure].source in probe.sources]
                results = observe(evaluable, probe, lab.load().stats_source(), window_s=3)
                failed = [r.check.describe() for r in results if not r.ok]
                verdict = "holds" if not failed else "BREACHED: " + "; ".join(failed)
            except ChaoslabError as exc:
                verdict = f"unknown ({exc})"
        click.echo(
            f"{controller.agents.team:<10} {namespace:<18} {(running['id'] if live else '-'):<18} {age:>7}  {verdict}"
        )


@cli.command("team-kubeconfig")
@click.option("--team", required=True, help="The team whose trainees get the kubeconfig.")
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False),
    default=None,
    help="File to write (default: kubeconfig-TEAM.yaml).",
)
@click.option("--duration", "lifetime", default="12h", show_default=True, help="Token lifetime, e.g. 8h.")
@pass_options
def team_kubeconfig(options: Options, team: str, output: str | None, lifetime: str) -> None:
    """Write a kubeconfig bound to the team's ServiceAccount: its kubectl sees only its namespace."""
    from chaoslab.kubernetes.cohort import trainee_kubeconfig

    namespace = team_namespace(team)
    try:
        seconds = int(parse_since(lifetime))
    except ValueError as exc:
        raise BadInput(str(exc).replace("--since", "--duration")) from None
    config = trainee_kubeconfig(options.context, team, seconds)
    path = output or f"kubeconfig-{team}.yaml"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        yaml.safe_dump(config, handle)
    click.echo(f"wrote {path} (team {team}, namespace {namespace}, valid {lifetime}); export KUBECONFIG={path}")
