"""The team's on-call file: who a page reaches first, and who next when nobody acknowledges.

It lives on the team's board (``oncall.json``: a file in the local lab's state directory, a key of the
board ConfigMap on Kubernetes), set with ``chaoslab oncall set FILE`` from YAML like::

    primary: Ana            # paged first, at the alert
    secondary: Bea          # escalation level 1
    commanders: [Cy, Dee]   # the incident-commander rota: INC-1 reaches Cy, INC-2 Dee, INC-3 Cy ...
    escalation:             # optional; these are the defaults for a P1
      - {notify: secondary, after: 5m}
      - {notify: commanders, after: 10m}

``after`` counts from the page. Without an ``escalation`` list, level 1 (the secondary) is due at the
tier's acknowledgment deadline (5 min for a P1, 15 for a P2) and level 2 (the commander on the rota,
if the file names commanders) at twice that. Without a file, one escalation at the deadline pages
"the secondary on-call and the incident-commander rota", unnamed. Each level that comes due before an
acknowledgment is written on the record (``escalated``, naming who was paged), so it reaches the
watch, the webhook and the console like a page.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import yaml

from chaoslab.chaos.journal import Store, parse_since
from chaoslab.errors import BadInput

EXAMPLE = """\
primary: Ana
secondary: Bea
commanders: [Cy, Dee]
escalation:
  - {notify: secondary, after: 5m}
  - {notify: commanders, after: 10m}
"""
"""The file's format, as `chaoslab oncall show` prints it when there is none."""
ONCALL = "oncall.json"
"""Store key of the on-call file (on the team's board: trainees set it)."""
TARGETS = ("secondary", "commanders")
"""What an escalation level may notify."""


@dataclass(frozen=True)
class Level:
    notify: str
    """secondary or commanders."""
    after_s: float | None
    """Seconds from the page; None: from the tier's acknowledgment deadline (level n at n times it)."""


@dataclass(frozen=True)
class Rota:
    primary: str
    secondary: str
    commanders: tuple[str, ...]
    levels: tuple[Level, ...]

    def commander_for(self, incident_id: str) -> str:
        """The incident-commander rota's turn for this incident (by its number)."""
        if not self.commanders:
            return ""
        number = int(incident_id.split("-")[1]) if incident_id.split("-")[-1].isdigit() else 1
        return self.commanders[(number - 1) % len(self.commanders)]

    def who(self, level: Level, incident_id: str) -> str:
        return self.secondary if level.notify == "secondary" else self.commander_for(incident_id)

    def due(self, ack_within_s: float) -> list[tuple[int, float, Level]]:
        """(level number, seconds from the page, level) for every level, for a tier whose contract wants an
        acknowledgment within ``ack_within_s``."""
        return [
            (n, level.after_s if level.after_s is not None else n * ack_within_s, level)
            for n, level in enumerate(self.levels, start=1)
        ]

    def to_json(self) -> dict:
        return {
            "primary": self.primary,
            "secondary": self.secondary,
            "commanders": list(self.commanders),
            "escalation": [{"notify": lv.notify, "after_s": lv.after_s} for lv in self.levels],
        }


DEFAULT_LEVELS = (Level("secondary", None), Level("commanders", None))


def _name(doc: dict, key: str, required: bool) -> str:
    value = doc.get(key, "")
    if not isinstance(value, str) or (required and not value.strip()):
        raise BadInput(f"on-call file: {key} must be a person's name, e.g. `{key}: Ana`")
    return " ".join(value.split())[:100]


def parse(text: str) -> Rota:
    """A Rota from the on-call file's YAML (or the board's JSON); BadInput says what is wrong, in a line."""
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        line = f" at line {where.line + 1}" if where is not None else ""
        raise BadInput(f"on-call file: not valid YAML{line}") from None
    if not isinstance(doc, dict):
        raise BadInput("on-call file: expected a mapping with primary, secondary and commanders")
    unknown = set(doc) - {"primary", "secondary", "commanders", "escalation"}
    if unknown:
        raise BadInput(
            f"on-call file: unknown key {sorted(unknown)[0]!r}; known: primary, secondary, commanders, escalation"
        )
    commanders = doc.get("commanders") or []
    if isinstance(commanders, str):
        commanders = [commanders]
    if not isinstance(commanders, list) or not all(isinstance(c, str) and c.strip() for c in commanders):
        raise BadInput("on-call file: commanders must be a list of names, e.g. `commanders: [Cy, Dee]`")
    levels = DEFAULT_LEVELS if commanders else DEFAULT_LEVELS[:1]
    if "escalation" in doc:
        levels = tuple(_level(item, n) for n, item in enumerate(doc["escalation"] or [], start=1))
    if not commanders and any(lv.notify == "commanders" for lv in levels):
        raise BadInput("on-call file: an escalation level notifies commanders, but no commanders are named")
    return Rota(
        _name(doc, "primary", True),
        _name(doc, "secondary", any(lv.notify == "secondary" for lv in levels)),
        tuple(" ".join(c.split())[:100] for c in commanders),
        levels,
    )


def _level(item: object, n: int) -> Level:
    if not isinstance(item, dict) or item.get("notify") not in TARGETS:
        raise BadInput(f"on-call file: escalation level {n} needs notify: secondary or notify: commanders")
    after = item.get("after", item.get("after_s"))
    if after is None:
        return Level(item["notify"], None)
    try:
        seconds = float(after) if isinstance(after, (int, float)) else parse_since(str(after))
    except ValueError:
        raise BadInput(f"on-call file: escalation level {n}: after {after!r} is not a duration like 5m") from None
    if not 0 < seconds <= 24 * 3600:
        raise BadInput(f"on-call file: escalation level {n}: after must be between 1 s and 24 h")
    return Level(item["notify"], seconds)


def load(store: Store) -> Rota | None:
    """The team's rota from the board; None when none is set (or what is there cannot be read)."""
    text = store.read(ONCALL)
    if not text.strip():
        return None
    try:
        return parse(text)
    except BadInput:
        return None


def save(store: Store, rota: Rota) -> None:
    store.write(ONCALL, json.dumps(rota.to_json(), indent=2) + "\n")
