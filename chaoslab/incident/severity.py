"""Severity tiers P1 to P4 and the response contract that comes with each (TRAINING.md, "Severity").

The triage day's scale is P1 (total outage) to P4 (cosmetic); the incident day counts from P0, which is
another name for P1. The contract says how soon a paged incident must be acknowledged before it
escalates and how often a status update is due while it lasts.

The numbers are ``chaoslab.alerts.tiers``'s (one source); this module is the incident's view of them.
"""

from __future__ import annotations

from dataclasses import dataclass

from chaoslab.alerts.tiers import ALIASES, TIERS
from chaoslab.errors import BadInput


@dataclass(frozen=True)
class Contract:
    tier: str
    meaning: str
    pages: bool
    """A firing alert of this tier opens an incident by itself."""
    ack_within_s: float | None
    """Acknowledge within this long or the incident escalates (None: no escalation)."""
    update_every_s: float | None
    """A status update is due this often while the incident is open (None: none due)."""


CONTRACTS: dict[str, Contract] = {
    name: Contract(name, tier.meaning, tier.opens_incident, tier.ack_within_s, tier.update_every_s)
    for name, tier in TIERS.items()
}


def normalise(name: str) -> str:
    """``P1`` … ``P4`` for any accepted spelling (``p2``, ``P0``); BadInput naming the valid ones."""
    wanted = ALIASES.get(str(name).strip().upper(), str(name).strip().upper())
    if wanted not in CONTRACTS:
        raise BadInput(f"unknown severity {name!r}: use P1, P2, P3 or P4 (P0 means P1)")
    return wanted


def contract(name: str) -> Contract:
    return CONTRACTS[normalise(name)]


def rank(name: str) -> int:
    """1 for P1 … 4 for P4: lower is more severe."""
    return int(normalise(name)[1])


VERIFY_DEFAULT_S = 60.0
"""How long a verify runs before an incident is resolved: a verified fix holds its SLO for a 60 s window
under load (TRAINING.md, "Scores")."""
