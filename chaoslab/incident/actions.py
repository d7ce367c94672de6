"""Follow-up that outlives the review: action items a team tracks from drill to drill.

An item has an owner who is a person (or a team), a due date, a type (Kehoe's mitigate, prevent,
process, plus detect) and the incident it came from; it is open until someone marks it done. Items
come from a review (``chaoslab actions add --from-pir``: the draft's items, the commander's where the
draft says "the incident commander") or by hand. They live in a journal on the team's board
(``actions.jsonl``), so both targets keep them and the next drill starts with the open ones in view.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import asdict, dataclass

from chaoslab import command
from chaoslab.chaos.journal import Journal, Store
from chaoslab.errors import BadInput, Refused

ACTIONS = "actions.jsonl"
TYPES = ("mitigate", "prevent", "process", "detect")


@dataclass
class Item:
    id: str
    text: str
    owner: str
    due: str
    type: str
    incident: str
    added_at: float
    added_by: str
    done_at: float | None = None
    done_by: str = ""

    @property
    def open(self) -> bool:
        return self.done_at is None

    def to_json(self) -> dict:
        return asdict(self) | {"status": "open" if self.open else "done"}


class Actions:
    def __init__(self, store: Store, actor: str = ""):
        self.journal = Journal(store, ACTIONS)
        self.actor = actor

    def items(self) -> list[Item]:
        """Every item, oldest first, with its status folded from the journal."""
        found: dict[str, Item] = {}
        for e in self.journal.entries():
            if e["event"] == "added" and e.get("id") not in found:
                found[e["id"]] = Item(
                    e["id"],
                    str(e.get("text", "")),
                    str(e.get("owner", "")),
                    str(e.get("due", "")),
                    str(e.get("type", "process")),
                    str(e.get("incident", "")),
                    e["ts"],
                    str(e.get("actor", "")),
                )
            elif e["event"] == "done" and e.get("id") in found and found[e["id"]].open:
                found[e["id"]].done_at, found[e["id"]].done_by = e["ts"], str(e.get("actor", ""))
        return list(found.values())

    def open_items(self) -> list[Item]:
        return [i for i in self.items() if i.open]

    def add(self, text: str, owner: str, due: str = "", kind: str = "process", incident: str = "") -> Item:
        text, owner = " ".join(text.split())[:300], " ".join(owner.split())[:100]
        if not text:
            raise BadInput('say what is to be done, e.g. `chaoslab actions add "alert on the outbox backlog"`')
        if not owner:
            raise BadInput("name its owner, a person (or a team): --owner Ana")
        if kind not in TYPES:
            raise BadInput(f"unknown type {kind!r}; one of {', '.join(TYPES)}")
        if due:
            try:
                time.strptime(due, "%Y-%m-%d")
            except ValueError:
                raise BadInput(f"--due {due!r}: a date like 2026-12-31") from None
        made = self.journal.append(
            "added",
            id=f"A-{uuid.uuid4().hex[:4]}",
            text=text,
            owner=owner,
            due=due,
            type=kind,
            incident=incident,
            actor=self.actor,
        )
        return next(i for i in self.items() if i.id == made["id"])

    def done(self, item_id: str) -> Item:
        found = next((i for i in self.items() if i.id == item_id), None)
        if found is None:
            raise Refused(f"no action item {item_id!r}; `{command('actions list --all')}` lists them")
        if not found.open:
            raise Refused(f"{item_id} was done already, by {found.done_by or 'someone'}")
        self.journal.append("done", id=item_id, actor=self.actor)
        return next(i for i in self.items() if i.id == item_id)
