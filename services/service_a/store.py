"""service-a's reads and writes on PostgreSQL: customers, products, orders, the outbox."""

from __future__ import annotations

from collections.abc import Iterable

from psycopg.types.json import Jsonb

from chaoslab.services.common.db import Database, Tx
from chaoslab.services.common.errors import ApiError, unprocessable
from chaoslab.services.service_a.validation import CheckoutRequest
from chaoslab.telemetry.tracing import carrier_from_current

ORDER_COLUMNS = """id, customer_id, status, currency, customer_tier, subtotal, discount, tax, total,
                   reservation_id, payment_id, created_at, updated_at, fulfilled_at"""


def order_json(order: dict, items: Iterable[dict]) -> dict:
    def money(value):
        return None if value is None else str(value)

    return {
        "id": order["id"],
        "customer_id": order["customer_id"],
        "status": order["status"],
        "currency": order["currency"].strip(),
        "subtotal": money(order["subtotal"]),
        "discount": money(order["discount"]),
        "tax": money(order["tax"]),
        "total": money(order["total"]),
        "items": [
            {
                "sku": i["sku"],
                "name": i.get("name"),
                "quantity": i["quantity"],
                "unit_price": money(i["unit_price"]),
                "line_total": money(i["line_total"]),
            }
            for i in items
        ],
        "payment_id": order["payment_id"],
        "created_at": order["created_at"].isoformat(),
        "fulfilled_at": order["fulfilled_at"].isoformat() if order["fulfilled_at"] else None,
    }


class OrderStore:
    def __init__(self, db: Database):
        self.db = db

    # ---- catalogue ----------------------------------------------------------------------
    def customer(self, customer_id: int) -> dict | None:
        with self.db.transaction() as tx:
            return tx.one("SELECT id, name, email, tier FROM shop.customers WHERE id = %s", (customer_id,))

    def products(self) -> list[dict]:
        with self.db.transaction() as tx:
            return tx.all("SELECT sku, name, unit_price, currency FROM shop.products ORDER BY sku")

    def product(self, sku: str) -> dict | None:
        with self.db.transaction() as tx:
            return tx.one("SELECT sku, name, unit_price, currency FROM shop.products WHERE sku = %s", (sku,))

    # ---- checkout -----------------------------------------------------------------------
    def open_order(self, request: CheckoutRequest, key: str, lease_s: float) -> tuple[dict, bool]:
        """Insert the order and its lines, or return the one this Idempotency-Key already made.

        Returns (order, created). A new order comes with the lease to drive it (``lease_s``), so the
        request that creates an order is the one that checks it out. Raises 422 for an unknown
        customer or product, or for a key reused with a different body.
        """
        with self.db.transaction() as tx:
            customer = tx.one("SELECT id, tier FROM shop.customers WHERE id = %s", (request.customer_id,))
            if customer is None:
                raise unprocessable(
                    "unknown_customer", f"no customer {request.customer_id}; GET /customers/<id> shows who exists"
                )
            skus = [sku for sku, _ in request.items]
            prices = {
                row["sku"]: row
                for row in tx.all("SELECT sku, unit_price, currency FROM shop.products WHERE sku = ANY(%s)", (skus,))
            }
            unknown = [sku for sku in skus if sku not in prices]
            if unknown:
                raise unprocessable(
                    "unknown_product",
                    f"unknown product {', '.join(unknown)}; GET /products lists the catalogue",
                    skus=unknown,
                )
            order = tx.one(
                f"""INSERT INTO shop.orders (customer_id, idempotency_key, request_hash, customer_tier,
                                                       lease_until)
                               VALUES (%s, %s, %s, %s, now() + make_interval(secs => %s))
                               ON CONFLICT (idempotency_key) DO NOTHING RETURNING {ORDER_COLUMNS}""",
                (request.customer_id, key, request.fingerprint(), customer["tier"], lease_s),
            )
            if order is None:
                existing = tx.one(
                    f"SELECT {ORDER_COLUMNS}, request_hash FROM shop.orders WHERE idempotency_key = %s", (key,)
                )
                if existing["request_hash"] != request.fingerprint():
                    raise ApiError(
                        422,
                        "idempotency_key_reused",
                        "this Idempotency-Key was used for a different checkout; use a new key",
                    )
                return existing, False
            with tx.conn.cursor() as cur:
                cur.executemany(
                    """INSERT INTO shop.order_items (order_id, line_no, sku, quantity, unit_price)
                                   VALUES (%s, %s, %s, %s, %s)""",
                    [
                        (order["id"], n, sku, qty, prices[sku]["unit_price"])
                        for n, (sku, qty) in enumerate(request.items, start=1)
                    ],
                )
            return order, True

    def items(self, tx: Tx, order_id: int) -> list[dict]:
        return tx.all(
            """SELECT i.sku, p.name, i.quantity, i.unit_price, i.line_total
                         FROM shop.order_items i JOIN shop.products p USING (sku)
                         WHERE i.order_id = %s ORDER BY i.line_no""",
            (order_id,),
        )

    def order_items(self, order_id: int) -> list[dict]:
        with self.db.transaction() as tx:
            return self.items(tx, order_id)

    def take_lease(self, order_id: int, seconds: float) -> bool:
        """Claim the right to drive this checkout; False while another request holds it."""
        with self.db.transaction() as tx:
            return (
                tx.one(
                    """UPDATE shop.orders SET lease_until = now() + make_interval(secs => %s)
                             WHERE id = %s AND (lease_until IS NULL OR lease_until < now()) RETURNING id""",
                    (seconds, order_id),
                )
                is not None
            )

    def release_lease(self, order_id: int) -> None:
        with self.db.transaction() as tx:
            tx.execute("UPDATE shop.orders SET lease_until = NULL WHERE id = %s", (order_id,))

    def save_quote(self, order_id: int, quote, reservation_id: str) -> None:
        with self.db.transaction() as tx:
            tx.execute(
                """UPDATE shop.orders SET subtotal = %s, discount = %s, tax = %s, total = %s,
                                 customer_tier = %s, reservation_id = %s, updated_at = now()
                          WHERE id = %s""",
                (quote.subtotal, quote.discount, quote.tax, quote.total, quote.customer_tier, reservation_id, order_id),
            )
            with tx.conn.cursor() as cur:
                cur.executemany(
                    "UPDATE shop.order_items SET line_total = %s WHERE order_id = %s AND sku = %s",
                    [(line.line_total, order_id, line.sku) for line in quote.lines],
                )

    def begin_charge(self, order_id: int) -> str:
        """Record the charge attempt before payment is asked, and return its idempotency key.

        A pending order whose attempt never ended (payment timed out) keeps its key, so a retry asks
        payment about the same charge and never makes a second one; a first attempt, or one after a
        decline or a void (``payment_failed``), gets a new key. The recovery loop finds the order by
        ``charge_started_at`` if nobody finishes it.
        """
        with self.db.transaction() as tx:
            new_attempt = "(charge_key IS NULL OR status = 'payment_failed')"
            row = tx.one(
                f"""UPDATE shop.orders SET
                           charge_key = CASE WHEN {new_attempt}
                                             THEN 'order-' || id || '-' || (charge_attempts + 1) ELSE charge_key END,
                           charge_attempts = charge_attempts + CASE WHEN {new_attempt} THEN 1 ELSE 0 END,
                           status = 'pending', charge_started_at = now(), updated_at = now()
                     WHERE id = %s AND status IN ('pending', 'payment_failed') RETURNING charge_key""",
                (order_id,),
            )
            if row is None:
                raise ApiError(409, "order_settled", f"order {order_id} is already paid", order_id=order_id)
            return row["charge_key"]

    def mark_paid(self, order_id: int, payment_id: str) -> bool:
        """Paid and queued for fulfilment in one transaction (the outbox). False if already paid."""
        with self.db.transaction() as tx:
            row = tx.one(
                """UPDATE shop.orders SET status = 'paid', payment_id = %s, updated_at = now()
                            WHERE id = %s AND status IN ('pending', 'payment_failed') RETURNING id""",
                (payment_id, order_id),
            )
            if row is None:
                return False
            tx.execute(
                "INSERT INTO shop.outbox (topic, order_id, trace_context) VALUES ('order.paid', %s, %s)",
                (order_id, _json(carrier_from_current())),
            )
            return True

    def mark_payment_failed(self, order_id: int, charge_key: str | None) -> bool:
        """Failed, and not charged: only while pending under this attempt (``None``: never attempted)."""
        with self.db.transaction() as tx:
            return (
                tx.one(
                    """UPDATE shop.orders SET status = 'payment_failed', updated_at = now()
                            WHERE id = %s AND status = 'pending' AND charge_key IS NOT DISTINCT FROM %s
                            RETURNING id""",
                    (order_id, charge_key),
                )
                is not None
            )

    def stale_pending(self, older_than_s: float, limit: int) -> list[dict]:
        """Pending orders whose charge attempt (or creation, if payment was never asked) is older than
        ``older_than_s`` and that no request is driving (no live lease), oldest first."""
        with self.db.transaction() as tx:
            return tx.all(
                """SELECT id, customer_id, charge_key, total, currency FROM shop.orders
                    WHERE status = 'pending'
                      AND coalesce(charge_started_at, created_at) < now() - make_interval(secs => %s)
                      AND (lease_until IS NULL OR lease_until < now())
                    ORDER BY created_at LIMIT %s""",
                (older_than_s, limit),
            )

    def order(self, order_id: int) -> tuple[dict, list[dict]] | None:
        with self.db.transaction() as tx:
            order = tx.one(f"SELECT {ORDER_COLUMNS} FROM shop.orders WHERE id = %s", (order_id,))
            if order is None:
                return None
            return order, self.items(tx, order_id)

    # ---- listing: the batched path and the N+1 bad deploy --------------------------------
    def orders_batched(self, customer_id: int, limit: int) -> list[tuple[dict, list[dict]]]:
        with self.db.transaction() as tx:
            orders = tx.all(
                f"""SELECT {ORDER_COLUMNS} FROM shop.orders WHERE customer_id = %s
                                ORDER BY id DESC LIMIT %s""",
                (customer_id, limit),
            )
            by_order: dict[int, list[dict]] = {o["id"]: [] for o in orders}
            if orders:
                for item in tx.all(
                    """SELECT i.order_id, i.sku, p.name, i.quantity, i.unit_price, i.line_total
                                      FROM shop.order_items i JOIN shop.products p USING (sku)
                                      WHERE i.order_id = ANY(%s) ORDER BY i.order_id, i.line_no""",
                    (list(by_order),),
                ):
                    by_order[item["order_id"]].append(item)
            return [(o, by_order[o["id"]]) for o in orders]

    def orders_n_plus_one(self, customer_id: int, limit: int) -> list[tuple[dict, list[dict]]]:
        """One query for the orders, one per order for its lines, one per line for the product name."""
        with self.db.transaction() as tx:
            orders = tx.all(
                f"""SELECT {ORDER_COLUMNS} FROM shop.orders WHERE customer_id = %s
                                ORDER BY id DESC LIMIT %s""",
                (customer_id, limit),
            )
            result = []
            for order in orders:
                items = tx.all(
                    """SELECT sku, quantity, unit_price, line_total FROM shop.order_items
                                  WHERE order_id = %s ORDER BY line_no""",
                    (order["id"],),
                )
                for item in items:
                    product = tx.one("SELECT name FROM shop.products WHERE sku = %s", (item["sku"],))
                    item["name"] = product["name"] if product else None
                result.append((order, items))
            return result


def _json(value: dict):
    return Jsonb(value)
