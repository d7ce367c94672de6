"""Helpers for the end-to-end tests: the kind cluster tools/e2e/run started (KUBECONFIG and DOCKER_HOST
come from it), the Makefile's targets as an operator runs them, and ways into the pods."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import requests

from support import ROOT

CLUSTER = os.environ.get("CLUSTER", "chaoslab")
NODE = f"{CLUSTER}-control-plane"
OFFLINE_VALUES = "charts/chaoslab/ci/offline-values.yaml"
VENV = Path(sys.executable).parent.parent
REPORTS = Path(os.environ.get("E2E_REPORTS") or ROOT / "reports")


def run(*args: str, check: bool = True, timeout: float = 600, env: dict | None = None) -> subprocess.CompletedProcess:
    result = subprocess.run(
        args, cwd=ROOT, capture_output=True, text=True, timeout=timeout, env={**os.environ, **(env or {})}
    )
    if check and result.returncode != 0:
        raise AssertionError(
            f"{' '.join(args)} exited {result.returncode}:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
        )
    return result


def make(target: str, **variables: str) -> subprocess.CompletedProcess:
    """A Makefile target as the docs tell an operator to run it, on this machine's images."""
    settings = {"VENV": str(VENV), "CHART_VALUES": OFFLINE_VALUES, **variables}
    return run("make", "--no-print-directory", target, *(f"{k}={v}" for k, v in settings.items()), timeout=900)


def kubectl(*args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess:
    return run("kubectl", *args, check=check, timeout=timeout)


def chaoslab(
    namespace: str, *args: str, check: bool = True, kubeconfig: str | None = None
) -> subprocess.CompletedProcess:
    env = {"KUBECONFIG": kubeconfig} if kubeconfig else None
    return run(
        str(VENV / "bin" / "chaoslab"),
        "--state-dir",
        str(REPORTS / "state"),
        "--target",
        "kubernetes",
        "--namespace",
        namespace,
        *args,
        check=check,
        env=env,
    )


def published(node_port: int) -> str:
    """The loopback URL kind published a NodePort on (kind-config.yaml's extraPortMappings; the e2e
    cluster lets kind pick the host port)."""
    out = run("docker", "port", NODE, f"{node_port}/tcp").stdout.split()[0]
    return f"http://{out}"


def available(api, namespace: str) -> bool:
    """Every Deployment of the namespace has all its replicas updated and available."""
    from kubernetes import client

    deployments = client.AppsV1Api(api).list_namespaced_deployment(namespace).items
    return bool(deployments) and all(
        (d.status.available_replicas or 0) == d.spec.replicas and (d.status.updated_replicas or 0) == d.spec.replicas
        for d in deployments
    )


def pod_names(namespace: str, service: str) -> list[str]:
    out = kubectl("-n", namespace, "get", "pods", "-l", f"app.kubernetes.io/name={service}", "-o", "json").stdout
    return [p["metadata"]["name"] for p in json.loads(out)["items"] if not p["metadata"].get("deletionTimestamp")]


def connects(namespace: str, pod: str, host: str, port: int) -> str:
    """From inside a pod (its own container's Python): 'ok', or the error a TCP connection gets."""
    code = (
        "import socket\n"
        f"try:\n    socket.create_connection(({host!r}, {port}), timeout=3).close(); print('ok')\n"
        "except OSError as e:\n    print(type(e).__name__)"
    )
    return kubectl("-n", namespace, "exec", pod, "--", "python3", "-c", code, timeout=30).stdout.strip()


def checkout(url: str, key: str, timeout: float = 15) -> requests.Response:
    return requests.post(
        f"{url}/checkout",
        json={"customer_id": 1, "items": [{"sku": "SKU-1001", "quantity": 1}]},
        headers={"Idempotency-Key": key},
        timeout=timeout,
    )
