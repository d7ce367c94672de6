"""The fault agent in-process, and its admin API over real HTTP on a loopback port."""

from __future__ import annotations

import threading
import time

import psutil
import pytest
import requests

from chaoslab.chaos.agent import FaultAgent
from chaoslab.chaos.agent_api import create_admin_app
from chaoslab.services.common.flags import Flags
from chaoslab.settings import Payment, ServiceA, load
from chaoslab.wsgi import HttpServer
from support import poll_until

TOKEN = "t0ps3cret-for-tests"


@pytest.fixture
def agent():
    made = FaultAgent("service-a", Flags("service-a", load(ServiceA, {})))
    made.route_sources.append(lambda: ["/checkout", "/orders"])
    yield made
    made.close()


@pytest.fixture
def admin(agent):
    server = HttpServer(create_admin_app(agent, TOKEN), "127.0.0.1", 0, 2, "admin").start()
    yield server.url
    server.stop()


def auth(token=TOKEN):
    return {"Authorization": f"Bearer {token}"}


def test_idle_hooks_return_nothing(agent):
    assert agent.inbound("/checkout") is None and agent.outbound("payment") is None
    assert agent.db() is None and agent.redis() is None and agent.stall is None


def test_latency_hits_only_its_route(agent):
    agent.add({"kind": "latency", "service": "service-a", "route": "/checkout", "params": {"ms": 120}})
    assert agent.inbound("/checkout").delay_s == pytest.approx(0.12)
    assert agent.inbound("/orders") is None
    assert agent.outbound("payment") is None


def test_probability_zero_never_hits(agent):
    agent.add({"kind": "error", "service": "service-a", "peer": "payment", "params": {"probability": 0}})
    assert all(agent.outbound("payment") is None for _ in range(200))


def test_a_fault_expires_by_itself(agent):
    fault = agent.add({"kind": "db_outage", "service": "service-a", "ttl_s": 1})
    assert agent.db().refuse
    poll_until(lambda: not agent.faults(), "the agent to drop the fault at its TTL", timeout=5)
    assert agent.db() is None
    assert fault.id not in {f["id"] for f in agent.faults()}


def test_bad_deploys_change_flags_until_removed(agent):
    fault = agent.add({"kind": "bad_deploy", "service": "service-a", "params": {"change": "n_plus_one"}})
    assert agent.flags.get("orders_query") == "n_plus_one"
    agent.deploy({"orders_query": "batched"})  # a fix rolls forward over the bad deploy
    assert agent.flags.get("orders_query") == "batched"
    agent.remove(fault.id)
    agent.reset()
    assert agent.flags.get("orders_query") == "batched" and agent.flags.describe()["changes"] == []


def test_faults_outlive_a_restart_until_their_ttl(tmp_path):
    first = FaultAgent("payment", Flags("payment", load(Payment, {})), tmp_path)
    kept = first.add({"kind": "db_slow", "service": "payment", "params": {"ms": 5}, "ttl_s": 60})
    first.add({"kind": "bad_deploy", "service": "payment", "params": {"change": "float_money"}, "ttl_s": 60})
    first.close()
    second = FaultAgent("payment", Flags("payment", load(Payment, {})), tmp_path)
    try:
        assert kept.id in {f["id"] for f in second.faults()}
        assert second.flags.get("money_math") == "float"
        assert second.db().delay_s == pytest.approx(0.005)
    finally:
        second.close()


def test_crash_once_leaves_a_clean_restart(tmp_path):
    exits = []
    crashing = FaultAgent("worker", None, tmp_path, exit_process=exits.append)
    crashing.add({"kind": "crash", "service": "worker", "params": {"mode": "once", "delay_s": 0}})
    poll_until(lambda: exits == [70], "the crash fault to exit the process with code 70")
    crashing.close()
    restarted = FaultAgent("worker", None, tmp_path, exit_process=exits.append)
    assert restarted.faults() == []
    restarted.close()


def test_crash_loop_comes_back_after_a_restart(tmp_path):
    exits = []
    first = FaultAgent("worker", None, tmp_path, exit_process=exits.append)
    first.add({"kind": "crash", "service": "worker", "params": {"mode": "loop", "delay_s": 0}, "ttl_s": 60})
    poll_until(lambda: len(exits) == 1, "the first crash")
    first.close()
    second = FaultAgent("worker", None, tmp_path, exit_process=exits.append)
    poll_until(lambda: len(exits) == 2, "the restarted process to crash again (a crash loop)")
    second.close()


def test_memory_leak_grows_resident_memory_and_gives_it_back(agent):
    me = psutil.Process()
    before = me.memory_info().rss
    fault = agent.add({"kind": "memory_leak", "service": "service-a", "params": {"mb_per_s": 100, "cap_mb": 60}})
    poll_until(lambda: me.memory_info().rss - before > 50 * 2**20, "resident memory to grow by 50 MiB")
    agent.remove(fault.id)
    poll_until(lambda: me.memory_info().rss - before < 20 * 2**20, "the leaked memory to be returned")


def test_cpu_burn_uses_cpu_until_lifted(agent):
    me = psutil.Process()
    fault = agent.add({"kind": "cpu_burn", "service": "service-a"})
    start = sum(me.cpu_times()[:2])
    poll_until(lambda: sum(me.cpu_times()[:2]) - start > 0.5, "the burn thread to use half a CPU second")
    agent.remove(fault.id)
    poll_until(
        lambda: not any(t.name.startswith("cpu-burn") for t in threading.enumerate()),
        "the burn thread to stop once the fault is lifted",
    )


# ---- the admin API --------------------------------------------------------------------------


def test_no_token_is_401_and_changes_nothing(admin, agent):
    response = requests.post(f"{admin}/faults", json={"kind": "db_outage", "service": "service-a"}, timeout=5)
    assert response.status_code == 401 and "bearer token" in response.json()["message"]
    assert agent.faults() == []


def test_wrong_token_is_403_and_changes_nothing(admin, agent):
    response = requests.post(
        f"{admin}/faults", json={"kind": "db_outage", "service": "service-a"}, headers=auth("nope"), timeout=5
    )
    assert response.status_code == 403
    assert requests.get(f"{admin}/faults", headers=auth("nope"), timeout=5).status_code == 403
    assert agent.faults() == []


def test_get_never_changes_state(admin, agent):
    agent.add({"kind": "db_outage", "service": "service-a"})
    response = requests.get(f"{admin}/faults/reset", headers=auth(), timeout=5)
    assert response.status_code == 405
    assert len(agent.faults()) == 1


@pytest.mark.parametrize(
    "spec,message",
    [
        ({"kind": "latency", "service": "service-a", "route": "/nope"}, "route='/nope': service-a serves /checkout"),
        ({"kind": "latency", "service": "service-a", "route": "/checkout", "params": {"ms": -1}}, "params.ms=-1"),
        ({"kind": "gremlins", "service": "service-a"}, "kind='gremlins'"),
        ({"kind": "db_outage", "service": "payment"}, "this agent runs in service-a"),
    ],
)
def test_invalid_specs_are_400_naming_the_field(admin, agent, spec, message):
    response = requests.post(f"{admin}/faults", json=spec, headers=auth(), timeout=5)
    assert response.status_code == 400 and message in response.json()["message"]
    assert agent.faults() == []


def test_add_list_delete_reset_and_deploy(admin, agent):
    added = requests.post(
        f"{admin}/faults",
        json={"kind": "latency", "service": "service-a", "route": "*", "params": {"ms": 1}, "ttl_s": 30},
        headers=auth(),
        timeout=5,
    )
    assert added.status_code == 201
    fault_id = added.json()["id"]
    listed = requests.get(f"{admin}/faults", headers=auth(), timeout=5).json()["faults"]
    assert [f["id"] for f in listed] == [fault_id] and 0 < listed[0]["remaining_s"] <= 30
    assert requests.delete(f"{admin}/faults/{fault_id}", headers=auth(), timeout=5).status_code == 200
    assert requests.delete(f"{admin}/faults/{fault_id}", headers=auth(), timeout=5).status_code == 404
    bad = requests.post(f"{admin}/deploys", json={"changes": {"orders_query": "sideways"}}, headers=auth(), timeout=5)
    assert bad.status_code == 400 and "orders_query='sideways'" in bad.json()["message"]
    good = requests.post(
        f"{admin}/deploys", json={"changes": {"orders_query": "n_plus_one"}}, headers=auth(), timeout=5
    )
    assert good.status_code == 201 and good.json()["version"].startswith("0.")
    requests.post(f"{admin}/faults", json={"kind": "db_outage", "service": "service-a"}, headers=auth(), timeout=5)
    reset = requests.post(f"{admin}/faults/reset", headers=auth(), timeout=5).json()
    assert reset == {"service": "service-a", "removed": 1, "deploys_removed": 1, "version_changed": True}
    assert agent.flags.get("orders_query") == "batched"


def test_expiry_needs_no_controller(admin, agent):
    requests.post(
        f"{admin}/faults", json={"kind": "db_outage", "service": "service-a", "ttl_s": 1}, headers=auth(), timeout=5
    )
    assert agent.db().refuse
    poll_until(
        lambda: requests.get(f"{admin}/faults", headers=auth(), timeout=5).json()["faults"] == [],
        "the fault to expire",
        timeout=5,
    )
    assert agent.db() is None


# ---- what only the agent may say, and what no record may break -----------------------------------


def add(admin, spec, **headers):
    return requests.post(f"{admin}/faults", json=spec, headers={**auth(), **headers}, timeout=5)


@pytest.mark.parametrize("field,value", [("expires_at", 1e15), ("created_at", 0), ("actor", "root")])
def test_times_and_actor_are_the_agents_to_set(admin, agent, field, value):
    response = add(admin, {"kind": "db_outage", "service": "service-a", field: value})
    assert response.status_code == 400 and f"{field} is set by the agent" in response.json()["message"]
    assert agent.faults() == []


def test_the_agent_stamps_creation_expiry_and_the_authenticated_caller(admin, agent):
    import time

    before = time.time()
    fault = add(admin, {"kind": "db_outage", "service": "service-a", "ttl_s": 30}, **{"X-Chaoslab-Actor": "alice"})
    assert fault.status_code == 201, fault.text
    body = fault.json()
    assert before <= body["created_at"] <= time.time() and body["expires_at"] == body["created_at"] + 30
    assert body["actor"] == "alice@agent-token"
    unnamed = add(admin, {"kind": "db_slow", "service": "service-a"}, **{"X-Chaoslab-Actor": "a b;c"})
    assert unnamed.json()["actor"] == "agent-token"  # a claim that is not a plain name is not kept


DEEP = {"kind": "db_slow", "service": "service-a", "params": {"ms": 1}}
for _ in range(40):
    DEEP = {"kind": "db_slow", "service": "service-a", "params": {"ms": DEEP}}


@pytest.mark.parametrize(
    "spec,field",
    [
        ({"kind": ["latency"], "service": "service-a"}, "kind=<a list>"),
        ({"kind": {"a": 1}, "service": "service-a"}, "kind=<a mapping>"),
        ({"kind": "db_outage", "service": ["service-a"]}, "service=<a list>"),
        ({"kind": "db_outage", "service": "service-a", "id": {"x": 1}}, "id=<a mapping>"),
        ({"kind": "db_outage", "service": "service-a", "id": 7}, "id=7"),
        ({"kind": "db_outage", "service": "service-a", "id": "f-1\nf-2 forged"}, "id='f-1\\nf-2 forged'"),
        ({"kind": "db_outage", "service": "service-a", "id": "../../x"}, "id='../../x'"),
        ({"kind": "latency", "service": "service-a", "route": ["/checkout"]}, "route=<a list>"),
        ({"kind": "latency", "service": "service-a", "route": "/checkout\n"}, "route='/checkout\\n'"),
        ({"kind": "latency", "service": "service-a", "peer": {"p": 1}}, "peer=<a mapping>"),
        ({"kind": "latency", "service": "service-a", "route": "*", "params": [1]}, "params=<a list>"),
        ({"kind": "latency", "service": "service-a", "route": "*", "params": {"ms": [5]}}, "params.ms=<a list>"),
        ({"kind": "crash", "service": "service-a", "params": {"mode": ["loop"]}}, "params.mode=<a list>"),
        ({"kind": "db_outage", "service": "service-a", "ttl_s": [60]}, "ttl_s=<a list>"),
        ({"kind": "db_outage", "service": "service-a", "ttl_s": "1e15"}, "ttl_s='1e15'"),
        ({"kind": "db_outage", "service": "service-a", "red_herring": "yes"}, "red_herring='yes'"),
        ({"kind": "db_outage", "service": "service-a", "scenario": 5}, "scenario=5"),
        (DEEP, "nested more than 32 levels"),
    ],
)
def test_a_wrong_type_anywhere_is_400_naming_the_field(admin, agent, spec, field):
    response = add(admin, spec)
    assert response.status_code == 400, response.text
    assert field in response.json()["message"] and "\n" not in response.json()["message"]
    assert agent.faults() == []


def test_the_controllers_id_is_kept_and_one_id_names_one_fault(admin, agent):
    spec = {"kind": "db_slow", "service": "service-a", "params": {"ms": 5}, "id": "f-0123abcd"}
    assert add(admin, spec).json()["id"] == "f-0123abcd"
    assert add(admin, spec).status_code == 201  # the controller retrying: the same fault
    clash = add(admin, {**spec, "params": {"ms": 6}})
    assert clash.status_code == 400 and "already names a different fault" in clash.json()["message"]
    assert requests.delete(f"{admin}/faults/f-0123abcd%0a", headers=auth(), timeout=5).status_code == 400


def test_the_sweeper_survives_any_fault_record(agent):
    """A poisoned record (as the old agent took ``expires_at: 1e15`` from a caller, which killed the
    expiry thread) must not stop other faults from expiring."""
    import math

    from chaoslab.chaos.agent import _Active
    from chaoslab.chaos.faults import Fault

    poisoned = {
        "f-0000000a": Fault("db_slow", "service-a", {"ms": 1}, id="f-0000000a", expires_at=1e15),
        "f-0000000b": Fault("db_slow", "service-a", {"ms": 1}, id="f-0000000b", expires_at=math.nan),
        "f-0000000c": Fault("db_slow", "service-a", {"ms": 1}, id="f-0000000c", expires_at="soon"),
        "f-0000000d": Fault("bad_deploy", "service-a", {}, id="f-0000000d", expires_at=0),  # flag_changes raises
    }
    with agent._lock:
        for fault_id, fault in poisoned.items():
            agent._active[fault_id] = _Active(fault)
    healthy = agent.add({"kind": "db_outage", "service": "service-a", "ttl_s": 1})
    poll_until(lambda: healthy.id not in {f["id"] for f in agent.faults()}, "the healthy fault to expire", timeout=10)
    remaining = {f["id"] for f in agent.faults()}
    assert remaining <= {"f-0000000a"} and agent._sweeper.is_alive()
    later = agent.add({"kind": "db_outage", "service": "service-a", "ttl_s": 1})
    poll_until(lambda: later.id not in {f["id"] for f in agent.faults()}, "a later fault to expire too", timeout=10)


def test_a_saved_fault_cannot_outlive_its_ttl(tmp_path):
    import json
    import time

    now = time.time()
    saved = [
        {
            "kind": "db_slow",
            "service": "payment",
            "params": {"ms": 5},
            "ttl_s": 60,
            "id": "f-000000aa",
            "created_at": now,
            "expires_at": 1e15,
        },
        {
            "kind": "db_slow",
            "service": "payment",
            "params": {"ms": 5},
            "ttl_s": 60,
            "id": "f-000000bb",
            "created_at": now + 10**9,
            "expires_at": now + 10**9,
        },
        {"kind": ["db_slow"], "service": "payment", "id": "f-000000cc", "created_at": now},
        "not even a mapping",
    ]
    (tmp_path / "payment.faults.json").write_text(json.dumps(saved))
    restored = FaultAgent("payment", Flags("payment", load(Payment, {})), tmp_path)
    try:
        faults = restored.faults()
        assert [f["id"] for f in faults] == ["f-000000aa"]
        assert faults[0]["expires_at"] <= now + 60.001 and faults[0]["remaining_s"] <= 60
    finally:
        restored.close()


def test_the_agent_records_who_added_and_removed_each_fault(admin, agent):
    spec = {"kind": "db_slow", "service": "service-a", "params": {"ms": 5}, "ttl_s": 1}
    fault_id = add(admin, spec, **{"X-Chaoslab-Actor": "mallory"}).json()["id"]
    other = add(admin, {"kind": "db_outage", "service": "service-a"}).json()["id"]
    requests.delete(f"{admin}/faults/{other}?reason=stop", headers={**auth(), "X-Chaoslab-Actor": "bob"}, timeout=5)
    poll_until(lambda: agent.faults() == [], "the first fault's TTL to end it")
    records = requests.get(f"{admin}/records", headers=auth(), timeout=5).json()["records"]
    events = [(r["event"], r["fault_id"], r.get("reason"), r["actor"]) for r in records]
    assert events == [
        ("fault.started", fault_id, None, "mallory@agent-token"),
        ("fault.started", other, None, "agent-token"),
        ("fault.reverted", other, "stop", "bob@agent-token"),
        ("fault.reverted", fault_id, "ttl", "agent"),
    ]
    after = records[1]["seq"]
    assert [
        r["seq"] for r in requests.get(f"{admin}/records?after={after}", headers=auth(), timeout=5).json()["records"]
    ] == [r["seq"] for r in records[2:]]


def test_versions_go_on_across_a_restart(tmp_path):
    """A restarted agent must not number its settings' versions from r1 again: the change feed would
    see a version twice (and skip the second)."""
    first = FaultAgent("payment", Flags("payment", load(Payment, {})), tmp_path)
    first.deploy({"money_math": "float"})
    first.deploy({"money_math": "decimal"})
    assert first.flags.version.endswith("+r2")
    first.close()
    second = FaultAgent("payment", Flags("payment", load(Payment, {})), tmp_path)
    try:
        assert second.flags.version.endswith("+r3")  # the restart itself, back to the baseline
        versions = [r["version"] for r in second.records() if r["event"] == "deploy"]
        assert [v.rsplit("+r", 1)[1] for v in versions] == ["1", "2", "3"]
        second.deploy({"gateway_breaker": False})
        assert second.flags.version.endswith("+r4")
    finally:
        second.close()


def test_a_fault_is_extended_over_the_api_and_keeps_its_new_life_across_a_restart(tmp_path):
    """A GameDay given more time: the fault's ttl_s from its creation grows, and with it its expiry; the
    agent records who extended it, and a restarted agent restores it with the new life."""
    first = FaultAgent("payment", Flags("payment", load(Payment, {})), tmp_path)
    server = HttpServer(create_admin_app(first, TOKEN), "127.0.0.1", 0, 2, "admin").start()
    try:
        fault_id = add(server.url, {"kind": "db_slow", "service": "payment", "params": {"ms": 5}, "ttl_s": 2}).json()[
            "id"
        ]
        url = f"{server.url}/faults/{fault_id}"
        extended = requests.patch(url, json={"ttl_s": 120}, headers={**auth(), "X-Chaoslab-Actor": "ivy"}, timeout=5)
        assert extended.status_code == 200 and extended.json()["ttl_s"] == 120 and extended.json()["remaining_s"] > 100
        again = requests.patch(url, json={"ttl_s": 120}, headers=auth(), timeout=5)
        assert again.status_code == 200  # the controller retrying: nothing more happens
        for body, field in (({"ttl_s": 60}, "only extended"), ({"ttl_s": 9000}, "ttl_s"), ({"ms": 1}, "ttl_s")):
            refused = requests.patch(url, json=body, headers=auth(), timeout=5)
            assert refused.status_code == 400 and field in refused.json()["message"], refused.text
        missing = requests.patch(f"{server.url}/faults/f-00000000", json={"ttl_s": 60}, headers=auth(), timeout=5)
        assert missing.status_code == 404
        assert requests.patch(url, json={"ttl_s": 200}, timeout=5).status_code == 401
        records = requests.get(f"{server.url}/records", headers=auth(), timeout=5).json()["records"]
        assert [(r["event"], r["ttl_s"], r["actor"]) for r in records if r["event"] == "fault.extended"] == [
            ("fault.extended", 120, "ivy@agent-token")
        ]
        poll_until(lambda: time.time() > extended.json()["created_at"] + 3, "the fault's first time limit to pass")
        assert first.db() is not None  # still in force after its first two seconds
    finally:
        server.stop()
        first.close()
    second = FaultAgent("payment", Flags("payment", load(Payment, {})), tmp_path)
    try:
        restored = {f["id"]: f for f in second.faults()}
        assert restored[fault_id]["ttl_s"] == 120 and restored[fault_id]["remaining_s"] > 100
    finally:
        second.close()
