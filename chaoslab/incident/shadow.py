"""The shadow on-call's answers on the record: kept off the team's board, published when the team
cannot be spoiled, graded like the team's (chaoslab.diagnose.shadow gives them; this module keeps and
publishes them, so the incident desk needs nothing from the diagnosis).

``shadow.jsonl`` is a key of the lab's journal store that is not on the team's board: on Kubernetes the
instructors' journal ConfigMap, locally a file in the state directory that no trainee command prints.
An answer there names a service and a fault kind: on the board it would hand the team the root cause,
and in a mystery drill name the drill.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable

from chaoslab.chaos.journal import Store
from chaoslab.incident.record import IncidentLog

SHADOW = "shadow.jsonl"
"""The shadow's answers (instructor side)."""
SOURCE, ACTOR = "shadow", "shadow on-call"


def answers(store: Store, incident_id: str) -> list[dict]:
    """The shadow's answers for one incident, oldest first (reading the instructor's side of the store)."""
    found = []
    for line in store.read(SHADOW).splitlines():
        try:
            item = json.loads(line)
        except ValueError:
            continue
        if isinstance(item, dict) and item.get("incident") == incident_id and isinstance(item.get("ts"), (int, float)):
            found.append(item)
    return sorted(found, key=lambda a: a["ts"])


def first_right(given: list[dict], is_right: Callable[[str, str], bool]) -> dict | None:
    return next((a for a in given if is_right(str(a.get("service")), str(a.get("kind")))), None)


def publish(
    incident_log: IncidentLog, incident, given: list[dict], is_right: Callable[[str, str], bool]
) -> dict | None:
    """Put the shadow's first right answer on ``incident``'s timeline, once; returns the entry written
    (None: already there, or no right answer). The caller decides that the team may see it now."""
    if any(e.get("source") == SOURCE for e in incident.of_kind("root_cause_answer")):
        return None
    right = first_right(given, is_right)
    if right is None:
        return None
    return incident_log.write(
        incident,
        "root_cause_answer",
        f"shadow on-call: root cause {right['kind']} on {right['service']} (its first right answer)",
        {
            "service": right["service"],
            "kind": right["kind"],
            "correct": True,
            "confidence": right.get("confidence"),
            "published_at": round(time.time(), 3),
        },
        source=SOURCE,
        actor=ACTOR,
        ts=right["ts"],
    )
