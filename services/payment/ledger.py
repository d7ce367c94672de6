"""payment's reads and writes on PostgreSQL: the ledger's entries and the charge keys voided for good.

The schema keeps the promises: one entry per order ever (``order_id`` is unique) and one per key.
"""

from __future__ import annotations

from decimal import Decimal

from chaoslab.services.common.db import Database
from chaoslab.services.payment.validation import ChargeRequest


def entry_json(row: dict) -> dict:
    return {
        "payment_id": f"pay_{row['id']}",
        "order_id": row["order_id"],
        "status": "succeeded",
        "amount": str(row["amount"]),
        "requested_amount": str(row["requested_amount"]),
        "currency": row["currency"].strip(),
        "gateway_charge_id": row["gateway_charge_id"],
        "idempotency_key": row["charge_key"],
        "created_at": row["created_at"].isoformat(),
    }


class Ledger:
    def __init__(self, db: Database):
        self.db = db

    def find(self, order_id: int) -> dict | None:
        with self.db.transaction() as tx:
            return tx.one("SELECT * FROM ledger.entries WHERE order_id = %s", (order_id,))

    def lookup(self, charge: ChargeRequest) -> tuple[dict | None, bool]:
        """(the order's ledger entry, whether the attempt's key was voided), in one statement: the
        charge path's only read before the gateway (db_slow adds its delay per statement)."""
        with self.db.transaction() as tx:
            row = tx.one(
                """SELECT e.*, EXISTS (SELECT 1 FROM ledger.voids WHERE charge_key = %s) AS voided
                     FROM (SELECT 1) AS one LEFT JOIN ledger.entries e ON e.order_id = %s""",
                (charge.key, charge.order_id),
            )
        return (row if row["id"] is not None else None), row["voided"]

    def void(self, key: str, order_id: int) -> None:
        with self.db.transaction() as tx:
            tx.execute(
                "INSERT INTO ledger.voids (charge_key, order_id) VALUES (%s, %s) ON CONFLICT DO NOTHING",
                (key, order_id),
            )

    def record(self, charge: ChargeRequest, charge_id: str, captured: Decimal, math: str) -> tuple[dict, bool]:
        """Write the entry; returns (entry, created). A concurrent duplicate loses the race and reads the winner."""
        with self.db.transaction() as tx:
            row = tx.one(
                """INSERT INTO ledger.entries (order_id, charge_key, gateway_charge_id, amount, requested_amount,
                                               currency, money_math)
                            VALUES (%s, %s, %s, %s, %s, %s, %s)
                            ON CONFLICT DO NOTHING RETURNING *""",
                (charge.order_id, charge.key, charge_id, captured, charge.amount, charge.currency, math),
            )
            if row is not None:
                return row, True
            return tx.one("SELECT * FROM ledger.entries WHERE order_id = %s", (charge.order_id,)), False
