"""Cohorts on a cluster: every team at a glance, and kubeconfigs for trainees."""

from __future__ import annotations

import time

import click

from chaoslab.cli import cli
from chaoslab.cli.common import fail, open_controller, remaining


def team_namespaces(ctx: click.Context) -> list[str]:
    """Every namespace labelled as a chaoslab team's (needs the instructor role to list namespaces)."""
    from kubernetes import client
    from kubernetes.client.exceptions import ApiException

    from chaoslab.chaos.kubernetes.client import KubernetesError, api_client, explain
    from chaoslab.chaos.kubernetes.identity import TEAM_LABEL

    try:
        found = client.CoreV1Api(api_client(ctx.obj["context"])).list_namespace(label_selector=TEAM_LABEL).items
    except ApiException as exc:
        fail(str(explain(exc, "listing team namespaces (an instructor's command)")))
    except KubernetesError as exc:
        fail(str(exc))
    return sorted(ns.metadata.name for ns in found)


@cli.command()
@click.option(
    "--slo/--no-slo",
    default=True,
    show_default=True,
    help="Also measure whether each team's SLO holds right now (a few seconds per team).",
)
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
    for namespace in team_namespaces(ctx):
        controller = open_controller(ctx, namespace)
        running = controller.current()
        live = running is not None and running["expires_at"] > time.time()
        age = remaining(time.time() - running["started_at"]) if live else "-"
        verdict = "not measured"
        if slo:
            try:
                wanted = get(running["id"]).slo if live else BASELINE_SLO
                evaluable = [c for c in wanted if MEASURES[c.measure].source != "data"]
                results = observe(
                    evaluable,
                    KubernetesProbe(controller.targets.api, namespace),
                    ClusterLoad(controller.targets.api, namespace),
                    window_s=3,
                )
                failed = [r.check.describe() for r in results if not r.ok]
                verdict = "holds" if not failed else "BREACHED: " + "; ".join(failed)
            except (CheckError, KubernetesError, ScenarioError) as exc:
                verdict = f"unknown ({exc})"
        click.echo(
            f"{controller.targets.team:<10} {namespace:<18} {(running['id'] if live else '-'):<18} {age:>7}  {verdict}"
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
        token = (
            client.CoreV1Api(api)
            .create_namespaced_service_account_token("trainee", namespace, {"spec": {"expirationSeconds": seconds}})
            .status.token
        )
    except ValueError as exc:
        fail(str(exc).replace("--since", "--duration"), 2)
    except ApiException as exc:
        fail(str(explain(exc, f"asking for a token of {namespace}/trainee")))
    except KubernetesError as exc:
        fail(str(exc))
    cluster = {"server": api.configuration.host}
    if api.configuration.ssl_ca_cert:
        with open(api.configuration.ssl_ca_cert, "rb") as handle:
            cluster["certificate-authority-data"] = base64.b64encode(handle.read()).decode()
    elif not api.configuration.verify_ssl:
        cluster["insecure-skip-tls-verify"] = True
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "current-context": f"chaoslab-{team}",
        "clusters": [{"name": "chaoslab", "cluster": cluster}],
        "users": [{"name": f"{team}-trainee", "user": {"token": token}}],
        "contexts": [
            {
                "name": f"chaoslab-{team}",
                "context": {"cluster": "chaoslab", "user": f"{team}-trainee", "namespace": namespace},
            }
        ],
    }
    path = output or f"kubeconfig-{team}.yaml"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        yaml.safe_dump(config, handle)
    click.echo(f"wrote {path} (team {team}, namespace {namespace}, valid {duration}); export KUBECONFIG={path}")
