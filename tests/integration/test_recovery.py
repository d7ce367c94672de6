"""Charged but never paid: payment's database slow enough that checkouts time out after the
gateway captured the money. Every order must end paid (charged once) or payment_failed (not charged),
a 504 must say which order it was, and the reconciliation must see the whole database.

On the shared lab, with the recovery deadline shortened by a deploy (reset after each test) so the
loop acts within the test.
"""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest
import requests

from chaoslab.chaos.reconcile import reconcile
from support import checkout, poll_until, reset_around

DEADLINE_S = 2
clean = reset_around()


def short_deadline(lab):
    lab.cli("deploy", "service-a", f"pending_deadline_s={DEADLINE_S}")


@pytest.fixture(autouse=True)
def deadline(lab, clean):
    short_deadline(lab)


def query(lab):
    def run(sql, params=()):
        with psycopg.connect(lab.database_url) as conn:
            return conn.execute(sql, params).fetchall()

    return run


def statuses(lab, order_ids) -> dict[int, str]:
    rows = query(lab)("SELECT id, status FROM shop.orders WHERE id = ANY(%s)", (list(order_ids),))
    return dict(rows)


def test_checkouts_timed_out_by_a_slow_payment_database_end_paid_or_failed_never_charged_and_pending(lab):
    started = time.time()  # float-money charges other tests' drills left on the shared lab are explained
    # payment's two statements take 1.6 s, service-a waits 1 s: the charge lands after the 504
    lab.cli("deploy", "service-a", "payment_timeout_s=1")
    lab.cli("fault", "add", "db_slow", "ms=800", "--service", "payment", "--ttl", "120")
    keys = [f"slow-db-{n}" for n in range(6)]
    with ThreadPoolExecutor(len(keys)) as pool:
        responses = list(pool.map(lambda key: checkout(lab.url("service-a"), customer_id=3, key=key), keys))
    failed = [r for r in responses if r.status_code >= 500]
    assert failed, [r.status_code for r in responses]  # the fault must bite, or this test proves nothing
    for response in failed:
        assert response.status_code in (503, 504) and isinstance(response.json().get("order_id"), int), response.text
    lab.cli("reset")
    short_deadline(lab)
    order_ids = {r.json().get("id") or r.json()["order_id"] for r in responses}

    def settled():
        found = statuses(lab, order_ids)
        return found if "pending" not in found.values() else None

    poll_until(settled, "the recovery loop to resolve every pending order", timeout=60)
    seen = []

    def balanced():  # the whole database: the synthetic prober's checkouts hit the slow database too
        seen.append(reconcile(query(lab), since=started, pending_deadline_s=DEADLINE_S))
        return seen[-1] if seen[-1].mischarged.count == 0 else None

    try:
        poll_until(balanced, "no order anywhere left pending with its charge", timeout=60, interval=1)
    except AssertionError:
        raise AssertionError(seen[-1].summary()) from None
    charged = {
        row[0] for row in query(lab)("SELECT order_id FROM ledger.entries WHERE order_id = ANY(%s)", (list(order_ids),))
    }
    for order_id, status in statuses(lab, order_ids).items():
        assert (status in ("paid", "fulfilled")) == (order_id in charged), (order_id, status)
    timed_out = {r.json()["order_id"] for r in failed}
    assert any(statuses(lab, timed_out)[i] in ("paid", "fulfilled") for i in timed_out), (
        "no order was charged after its 504: the test did not reproduce the issue"
    )
    recovered = requests.get(lab.url("service-a") + "/metrics", timeout=5).text
    assert any(
        line.startswith("orders_recovered_total{") and 'outcome="paid"' in line for line in recovered.splitlines()
    )


def test_a_retry_that_performs_the_first_charge_is_not_a_replay(lab):
    lab.cli("fault", "add", "error", "status=503", "--service", "service-a", "--peer", "payment", "--ttl", "60")
    first = checkout(lab.url("service-a"), customer_id=4, key="first-charge-on-retry")
    assert first.status_code == 503 and first.json()["order_id"], first.text
    lab.cli("reset")
    retry = checkout(lab.url("service-a"), customer_id=4, key="first-charge-on-retry")
    assert retry.status_code == 201, retry.text
    assert "Idempotent-Replayed" not in retry.headers, "the retry that charged is not a replay"
    again = checkout(lab.url("service-a"), customer_id=4, key="first-charge-on-retry")
    assert again.status_code == 200 and again.headers["Idempotent-Replayed"] == "true"
    assert again.json()["id"] == retry.json()["id"] == first.json()["order_id"]


def test_a_timeout_carries_the_order_id(lab):
    lab.cli("deploy", "service-a", "payment_timeout_s=0.5")
    lab.cli("fault", "add", "partition", "--service", "service-a", "--peer", "payment", "--ttl", "60")
    response = checkout(lab.url("service-a"), customer_id=5, key="timeout-carries-id")
    assert response.status_code == 504, response.text
    order_id = response.json()["order_id"]
    assert requests.get(f"{lab.url('service-a')}/orders/{order_id}", timeout=5).status_code == 200


def test_an_order_that_never_reached_payment_becomes_payment_failed(lab):
    lab.cli("fault", "add", "error", "grpc_code=UNAVAILABLE", "--service", "service-a", "--peer", "service-b")
    response = checkout(lab.url("service-a"), customer_id=6, key="never-reached-payment")
    assert response.status_code == 503 and response.json()["order_id"], response.text
    order_id = response.json()["order_id"]
    assert statuses(lab, [order_id]) == {order_id: "pending"}
    poll_until(lambda: statuses(lab, [order_id]) == {order_id: "payment_failed"}, "the recovery loop to fail it")
    lab.cli("reset")
    retried = checkout(lab.url("service-a"), customer_id=6, key="never-reached-payment")
    assert retried.status_code == 201 and retried.json()["status"] == "paid"  # a retry may still buy it


def test_chaoslab_reconcile_reports_the_whole_database(lab):
    poll_until(lambda: lab.cli("reconcile", check=False).returncode == 0, "the books to balance once settled")
    with psycopg.connect(lab.database_url) as conn:
        conn.execute(
            """INSERT INTO ledger.entries (order_id, gateway_charge_id, amount, requested_amount, currency,
                                           money_math, created_at)
                    VALUES (777777, 'ch_orphan', 5.00, 5.00, 'USD', 'decimal', now() - interval '1 day')"""
        )
    try:
        result = lab.cli("reconcile", check=False)
        report = json.loads(lab.cli("reconcile", "--json", check=False).stdout)
    finally:
        with psycopg.connect(lab.database_url) as conn:
            conn.execute("DELETE FROM ledger.entries WHERE order_id = 777777")
    assert result.returncode == 1 and "charge_without_order: 1 (orders 777777)" in result.stdout
    assert report["findings"]["charge_without_order"]["order_ids"] == [777777] and not report["ok"]
