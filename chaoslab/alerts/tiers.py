"""Severity tiers P1 to P4 and the response contract that comes with each.

The triage day's scale (see /work/shared/TRAINING.md): P1 total outage, P2 major feature degraded, P3
partial or minor, P4 cosmetic. The incident day counts from P0; P0 is accepted as another name for P1.
Each tier says who is notified, whether it pages and opens an incident, how soon someone must
acknowledge before it escalates, and how often a status update is due while it lasts. Incidents
(later) read these numbers; nothing else should hard-code them.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Tier:
    name: str
    """P1 to P4; the alert rules' ``severity`` label."""
    meaning: str
    """When to use it."""
    category: str
    """The monitoring day's words: critical (act now), warning (watch closely), info (awareness)."""
    notifies: str
    """Who hears about it, and how."""
    pages: bool
    """Whether it wakes someone (a page) rather than filing a ticket or a log line."""
    opens_incident: bool
    """Whether a firing alert of this tier opens an incident by itself."""
    ack_within_s: float | None
    """Seconds to acknowledge before the incident escalates (None: no escalation)."""
    update_every_s: float | None
    """Seconds between status updates while the incident is open (None: none due)."""

    def contract(self) -> str:
        """One line: ack window and update interval, for docs and the CLI."""
        if self.ack_within_s is None:
            return self.notifies
        update = f", status update every {self.update_every_s / 60:g} min" if self.update_every_s else ""
        return f"{self.notifies}; acknowledge within {self.ack_within_s / 60:g} min or it escalates{update}"


TIERS: dict[str, Tier] = {
    "P1": Tier(
        "P1",
        "total outage, critical loss or data loss; the error budget burns out within hours",
        "critical",
        "page all hands: the owning team's on-call, the incident commander and the on-call lead; executive updates",
        pages=True,
        opens_incident=True,
        ack_within_s=5 * 60,
        update_every_s=15 * 60,
    ),
    "P2": Tier(
        "P2",
        "a major feature is degraded for many users",
        "critical",
        "page the owning team's on-call (the rapid response team)",
        pages=True,
        opens_incident=True,
        ack_within_s=15 * 60,
        update_every_s=30 * 60,
    ),
    "P3": Tier(
        "P3",
        "a partial or minor issue; the error budget burns slowly",
        "warning",
        "a ticket for the owning team; investigate during working hours",
        pages=False,
        opens_incident=False,
        ack_within_s=None,
        update_every_s=None,
    ),
    "P4": Tier(
        "P4",
        "cosmetic or low urgency; worth knowing, not worth acting on now",
        "info",
        "a log line and the backlog",
        pages=False,
        opens_incident=False,
        ack_within_s=None,
        update_every_s=None,
    ),
}

ALIASES = {"P0": "P1"}
"""The incident day's P0 is the triage day's P1."""


def tier(name: str) -> Tier:
    """The tier called ``name`` (P1 to P4, or P0 for P1); raises KeyError naming the valid ones."""
    wanted = ALIASES.get(name.upper(), name.upper())
    if wanted not in TIERS:
        raise KeyError(f"unknown severity {name!r}; expected one of P1, P2, P3, P4 (P0 means P1)")
    return TIERS[wanted]


def rank(name: str) -> int:
    """1 for P1 … 4 for P4: lower is more severe."""
    return int(tier(name).name[1])
