"""The shop's public status page, from the team's incident record, in Atlassian Statuspage's model.

Components are what a customer does (check out, look up an order, pay, get the order shipped), each
operational, degraded performance, partial outage or major outage by the alerts firing on an open
incident whose owner team runs it. Incidents show their public state (investigating, identified,
monitoring, resolved: ``chaoslab.incident.comms.public_state``, the same rule the external templates
use) and the team's external updates (``incident update status --audience external``), newest first.
Nothing else from the record is public: no alert names, no owners, no internal notes, no scenario.
The console serves it without a token (``/console/status``, and ``/console/status.json`` as a feed a
subscriber can poll).
"""

from __future__ import annotations

import time

from chaoslab.chaos.journal import Store
from chaoslab.errors import BadInput
from chaoslab.incident import severity as tiers
from chaoslab.incident.comms import public_state
from chaoslab.incident.record import Incident, IncidentLog

COMPONENTS: tuple[tuple[str, str, frozenset[str]], ...] = (
    ("Checkout", "placing an order", frozenset({"orders", "inventory", "pricing", "platform"})),
    ("Order history", "looking up your orders", frozenset({"orders", "platform"})),
    ("Payments", "charging your card", frozenset({"payments", "platform"})),
    ("Fulfilment", "shipping paid orders", frozenset({"fulfilment", "platform"})),
)
"""(name, what the customer does, the owner teams whose alerts say it is hurt): the shared datastores
(platform) and the prober's journeys (orders, the front door) reach every component they serve."""
LEVELS = ("operational", "degraded performance", "partial outage", "major outage")
BY_TIER = {"P1": "major outage", "P2": "partial outage", "P3": "degraded performance"}
"""A firing alert's tier as the status of the components its owner runs."""
SHOWN_S = 24 * 3600
"""Resolved incidents stay on the page this long."""


def _components(open_incidents: list[Incident]) -> list[dict]:
    found = []
    for name, what, owners in COMPONENTS:
        level = "operational"
        for incident in open_incidents:
            for alert in incident.firing.values():
                said = BY_TIER.get(_tier(alert)) if alert.get("owner") in owners else None
                if said and LEVELS.index(said) > LEVELS.index(level):
                    level = said
        found.append({"name": name, "description": what, "status": level})
    return found


def _tier(alert: dict) -> str:
    try:
        return tiers.normalise(str(alert.get("severity", "P4")))
    except BadInput:
        return "P4"


def _public(incident: Incident) -> dict:
    updates = [
        {"at": e["ts"], "text": e["text"]}
        for e in incident.of_kind("status_update")
        if (e.get("data") or {}).get("audience") == "external"
    ]
    return {
        "id": incident.id,
        "title": incident.title,
        "state": public_state(incident),
        "started_at": incident.declared_at,
        "resolved_at": incident.resolved_at,
        "updates": sorted(updates, key=lambda u: u["at"], reverse=True),
    }


def build(store: Store, now: float | None = None) -> dict:
    """The page's document: the components, the open incidents and the ones resolved in the last day
    (false positives and duplicates are not the customers' business)."""
    now = time.time() if now is None else now
    incidents = [i for i in IncidentLog(store).all() if i.disposition is None]
    open_ones = [i for i in incidents if i.open]
    shown = open_ones + [i for i in incidents if not i.open and (i.resolved_at or 0) >= now - SHOWN_S]
    components = _components(open_ones)
    worst = max((LEVELS.index(c["status"]) for c in components), default=0)
    return {
        "generated_at": now,
        "status": LEVELS[worst] if worst else ("investigating reports" if open_ones else "all systems operational"),
        "components": components,
        "incidents": [_public(i) for i in sorted(shown, key=lambda i: i.declared_at, reverse=True)],
    }
