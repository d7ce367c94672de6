"""Cohorts on a cluster: every team at a glance, and kubeconfigs for trainees."""

from __future__ import annotations

import time

import click

from chaoslab.backend import Options, team_namespace
from chaoslab.cli import cli
from chaoslab.cli.common import backend, pass_options
from chaoslab.errors import BadInput, ChaoslabError
from chaoslab.timefmt import duration


def team_namespaces(options: Options) -> list[str]:
    """Every namespace labelled as a chaoslab team's (needs the instructor role to list namespaces)."""
    from kubernetes import client
    from kubernetes.client.exceptions import ApiException

    from chaoslab.chaos.kubernetes.client import api_client, explain
    from chaoslab.chaos.kubernetes.identity import TEAM_LABEL

    try:
        found = client.CoreV1Api(api_client(options.context)).list_namespace(label_selector=TEAM_LABEL).items
    except ApiException as exc:
        raise explain(exc, "listing team namespaces (an instructor's command)") from None
    return sorted(ns.metadata.name for ns in found)


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
    from chaoslab.chaos.checks import MEASURES, observe
    from chaoslab.chaos.scenarios import get
    from chaoslab.loadtest.verify import BASELINE_SLO

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
    import base64
    import os

    import yaml
    from kubernetes import client
    from kubernetes.client.exceptions import ApiException

    from chaoslab.chaos.journal import parse_since
    from chaoslab.chaos.kubernetes.client import api_client, explain

    namespace = team_namespace(team)
    try:
        seconds = int(parse_since(lifetime))
    except ValueError as exc:
        raise BadInput(str(exc).replace("--since", "--duration")) from None
    api = api_client(options.context)
    try:
        token = (
            client.CoreV1Api(api)
            .create_namespaced_service_account_token("trainee", namespace, {"spec": {"expirationSeconds": seconds}})
            .status.token
        )
    except ApiException as exc:
        raise explain(exc, f"asking for a token of {namespace}/trainee") from None
    cluster = {"server": api.configuration.host}
    if api.configuration.ssl_ca_cert:
        with open(api.configuration.ssl_ca_cert, "rb") as handle:
            cluster["certificate-authority-data"] = base64.b64encode(handle.read()).decode()
    elif not api.configuration.verify_ssl:
        cluster["insecure-skip-tls-verify"] = True
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "current-context": namespace,
        "clusters": [{"name": "chaoslab", "cluster": cluster}],
        "users": [{"name": f"{team}-trainee", "user": {"token": token}}],
        "contexts": [
            {
                "name": namespace,
                "context": {"cluster": "chaoslab", "user": f"{team}-trainee", "namespace": namespace},
            }
        ],
    }
    path = output or f"kubeconfig-{team}.yaml"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        yaml.safe_dump(config, handle)
    click.echo(f"wrote {path} (team {team}, namespace {namespace}, valid {lifetime}); export KUBECONFIG={path}")
