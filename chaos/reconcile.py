"""Reconciliation: every order in the shop against payment's ledger, over the whole database.

What a payments team runs every night, and what ``chaoslab verify``, ``chaoslab reconcile``, the
soak and the tests run after load: not "were this run's orders fine" but "is any money wrong
anywhere". It only reads (a probe), through any ``query(sql, params)`` (``chaos.checks.Probe``).

Money findings, each a list of order ids:

* ``pending_with_charge``: the order is ``pending`` but its charge was captured (money taken, not paid);
* ``failed_with_charge``: the order is ``payment_failed`` but its charge was captured;
* ``paid_without_charge``: ``paid`` or ``fulfilled`` with no ledger entry (goods given away);
* ``charge_without_order``: a ledger entry for an order that does not exist;
* ``amount_mismatch``: the charge asked for, or captured, a different amount than the order's total;
* ``doubled``: charged more than once, or queued for fulfilment more than once.

Beside them: ``unfulfilled`` (paid, never fulfilled), ``unresolved`` (pending past service-a's recovery
deadline: lost in between) and ``ledger_drift``, captured money that differs from the money requested.

An order still ``pending`` whose charge attempt is younger than the recovery deadline is none of these:
it is ``in_flight``, the state a checkout whose answer never came is in until service-a's recovery
resolves it (paid, with the charge the gateway captured, or voided), and is reported apart, uncounted.
A pending order with a captured charge is ``pending_with_charge`` only once its recovery is overdue.
Charges the float-money bad deploy (the fp-drift and silent-corruption drills) made before ``since``
are that drill's known damage, marked ``money_math = 'float'`` in the ledger: they are reported
(``explained_drift``) but not counted as drift, or a lab could never pass again after the drill.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

from chaoslab.settings import ServiceA, load

Query = Callable[..., list[tuple]]

MONEY_FINDINGS: dict[str, str] = {
    "pending_with_charge": "pending although its charge was captured",
    "failed_with_charge": "payment_failed although its charge was captured",
    "paid_without_charge": "paid or fulfilled without a charge",
    "charge_without_order": "a charge whose order does not exist",
    "amount_mismatch": "charged a different amount than its total",
    "doubled": "charged or queued for fulfilment more than once",
}
SHOWN_IDS = 20
"""Order ids kept per finding (the counts are exact)."""

SETTLE_S = 5.0
"""How young an order may be and still be in flight between its charge and its ``paid`` (or its
fulfilment): spared by a reconciliation of a lab that keeps taking orders (the synthetic prober does)."""
_AGED = "now() - make_interval(secs => %(settle)s)"
_RECOVERY_OVER = (
    "coalesce(o.charge_started_at, o.created_at) < now() - make_interval(secs => %(deadline)s + %(settle)s)"
)
"""A pending order's charge attempt is older than service-a's recovery deadline (plus the settling time):
recovery should have resolved it. Pending orders younger than that are in flight."""
_EXPLAINED = "(e.money_math = 'float' AND e.created_at < to_timestamp(%(since)s))"
"""A charge the float-money drill made before ``since``: its drift is that drill's known damage."""
_FINDING_SQL: dict[str, str] = {
    "pending_with_charge": f"""
        SELECT o.id FROM shop.orders o JOIN ledger.entries e ON e.order_id = o.id
         WHERE o.status = 'pending' AND {_RECOVERY_OVER}""",
    "failed_with_charge": """
        SELECT o.id FROM shop.orders o JOIN ledger.entries e ON e.order_id = o.id
         WHERE o.status = 'payment_failed'""",
    "paid_without_charge": """
        SELECT o.id FROM shop.orders o LEFT JOIN ledger.entries e ON e.order_id = o.id
         WHERE o.status IN ('paid', 'fulfilled') AND e.order_id IS NULL""",
    "charge_without_order": """
        SELECT e.order_id FROM ledger.entries e LEFT JOIN shop.orders o ON o.id = e.order_id
         WHERE o.id IS NULL""",
    "amount_mismatch": f"""
        SELECT o.id FROM shop.orders o JOIN ledger.entries e ON e.order_id = o.id
         WHERE o.total IS DISTINCT FROM e.requested_amount
            OR (o.total IS DISTINCT FROM e.amount AND NOT {_EXPLAINED})""",
    "doubled": """
        SELECT order_id FROM ledger.entries GROUP BY order_id HAVING count(*) > 1
        UNION SELECT order_id FROM shop.outbox WHERE topic = 'order.paid' GROUP BY order_id HAVING count(*) > 1""",
    "unfulfilled": f"""
        SELECT id FROM shop.orders WHERE status = 'paid' AND updated_at < {_AGED}""",
    "unresolved": f"""
        SELECT o.id FROM shop.orders o WHERE o.status = 'pending' AND {_RECOVERY_OVER}""",
}
_IN_FLIGHT_SQL = f"""
        SELECT o.id FROM shop.orders o WHERE o.status = 'pending' AND NOT ({_RECOVERY_OVER})"""


@dataclass
class Discrepancy:
    count: int
    order_ids: list[int] = field(default_factory=list)

    def note(self) -> str:
        more = f" and {self.count - len(self.order_ids)} more" if self.count > len(self.order_ids) else ""
        return f"orders {', '.join(map(str, self.order_ids))}{more}" if self.count else ""


@dataclass
class Reconciliation:
    orders: int
    charges: int
    charged: Decimal
    findings: dict[str, Discrepancy]
    mischarged: Discrepancy
    """Every order (or orphan charge's order id) with any money finding, counted once."""
    ledger_drift: Decimal
    explained_drift: Decimal
    checked_at: float
    in_flight: Discrepancy = field(default_factory=lambda: Discrepancy(0))
    """Pending orders still inside service-a's recovery window: not wrong yet, so not a finding."""
    recovery_deadline_s: float = 0.0
    """The recovery deadline the window was judged with."""

    @property
    def ok(self) -> bool:
        return not any(f.count for f in self.findings.values()) and self.ledger_drift == 0

    def summary(self) -> str:
        """One line per finding that is not zero; ``books balance`` when none is."""
        wrong = [
            f"{kind}: {finding.count} ({finding.note()})" for kind, finding in self.findings.items() if finding.count
        ]
        if self.ledger_drift:
            wrong.append(f"ledger_drift: {self.ledger_drift}")
        return "\n".join(wrong) or "books balance"

    def in_flight_note(self) -> str:
        """One line on the pending orders recovery has not had its time for yet; empty when none."""
        if not self.in_flight.count:
            return ""
        return (
            f"in flight: {self.in_flight.count} pending order(s) inside service-a's {self.recovery_deadline_s:g} s "
            f"recovery window, not counted ({self.in_flight.note()})"
        )

    def to_json(self) -> dict:
        return {
            "orders": self.orders,
            "charges": self.charges,
            "charged": str(self.charged),
            "ok": self.ok,
            "mischarged_orders": self.mischarged.count,
            "findings": {kind: {"count": f.count, "order_ids": f.order_ids} for kind, f in self.findings.items()},
            "ledger_drift": str(self.ledger_drift),
            "explained_drift": str(self.explained_drift),
            "in_flight": {"count": self.in_flight.count, "order_ids": self.in_flight.order_ids},
            "recovery_deadline_s": self.recovery_deadline_s,
            "checked_at": self.checked_at,
        }


def recovery_deadline_s() -> float:
    """service-a's recovery deadline (SERVICE_A_PENDING_DEADLINE_S) as this process's environment sets
    it: the lab runs with the environment of the ``chaoslab up`` that started it."""
    return load(ServiceA).pending_deadline_s


def reconcile(
    query: Query, *, since: float = 0.0, settle_s: float = 0.0, pending_deadline_s: float | None = None
) -> Reconciliation:
    """Reconcile the whole database; ``since`` (epoch seconds) separates the float-money drift a drill
    already explained from drift made since; ``settle_s`` spares orders younger than that (a checkout
    in flight between its charge and its ``paid``); ``pending_deadline_s`` is service-a's recovery
    deadline (default: ``recovery_deadline_s()``), past which a pending order is unresolved (before it, in flight)."""
    deadline = recovery_deadline_s() if pending_deadline_s is None else pending_deadline_s
    params = {"settle": settle_s, "deadline": deadline, "since": since}
    findings: dict[str, Discrepancy] = {}
    mischarged: set[int] = set()
    for kind, sql in _FINDING_SQL.items():
        ids = sorted(row[0] for row in query(sql, params if "%(" in sql else ()))
        findings[kind] = Discrepancy(len(ids), ids[:SHOWN_IDS])
        if kind in MONEY_FINDINGS:
            mischarged.update(ids)
    in_flight = sorted(row[0] for row in query(_IN_FLIGHT_SQL, params))
    orders = query("SELECT count(*) FROM shop.orders")[0][0]
    charges, charged, drift, explained = query(
        f"""SELECT count(*), coalesce(sum(amount), 0),
                   coalesce(sum(abs(requested_amount - amount)) FILTER (WHERE NOT {_EXPLAINED}), 0),
                   coalesce(sum(abs(requested_amount - amount)) FILTER (WHERE {_EXPLAINED}), 0)
              FROM ledger.entries e""",
        params,
    )[0]
    return Reconciliation(
        orders=orders,
        charges=charges,
        charged=Decimal(charged),
        findings=findings,
        mischarged=Discrepancy(len(mischarged), sorted(mischarged)[:SHOWN_IDS]),
        ledger_drift=Decimal(drift),
        explained_drift=Decimal(explained),
        checked_at=time.time(),
        in_flight=Discrepancy(len(in_flight), in_flight[:SHOWN_IDS]),
        recovery_deadline_s=deadline,
    )


def float_drill_ended_at(audit_entries: list[dict]) -> float:
    """When the float-money damage last stopped being made (epoch seconds, 0 if never): the latest
    reset, end of a bad deploy, or deploy of payment. Float charges from before it are a finished
    drill's known damage (``since``); a float deploy still running keeps counting, so a trainee in
    the fp-drift drill still sees the drift."""
    ended = [
        entry["ts"]
        for entry in audit_entries
        if entry.get("event") == "lab.reset"
        or (entry.get("event") == "fault.reverted" and entry.get("kind") == "bad_deploy")
        or (entry.get("event") == "deploy" and entry.get("service") == "payment")
    ]
    return max(ended, default=0.0)
