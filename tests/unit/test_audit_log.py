"""The audit log settles itself on every read: no reader has to remember to fold in the agents' own
records or the TTLs that ended first."""

from __future__ import annotations

import time

from chaoslab.chaos.journal import AUDIT, CHANGES, AuditLog, FileStore, Journal, fold_agent_records


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


def test_an_extended_fault_is_open_until_its_new_expiry_and_each_extension_is_written_once(tmp_path):
    """Two replicas' agents record the same extension; the log keeps one, and the settlement reverts the
    fault at its new expiry, not at its first."""
    store = FileStore(tmp_path)
    now = time.time()
    replicas = [
        {"seq": n, "ts": now - 20, "event": "fault.extended", "fault_id": "f-1", "service": "service-b", "ttl_s": 660}
        for n in (1, 2)
    ]
    log = AuditLog(store, AUDIT, fold=lambda: fold_agent_records(log, Journal(store, CHANGES), replicas))
    log.append(
        "fault.started", ts=now - 70, fault_id="f-1", service="service-b", kind="latency", ttl_s=60, expires_at=now - 10
    )
    opened = log.open_faults()
    assert opened["f-1"]["ttl_s"] == 660 and opened["f-1"]["expires_at"] == now + 590
    log.FRESH_S = 0.0
    events = [e["event"] for e in log.entries()]
    assert events == ["fault.started", "fault.extended"]  # once, and not reverted at its first expiry
    assert log.settle(now=now + 600)[0]["reverted_at"] == now + 590
