"""Reconciliation over the whole database (chaos/reconcile.py), against a real PostgreSQL: one
database of its own per test, so every finding is the one the test planted."""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from chaoslab.chaos.reconcile import MONEY_FINDINGS, reconcile
from chaoslab.services.common.migrations import apply, ensure_database, migrations


@pytest.fixture
def books_db(postgres_url):
    url = psycopg.conninfo.make_conninfo(postgres_url, dbname=f"books_{uuid.uuid4().hex[:10]}")
    ensure_database(url)
    apply(url)
    yield url
    with psycopg.connect(psycopg.conninfo.make_conninfo(postgres_url, dbname="postgres"), autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {psycopg.conninfo.conninfo_to_dict(url)['dbname']} WITH (FORCE)")


def querying(url):
    def query(sql, params=()):
        with psycopg.connect(url) as conn:
            return conn.execute(sql, params).fetchall()

    return query


def order(conn, status, total="10.00", age="1 day", charge_started=None):
    return conn.execute(
        """INSERT INTO shop.orders (customer_id, idempotency_key, request_hash, status, total, subtotal,
                                    created_at, updated_at, charge_started_at)
                VALUES (1, %s, 'x', %s, %s, %s, now() - %s::interval, now() - %s::interval, %s)
             RETURNING id""",
        (f"k-{uuid.uuid4()}", status, total, total, age, age, charge_started),
    ).fetchone()[0]


def charge(conn, order_id, amount="10.00", requested="10.00", math="decimal", age="1 day"):
    conn.execute(
        """INSERT INTO ledger.entries (order_id, charge_key, gateway_charge_id, amount, requested_amount, currency,
                                       money_math, created_at)
                VALUES (%s, %s, 'ch_x', %s, %s, 'USD', %s, now() - %s::interval)""",
        (order_id, f"order-{order_id}-{uuid.uuid4().hex[:6]}", amount, requested, math, age),
    )


def fulfilled(conn, order_id):
    conn.execute("INSERT INTO shop.outbox (topic, order_id) VALUES ('order.paid', %s)", (order_id,))
    conn.execute("INSERT INTO shop.fulfilments (order_id, worker) VALUES (%s, 'w')", (order_id,))


def test_balanced_books_have_no_findings(books_db):
    with psycopg.connect(books_db) as conn:
        good = order(conn, "fulfilled")
        charge(conn, good)
        fulfilled(conn, good)
        order(conn, "payment_failed")
    books = reconcile(querying(books_db))
    assert books.ok and books.summary() == "books balance"
    assert (books.orders, books.charges, str(books.charged)) == (2, 1, "10.00")


def test_every_kind_of_wrong_money_is_found_however_old(books_db):
    with psycopg.connect(books_db) as conn:
        pending = order(conn, "pending", charge_started="-infinity")
        charge(conn, pending)
        failed = order(conn, "payment_failed")
        charge(conn, failed)
        free = order(conn, "fulfilled")
        fulfilled(conn, free)
        conn.execute("ALTER TABLE ledger.entries DROP CONSTRAINT entries_order_id_key")  # what the schema prevents
        charge(conn, 424242)
        wrong = order(conn, "fulfilled")
        charge(conn, wrong, amount="20.00")
        fulfilled(conn, wrong)
        twice = order(conn, "fulfilled")
        charge(conn, twice)
        charge(conn, twice)
        fulfilled(conn, twice)
        stuck = order(conn, "paid")
        charge(conn, stuck)
    books = reconcile(querying(books_db))
    found = {kind: books.findings[kind].order_ids for kind in books.findings}
    assert found == {
        "pending_with_charge": [pending],
        "failed_with_charge": [failed],
        "paid_without_charge": [free],
        "charge_without_order": [424242],
        "amount_mismatch": [wrong],
        "doubled": [twice],
        "unfulfilled": [stuck],
        "unresolved": [pending],
    }
    assert set(MONEY_FINDINGS) < set(found)
    assert books.mischarged.count == 6 and str(books.ledger_drift) == "10.00"
    assert not books.ok and "pending_with_charge: 1 (orders " in books.summary()


def test_drift_the_float_money_drill_made_before_the_window_is_explained_not_counted(books_db):
    with psycopg.connect(books_db) as conn:
        old = order(conn, "fulfilled", total="0.29")
        charge(conn, old, amount="0.28", requested="0.29", math="float", age="1 hour")
        fulfilled(conn, old)
    since = time.time() - 60
    books = reconcile(querying(books_db), since=since)
    assert books.ok and str(books.explained_drift) == "0.01" and books.ledger_drift == 0
    with psycopg.connect(books_db) as conn:
        new = order(conn, "fulfilled", total="0.29", age="1 second")
        charge(conn, new, amount="0.28", requested="0.29", math="float", age="1 second")
        fulfilled(conn, new)
    books = reconcile(querying(books_db), since=since)
    assert str(books.ledger_drift) == "0.01" and books.findings["amount_mismatch"].order_ids == [new]


def test_a_young_pending_order_is_in_flight_not_lost(books_db):
    with psycopg.connect(books_db) as conn:
        young = order(conn, "pending", age="1 second", charge_started="now")
        charge(conn, young, age="0 seconds")
    books = reconcile(querying(books_db), settle_s=30, pending_deadline_s=30)
    assert books.ok, books.summary()


def ago(seconds: float) -> datetime:
    return datetime.now(UTC) - timedelta(seconds=seconds)


def test_a_pending_order_charged_inside_its_recovery_window_is_in_flight_not_mischarged(books_db):
    """A charge whose answer never came back (payment's database slow): the order stays pending with its
    charge captured until service-a's recovery resolves it, which may take it the whole deadline."""
    with psycopg.connect(books_db) as conn:
        waiting = order(conn, "pending", age="20 seconds", charge_started=ago(20))
        charge(conn, waiting, age="10 seconds")
        overdue = order(conn, "pending", age="2 minutes", charge_started=ago(120))
        charge(conn, overdue, age="2 minutes")
    books = reconcile(querying(books_db), settle_s=5, pending_deadline_s=30)
    assert books.in_flight.order_ids == [waiting]
    assert books.findings["pending_with_charge"].order_ids == [overdue] == books.findings["unresolved"].order_ids
    assert books.mischarged.order_ids == [overdue]
    assert books.in_flight_note().startswith("in flight: 1 pending order(s) inside service-a's 30 s recovery window")
    assert books.to_json()["in_flight"] == {"count": 1, "order_ids": [waiting]}


def test_reconcile_lists_the_orders_in_flight_apart_from_the_mischarged(lab):
    with psycopg.connect(lab.database_url) as conn:
        waiting = order(conn, "pending", age="0 seconds", charge_started=ago(0))
        charge(conn, waiting, age="0 seconds")
    try:
        books = json.loads(lab.cli("reconcile", "--json", "--settle", "0", check=False).stdout)
        text = lab.cli("reconcile", "--settle", "0", check=False).stdout
    finally:
        with psycopg.connect(lab.database_url) as conn:
            conn.execute("DELETE FROM ledger.entries WHERE order_id = %s", (waiting,))
            conn.execute("DELETE FROM shop.orders WHERE id = %s", (waiting,))
    assert waiting in books["in_flight"]["order_ids"], books
    assert all(waiting not in finding["order_ids"] for finding in books["findings"].values()), books
    line = next(line for line in text.splitlines() if line.startswith("in flight: "))
    assert "recovery window, not counted" in line and str(waiting) in line, text


def test_every_migration_can_run_twice(books_db):
    with psycopg.connect(books_db, autocommit=True) as conn:
        for _, _, sql in migrations():
            conn.execute(sql)
