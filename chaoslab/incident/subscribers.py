"""The status page's subscribers: every change a customer would see on the public page, posted to
``CHAOSLAB_PAGE_STATUS_WEBHOOK`` in Atlassian Statuspage's webhook body, so whatever takes
Statuspage's notifications (a chat relay, a customer's status aggregator) takes the lab's.

A change is an incident that appears, moves to another public state (investigating, identified,
monitoring, resolved) or gets a new external update, and a component whose status changes. Each is one
body: ``{"meta", "page", "incident"}`` or ``{"meta", "page", "component_update", "component"}``. Only
what the page shows is sent (chaoslab.incident.statuspage.build): no alert names, owners or notes.
Like the page webhook, delivery runs on a thread of its own with retries (chaoslab.incident.webhook).
"""

from __future__ import annotations

from chaoslab.chaos.journal import Store
from chaoslab.incident.statuspage import LEVELS, build
from chaoslab.timefmt import utc

STATUS = {level: level.replace(" ", "_") for level in LEVELS}
"""The page's component levels as Statuspage spells them (``partial_outage``)."""
INDICATOR = {
    "operational": "none",
    "degraded performance": "minor",
    "partial outage": "major",
    "major outage": "critical",
}
"""The page's worst component level as Statuspage's page-wide indicator."""
DOCUMENTATION = "README.md"
"""Where a subscriber reads what the lab sends (a path in the repository, as the runbooks' links are)."""


def _when(ts: float | None) -> str | None:
    return None if ts is None else utc(ts)


class Subscription:
    """What the page looked like at the last ``changes`` (at first: when it was made, so what was already
    on the page is not news)."""

    def __init__(self, store: Store, team: str):
        self.store = store
        self.team = team
        self.incidents: dict[str, tuple[str, int]] = {}
        self.components: dict[str, str] = {}
        self.changes()

    def changes(self, now: float | None = None) -> list[dict]:
        """The bodies to send for what changed on the page since the last look, oldest incident first."""
        page = build(self.store, now)
        head = {
            "meta": {"unsubscribe": "", "documentation": DOCUMENTATION},
            "page": {
                "id": self.team,
                "status_indicator": INDICATOR.get(page["status"], "minor"),
                "status_description": page["status"],
            },
        }
        bodies = []
        for incident in reversed(page["incidents"]):
            seen = (incident["state"], len(incident["updates"]))
            if self.incidents.get(incident["id"]) != seen:
                self.incidents[incident["id"]] = seen
                bodies.append(head | {"incident": _incident(incident)})
        for component in page["components"]:
            old = self.components.get(component["name"])
            self.components[component["name"]] = component["status"]
            if old is not None and old != component["status"]:
                bodies.append(head | _component(component, old, page["generated_at"]))
        return bodies


def _incident(incident: dict) -> dict:
    updates = incident["updates"]  # newest first, as the page lists them and Statuspage sends them
    return {
        "id": incident["id"],
        "name": incident["title"],
        "status": incident["state"],
        "created_at": _when(incident["started_at"]),
        "updated_at": _when(updates[0]["at"] if updates else incident["started_at"]),
        "resolved_at": _when(incident["resolved_at"]),
        "shortlink": "",
        "incident_updates": [
            {
                "id": f"{incident['id']}-{len(updates) - n}",
                "incident_id": incident["id"],
                "body": update["text"],
                "created_at": _when(update["at"]),
                "display_at": _when(update["at"]),
            }
            for n, update in enumerate(updates)
        ],
    }


def _component(component: dict, old: str, at: float) -> dict:
    component_id = component["name"].lower().replace(" ", "-")
    return {
        "component_update": {
            "created_at": _when(at),
            "old_status": STATUS[old],
            "new_status": STATUS[component["status"]],
            "component_id": component_id,
        },
        "component": {
            "id": component_id,
            "name": component["name"],
            "description": component["description"],
            "status": STATUS[component["status"]],
        },
    }
