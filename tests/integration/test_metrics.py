"""Every service's /metrics is valid Prometheus exposition and carries its RED and business metrics."""

from __future__ import annotations

import subprocess

import pytest
import requests

from support import checkout, poll_until, tool

EXPECTED = {
    "service-a": [
        "http_server_requests_total",
        "http_server_request_duration_seconds_bucket",
        "outbound_requests_total",
        "orders_created_total",
        "checkouts_total",
        "orders_paid_amount_total",
        "outbox_backlog",
        "chaoslab_build_info",
    ],
    "service-b": ["rpc_server_requests_total", "inventory_reservations_total", "outbound_requests_total"],
    "service-c": ["rpc_server_requests_total", "pricing_quotes_total"],
    "payment": ["payment_processed_total", "ledger_amount_total", "ledger_entries_total", "outbound_requests_total"],
    "gateway": ["gateway_charges_total", "http_server_requests_total"],
    "worker": ["worker_jobs_processed_total", "queue_depth", "queue_pending", "worker_job_duration_seconds_count"],
}


@pytest.fixture(scope="module")
def scraped(lab):
    order = checkout(lab.url("service-a"), customer_id=10, key="metrics-1").json()
    poll_until(
        lambda: requests.get(f"{lab.url('service-a')}/orders/{order['id']}", timeout=5).json()["status"] == "fulfilled",
        "the order to be fulfilled",
    )
    return {name: requests.get(lab.url(name) + "/metrics", timeout=5).text for name in EXPECTED}


@pytest.mark.parametrize("service", sorted(EXPECTED))
def test_business_and_red_metrics_are_exposed(scraped, service):
    names = {line.split("{")[0].split(" ")[0] for line in scraped[service].splitlines() if line and line[0] != "#"}
    missing = [m for m in EXPECTED[service] if m not in names]
    assert not missing, f"{service} lacks {missing}"


def test_payment_counts_succeeded_charges_by_status(scraped):
    assert 'payment_processed_total{service="payment",team="local",status="succeeded"}' in scraped["payment"]


def test_outbound_metrics_name_the_peer(scraped):
    assert (
        'outbound_requests_total{service="service-a",team="local",operation="Reserve",outcome="ok",peer="service-b"}'
        in scraped["service-a"]
    )
    assert 'peer="postgres"' in scraped["service-a"] and 'peer="gateway"' in scraped["payment"]


@pytest.mark.parametrize("service", sorted(EXPECTED))
def test_every_sample_names_its_service_and_team(scraped, service):
    """The alert rules select by service and group by team on any scrape, not only where Kubernetes
    relabelling adds those labels."""
    samples = [line for line in scraped[service].splitlines() if line and not line.startswith("#")]
    unlabelled = [line for line in samples if f'service="{service}"' not in line or 'team="local"' not in line]
    assert samples and not unlabelled, f"{service} exposes samples without its own labels: {unlabelled[:3]}"


@pytest.mark.parametrize("service", sorted(EXPECTED))
def test_promtool_accepts_the_exposition(scraped, service):
    promtool = tool("promtool")
    if promtool is None:
        pytest.fail("promtool is not installed: `make tools` builds it (make test always does)", pytrace=False)
    result = subprocess.run([promtool, "check", "metrics"], input=scraped[service], capture_output=True, text=True)
    assert result.returncode == 0, f"{service}: {result.stdout}{result.stderr}"
