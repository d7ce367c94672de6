"""The chart on a real kind cluster, built on this machine by tools/e2e/run (`make e2e`). Collected only
with --with-e2e (tests/conftest.py); once collected, a missing cluster is a failure, never a skip."""

from __future__ import annotations

import json
import os

import pytest
from kubernetes import config

from clusterkit import REPORTS, available, kubectl, make
from support import poll_until

LAB = "chaoslab-lab"


@pytest.fixture(scope="session")
def api():
    assert os.environ.get("KUBECONFIG"), "KUBECONFIG is not set: run the end-to-end tests with `make e2e`"
    nodes = json.loads(kubectl("get", "nodes", "-o", "json").stdout)["items"]
    assert nodes and all(
        any(c["type"] == "Ready" and c["status"] == "True" for c in n["status"]["conditions"]) for n in nodes
    ), "the kind node is not Ready"
    REPORTS.mkdir(parents=True, exist_ok=True)
    return config.new_client_from_config()


@pytest.fixture(scope="module")
def lab(api):
    """`make deploy`: team lab's whole lab with its own observability, installed with --wait
    --wait-for-jobs, then `helm test` (a checkout end to end from inside the cluster). `make undeploy`
    afterwards: the cohort's platform takes the same NodePorts."""
    try:
        deployed = make("deploy")
    except AssertionError as failed:
        # What the failure left behind, in the report, then the lab removed: the teams' modules
        # install the platform on the same NodePorts and must not fail for this one.
        pods = kubectl("-n", LAB, "get", "pods", "-o", "wide", check=False).stdout
        smoke = kubectl("-n", LAB, "logs", "lab-test-checkout", "--tail=40", check=False)
        events = kubectl("-n", LAB, "get", "events", "--sort-by=.lastTimestamp", check=False).stdout
        make("undeploy")
        raise AssertionError(
            f"{failed}\n--- pods\n{pods}\n--- the smoke's log\n{smoke.stdout}{smoke.stderr}"
            f"\n--- the last events\n{events[-3000:]}"
        ) from None
    assert "TEST SUITE:     lab-test-checkout" in deployed.stdout and "Phase:          Succeeded" in deployed.stdout
    yield LAB
    make("undeploy")


@pytest.fixture
def settled(api, lab):
    """Every Deployment of the lab Available again after a test that broke something."""
    yield
    poll_until(lambda: available(api, lab), "every Deployment of the lab Available again", timeout=180, interval=1)


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session, exitstatus):
    """A skipped end-to-end test fails the stage: nothing here may quietly not run."""
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None and reporter.stats.get("skipped") and session.exitstatus == pytest.ExitCode.OK:
        reporter.write_line("e2e: a test was skipped; the end-to-end stage fails", red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
