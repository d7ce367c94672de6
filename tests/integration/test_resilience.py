"""The lab under real failures: a worker killed mid-job, Redis stopped, PostgreSQL stopped.

These break their own lab (a slow worker job so a kill lands mid-job), and run last.
"""

from __future__ import annotations

import os
import signal

import psycopg
import pytest
import redis
import requests

from chaoslab.chaos.checks import sum_samples
from support import checkout, poll_until, start_lab, stop_lab

pytestmark = pytest.mark.disruptive


@pytest.fixture(scope="module")
def fragile_lab(tmp_path_factory):
    lab = start_lab(tmp_path_factory.mktemp("fragile-lab"), WORKER_JOB_DURATION_MS="1500")
    yield lab
    stop_lab(lab)


def status_of(lab, order_id):
    with psycopg.connect(lab.database_url) as conn:
        return conn.execute("SELECT status FROM shop.orders WHERE id = %s", (order_id,)).fetchone()[0]


def fulfilments(lab, order_id):
    with psycopg.connect(lab.database_url) as conn:
        return conn.execute("SELECT count(*) FROM shop.fulfilments WHERE order_id = %s", (order_id,)).fetchone()[0]


def test_a_worker_killed_mid_job_loses_nothing_and_fulfils_once(fragile_lab):
    lab = fragile_lab
    # A fresh lab on a busy host can answer the first checkout 503/504 while its charge goes through: a
    # client retries with the same key, as the error says (a retry never charges twice).
    order = poll_until(
        lambda: (r := checkout(lab.url("service-a"), customer_id=11, key="kill-1")).ok and r.json(),
        "the checkout to answer with its order (retried with its Idempotency-Key)",
        timeout=60,
        interval=1,
    )
    queue = redis.Redis.from_url(lab.redis_url)
    poll_until(
        lambda: queue.xpending("orders.paid", "fulfilment")["pending"] == 1,
        "the worker to take the job (one entry pending)",
    )
    assert status_of(lab, order["id"]) == "paid"
    victim = lab.process("worker")
    os.kill(victim["pid"], signal.SIGKILL)

    poll_until(lambda: lab.process("worker")["restarts"] >= 1, "the lab to restart the killed worker")
    poll_until(lambda: status_of(lab, order["id"]) == "fulfilled", "the restarted worker to finish the job", timeout=30)
    assert fulfilments(lab, order["id"]) == 1
    poll_until(lambda: queue.xpending("orders.paid", "fulfilment")["pending"] == 0, "the entry to be acknowledged")
    assert "exited with signal SIGKILL" in lab.cli("logs", "labd").stdout


def test_checkouts_survive_a_redis_outage_and_are_fulfilled_after_it(fragile_lab):
    lab = fragile_lab
    lab.cli("stop", "redis")
    try:
        orders = []
        for n in range(3):
            response = checkout(lab.url("service-a"), customer_id=12, key=f"redis-down-{n}")
            assert response.status_code == 201, response.text
            orders.append(response.json()["id"])
        with psycopg.connect(lab.database_url) as conn:
            waiting = conn.execute(
                "SELECT count(*) FROM shop.outbox WHERE published_at IS NULL AND order_id = ANY(%s)", (orders,)
            ).fetchone()[0]
        assert waiting == 3, "the events should wait in the outbox while Redis is down"
        ready = requests.get(lab.url("service-a") + "/health/ready", timeout=5)
        assert ready.status_code == 200 and ready.json()["checks"]["redis"]["status"] == "degraded"
        assert requests.get(lab.url("worker") + "/health/ready", timeout=5).status_code == 503
        poll_until(  # at least: the synthetic prober checks out every few seconds, and its orders wait too
            lambda: (
                sum_samples(requests.get(lab.url("service-a") + "/metrics", timeout=5).text, "outbox_backlog", {})
                >= 3.0
            ),
            "outbox_backlog to report the three waiting events",
        )
    finally:
        lab.cli("start", "redis")
    for order_id in orders:
        poll_until(
            lambda order_id=order_id: status_of(lab, order_id) == "fulfilled",
            f"order {order_id} to be fulfilled after Redis returns",
            timeout=40,
        )
        assert fulfilments(lab, order_id) == 1


def test_readiness_follows_postgres_and_nothing_is_a_500(fragile_lab):
    lab = fragile_lab
    lab.cli("stop", "postgres")
    try:
        for name in ("service-a", "payment", "worker"):
            poll_until(
                lambda name=name: requests.get(lab.url(name) + "/health/ready", timeout=5).status_code == 503,
                f"{name} to report unready without PostgreSQL",
            )
        assert requests.get(lab.url("service-a") + "/health/live", timeout=5).status_code == 200
        response = checkout(lab.url("service-a"), customer_id=13, key="pg-down-1")
        assert response.status_code == 503
        assert response.json()["error"] == "dependency_unavailable" and "PostgreSQL" in response.json()["message"]
    finally:
        lab.cli("start", "postgres")
    for name in ("service-a", "payment", "worker"):
        poll_until(
            lambda name=name: requests.get(lab.url(name) + "/health/ready", timeout=5).status_code == 200,
            f"{name} to be ready again once PostgreSQL is back",
            timeout=40,
        )
    retried = checkout(lab.url("service-a"), customer_id=13, key="pg-down-1")
    assert retried.status_code == 201, retried.text
