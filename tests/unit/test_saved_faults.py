"""A local agent whose process is down (a crash loop keeps it down most of the time) is its saved faults:
the local lab answers the admin API from them, an extension too, so the process starts with the new life."""

from __future__ import annotations

import json
import time

from chaoslab.chaos.agent import SavedFaults
from chaoslab.chaos.faults import validate
from chaoslab.local.agents import answer_while_down
from chaoslab.local.statedir import StateDir


def saved_crash(state: StateDir, ttl_s: float) -> str:
    fault = validate({"kind": "crash", "service": "service-b", "params": {"mode": "loop"}, "ttl_s": ttl_s})
    saved = SavedFaults(state.agents, "service-b")
    with saved.locked():
        saved.write([fault.to_dict()])
    return fault.id


def patch(state: StateDir, fault_id: str, body) -> tuple[int, dict] | None:
    answer = answer_while_down(state, "service-b", "PATCH", f"/faults/{fault_id}", json.dumps(body).encode())
    return None if answer is None else (answer[0], json.loads(answer[1]))


def test_a_down_agents_saved_fault_is_extended_as_the_agent_would_extend_it(tmp_path):
    state = StateDir.at(tmp_path)
    fault_id = saved_crash(state, 60)
    status, extended = patch(state, fault_id, {"ttl_s": 600})
    assert status == 200 and extended["ttl_s"] == 600 and extended["remaining_s"] > 590 and extended["agent"] == "down"
    restored = SavedFaults(state.agents, "service-b").active()
    assert [(f.id, f.ttl_s) for f in restored] == [(fault_id, 600)]
    assert restored[0].expires_at > time.time() + 590  # what the process restores when it starts
    assert patch(state, fault_id, {"ttl_s": 30})[0] == 400  # only ever extended
    assert patch(state, "f-00000000", {"ttl_s": 600})[0] == 404
    assert patch(state, fault_id, {"ttl_s": 600, "kind": "latency"}) is None  # not for the saved faults to judge
