"""Severity tiers P1 to P4 and the response contract that comes with each (TRAINING.md, "Severity").

The triage day's scale is P1 (total outage) to P4 (cosmetic); the incident day counts from P0, which is
another name for P1. The contract says how soon a paged incident must be acknowledged before it
escalates and how often a status update is due while it lasts.

The numbers are the ones ``chaoslab.alerts.tiers`` defines on the alerts branch; when both branches
are on main this module should read them from there (one source) and keep only ``normalise``.
"""

from __future__ import annotations

from dataclasses import dataclass

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
    "P1": Contract("P1", "total outage, critical loss or data loss", True, 5 * 60, 15 * 60),
    "P2": Contract("P2", "a major feature is degraded for many users", True, 15 * 60, 30 * 60),
    "P3": Contract("P3", "a partial or minor issue", False, None, None),
    "P4": Contract("P4", "cosmetic or low urgency", False, None, None),
}
ALIASES = {"P0": "P1"}


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
