"""Real tools for the Kubernetes side: helm for the chart, promtool for the rules, Alertmanager and
amtool for paging, and a real
kube-apiserver with etcd (envtest style: objects are stored and served, no pod ever runs)."""

from __future__ import annotations

import subprocess

import pytest
import yaml

from support import poll_until, tool


def required(name: str) -> str:
    """A tool `make test` always installs first (`make tools`): missing, the test fails instead of
    skipping, so no run of the suite passes without what these tests check."""
    path = tool(name)
    if path is None:
        pytest.fail(f"{name} is not installed: `make tools` builds it", pytrace=False)
    return path


@pytest.fixture(scope="session")
def helm() -> str:
    return required("helm")


@pytest.fixture(scope="session")
def promtool() -> str:
    return required("promtool")


@pytest.fixture(scope="session")
def amtool() -> str:
    return required("amtool")


@pytest.fixture(scope="session")
def alertmanager() -> str:
    return required("alertmanager")


@pytest.fixture(scope="session")
def apiserver(tmp_path_factory):
    """etcd and kube-apiserver on random loopback ports; yields the path of an admin kubeconfig."""
    from chaoslab.local.ports import free_port

    etcd, kube_apiserver = required("etcd"), required("kube-apiserver")
    work = tmp_path_factory.mktemp("apiserver")
    subprocess.run(["openssl", "genrsa", "-out", str(work / "sa.key"), "2048"], check=True, capture_output=True)
    subprocess.run(
        ["openssl", "rsa", "-in", str(work / "sa.key"), "-pubout", "-out", str(work / "sa.pub")],
        check=True,
        capture_output=True,
    )
    # Static tokens: a cluster admin; a person in team green; an instructor (by group).
    (work / "tokens.csv").write_text(
        "admin-token,admin,admin-uid,system:masters\n"
        'alice-token,alice,alice-uid,"chaoslab:team:green"\n'
        'ingrid-token,ingrid,ingrid-uid,"chaoslab:instructors"\n'
    )
    client_port, peer_port, secure_port = free_port(), free_port(), free_port()
    etcd_proc = subprocess.Popen(
        [
            etcd,
            "--data-dir",
            str(work / "etcd"),
            "--listen-client-urls",
            f"http://127.0.0.1:{client_port}",
            "--advertise-client-urls",
            f"http://127.0.0.1:{client_port}",
            "--listen-peer-urls",
            f"http://127.0.0.1:{peer_port}",
        ],
        stdout=open(work / "etcd.log", "wb"),
        stderr=subprocess.STDOUT,
    )
    api_proc = subprocess.Popen(
        [
            kube_apiserver,
            f"--etcd-servers=http://127.0.0.1:{client_port}",
            f"--secure-port={secure_port}",
            "--bind-address=127.0.0.1",
            "--advertise-address=127.0.0.1",
            f"--cert-dir={work / 'certs'}",
            "--service-account-issuer=https://chaoslab.test",
            f"--service-account-key-file={work / 'sa.pub'}",
            f"--service-account-signing-key-file={work / 'sa.key'}",
            f"--token-auth-file={work / 'tokens.csv'}",
            "--authorization-mode=RBAC",
            "--service-cluster-ip-range=10.96.0.0/24",
            "--endpoint-reconciler-type=none",
            "--disable-admission-plugins=ServiceAccount",
        ],
        stdout=open(work / "apiserver.log", "wb"),
        stderr=subprocess.STDOUT,
    )
    kubeconfig = work / "kubeconfig"
    kubeconfig.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "current-context": "test",
                "clusters": [
                    {
                        "name": "test",
                        "cluster": {"server": f"https://127.0.0.1:{secure_port}", "insecure-skip-tls-verify": True},
                    }
                ],
                "users": [{"name": "admin", "user": {"token": "admin-token"}}],
                "contexts": [{"name": "test", "context": {"cluster": "test", "user": "admin"}}],
            }
        )
    )

    def ready():
        if api_proc.poll() is not None:
            raise AssertionError("kube-apiserver exited: " + (work / "apiserver.log").read_text()[-2000:])
        result = subprocess.run(
            ["curl", "-sk", "-H", "Authorization: Bearer admin-token", f"https://127.0.0.1:{secure_port}/readyz"],
            capture_output=True,
            text=True,
        )
        return result.stdout.strip() == "ok"

    poll_until(ready, "kube-apiserver to be ready", timeout=90, interval=0.5)
    yield kubeconfig
    for proc in (api_proc, etcd_proc):
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture(scope="session")
def api(apiserver):
    from kubernetes import config

    return config.new_client_from_config(config_file=str(apiserver))
