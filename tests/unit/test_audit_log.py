"""The audit log settles itself on every read: no reader has to remember to fold in the agents' own
records or the TTLs that ended first."""

from __future__ import annotations

import time

from chaoslab.chaos.journal import AUDIT, AuditLog, FileStore


def started(log: AuditLog, fault_id: str, expires_at: float) -> None:
    log.append("fault.started", fault_id=fault_id, service="service-b", kind="latency", expires_at=expires_at)


def test_a_read_writes_the_ttl_reverts_still_missing_dated_at_expiry(tmp_path):
    store = FileStore(tmp_path)
    now = time.time()
    started(AuditLog(store, AUDIT), "f-old", now - 60)
    started(AuditLog(store, AUDIT), "f-live", now + 600)

    reader = AuditLog(store, AUDIT)
    reverted = [e for e in reader.entries() if e["event"] == "fault.reverted"]
    assert [(e["fault_id"], e["reason"], e["reverted_at"]) for e in reverted] == [("f-old", "ttl", now - 60)]
    assert list(reader.open_faults()) == ["f-live"]
    # Written once: another reader finds it settled already.
    again = [e for e in AuditLog(store, AUDIT).entries() if e["event"] == "fault.reverted"]
    assert len(again) == 1


def test_one_instance_asks_the_agents_once_per_settlement_and_the_fold_may_read_the_log(tmp_path):
    asked = []
    log = AuditLog(FileStore(tmp_path), AUDIT, fold=lambda: asked.append(len(log.entries())))
    started(log, "f-1", time.time() + 600)

    log.entries()
    log.open_faults()
    assert asked == [1]  # the fold's own read did not settle again; the second read stood on the first
    log.FRESH_S = 0.0
    log.entries()
    assert len(asked) == 2
