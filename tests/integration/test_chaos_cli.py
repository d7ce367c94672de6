"""The chaos controller through its CLI, against a real local lab: faults, TTLs, audit, reset, rollback."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from chaoslab.chaos.drill import DrillJournal
from chaoslab.chaos.journal import FileStore
from support import checkout, module_lab, poll_until, reset_around

lab = module_lab("chaos-lab")


clean = reset_around()


def agent_faults(lab) -> list[dict]:
    """Straight from every agent's admin API, not through the controller."""
    token = (lab.state_dir / "token").read_text().strip()
    found = []
    for name, port in lab.refresh()["lab"]["ports"].items():
        if name.endswith(".admin"):
            found += requests.get(
                f"http://127.0.0.1:{port}/faults", headers={"Authorization": f"Bearer {token}"}, timeout=5
            ).json()["faults"]
    return found


def audit(lab) -> list[dict]:
    lab.cli("audit")  # settles TTL expiries into the log
    return [json.loads(line) for line in (lab.state_dir / "audit.jsonl").read_text().splitlines()]


def test_add_list_remove_and_the_audit_trail(lab):
    added = lab.cli("fault", "add", "latency", "ms=200", "--service", "service-b", "--peer", "service-c").stdout
    fault_id = added.split()[1].rstrip(":")
    assert fault_id in lab.cli("fault", "list").stdout
    timed = checkout(lab.url("service-a"), customer_id=3, key="cli-latency")
    assert timed.status_code == 201 and timed.elapsed.total_seconds() >= 0.2
    assert lab.cli("fault", "rm", fault_id).returncode == 0
    assert agent_faults(lab) == []
    events = [(e["event"], e.get("reason")) for e in audit(lab) if e.get("fault_id") == fault_id]
    assert events == [("fault.requested", None), ("fault.started", None), ("fault.reverted", "stop")]
    started = next(e for e in audit(lab) if e.get("fault_id") == fault_id and e["event"] == "fault.started")
    assert started["actor"] and started["service"] == "service-b" and started["expires_at"] > started["ts"]


@pytest.mark.parametrize(
    "args,message",
    [
        (("fault", "add", "gremlins", "--service", "service-a"), "kind='gremlins'"),
        (("fault", "add", "latency", "ms=-5", "--service", "service-b", "--peer", "service-c"), "params.ms='-5'"),
        (("fault", "add", "latency", "ms", "--service", "service-b", "--peer", "service-c"), "write it as name=value"),
        (("fault", "add", "latency", "--service", "service-b", "--route", "/nope"), "route='/nope'"),
        (("fault", "add", "db_outage", "--service", "service-a", "--ttl", "99999"), "ttl_s=99999"),
        (("scenario", "start", "no-such-drill"), "unknown scenario 'no-such-drill'"),
        (("scenario", "show", "nope"), "unknown scenario"),
        (("deploy", "payment", "money_math=cash"), "money_math='cash'"),
        (("changes", "--since", "yesterday"), "use a number and a unit"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_changes_nothing(lab, args, message):
    result = lab.cli(*args, check=False)
    assert result.returncode == 2, result.stderr
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert agent_faults(lab) == []


def test_a_fault_expires_on_its_own_and_the_audit_says_ttl(lab):
    fault_id = lab.cli("fault", "add", "db_outage", "--service", "payment", "--ttl", "2").stdout.split()[1].rstrip(":")
    assert requests.get(lab.url("payment") + "/health/ready", timeout=5).status_code == 503
    poll_until(lambda: agent_faults(lab) == [], "the payment agent to drop the fault at its TTL", timeout=15)
    assert requests.get(lab.url("payment") + "/health/ready", timeout=5).status_code == 200
    reverted = [e for e in audit(lab) if e.get("fault_id") == fault_id and e["event"] == "fault.reverted"]
    assert [e["reason"] for e in reverted] == ["ttl"]


def test_killing_the_controller_mid_scenario_still_leaves_no_fault(lab):
    command = [
        sys.executable,
        "-m",
        "chaoslab",
        "--state-dir",
        str(lab.state_dir),
        "scenario",
        "start",
        "multi-component",
        "--ttl",
        "3",
        "--no-load",
    ]
    controller = subprocess.Popen(
        command, env={**os.environ, **lab.env}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    poll_until(lambda: agent_faults(lab), "the controller to apply a first fault")
    controller.send_signal(signal.SIGKILL)
    controller.wait(10)
    poll_until(lambda: agent_faults(lab) == [], "every agent to drop its faults at their TTL", timeout=20)


def bytes_waiting(port: int) -> bool:
    """Whether a connection accepted on 127.0.0.1:``port`` holds unread bytes (/proc/net/tcp's rx_queue)."""
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, state, queues = fields[1], fields[3], fields[4]
        if local == f"0100007F:{port:04X}" and state == "01" and int(queues.split(":")[1], 16) > 0:
            return True
    return False


def test_a_start_killed_half_way_is_seen_and_undone_by_stop(lab):
    """The CLI dies while an agent still holds its request; the agent applies the fault
    after the CLI is gone. The scenario and every fault it may place were written down first."""
    payment = lab.process("payment")["pid"]
    since = time.time()
    command = [sys.executable, "-m", "chaoslab", "--state-dir", str(lab.state_dir)]
    command += ["scenario", "start", "multi-component", "--no-load"]
    os.kill(payment, signal.SIGSTOP)  # payment's agent (the third fault) takes the request but cannot answer
    try:
        starter = subprocess.Popen(
            command, env={**os.environ, **lab.env}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        poll_until(
            lambda: any(e["event"] == "fault.requested" and e["service"] == "payment" for e in audit(lab)),
            "the start to ask payment's agent for its fault",
        )
        # journaled first, then sent: kill the CLI only once its request waits in the agent's socket
        admin = lab.process("payment")["ports"]["admin"]
        poll_until(lambda: bytes_waiting(admin), "the request to reach payment's stopped agent")
        starter.send_signal(signal.SIGKILL)
        starter.wait(10)
    finally:
        os.kill(payment, signal.SIGCONT)
    poll_until(
        lambda: any(f["service"] == "payment" for f in agent_faults(lab)), "payment to apply it late", timeout=60
    )
    status = lab.cli("scenario", "status").stdout
    assert status.startswith("multi-component: starting") and "3/4 faults active" in status
    lab.cli("scenario", "stop")
    assert agent_faults(lab) == []
    log = [e for e in audit(lab) if e["ts"] >= since]
    requested = {e["fault_id"] for e in log if e["event"] == "fault.requested"}
    reverted = {e["fault_id"] for e in log if e["event"] == "fault.reverted"}
    assert len(requested) == 3 and requested <= reverted


def test_reset_clears_every_fault_and_deploy_everywhere(lab):
    lab.cli("scenario", "start", "silent-corruption", "--no-load")
    lab.cli("fault", "add", "worker_stall", "--service", "worker")
    lab.cli("deploy", "service-a", "orders_query=n_plus_one")
    assert len(agent_faults(lab)) == 4
    out = lab.cli("reset").stdout
    assert "removed 4 fault(s)" in out
    assert agent_faults(lab) == []
    assert lab.cli("scenario", "status", check=False).returncode == 1
    token = (lab.state_dir / "token").read_text().strip()
    flags = requests.get(
        f"http://127.0.0.1:{lab.status['lab']['ports']['service-a.admin']}/flags",
        headers={"Authorization": f"Bearer {token}"},
        timeout=5,
    ).json()
    assert flags["effective"] == flags["baseline"]


def test_change_feed_shows_bad_deploys_and_fixes(lab):
    lab.cli("scenario", "start", "fp-drift", "--no-load")
    lab.cli("scenario", "fix")
    feed = lab.cli("changes", "--since", "5m").stdout.splitlines()
    assert "payment" in feed[-2] and "money_math=float" in feed[-2] and "payments-ci" in feed[-2]  # the drill's feed
    assert "payment" in feed[-1] and "money_math=decimal" in feed[-1]
    status = lab.cli("scenario", "status").stdout
    assert status.startswith("fp-drift: running") and "1/1 faults active" in status
    hint = lab.cli("scenario", "hint").stdout
    assert hint.startswith("hint 1/3:")
    stopped = lab.cli("scenario", "stop").stdout
    assert "root cause: bad_deploy on payment" in stopped


def test_a_scenario_that_fails_part_way_reverts_what_it_applied(lab):
    from chaoslab.chaos.controller import Controller, ControllerError
    from chaoslab.chaos.journal import FileStore
    from chaoslab.chaos.scenarios import get
    from chaoslab.local.agents import LocalAgents
    from chaoslab.local.statedir import StateDir

    state = StateDir.at(lab.state_dir)
    controller = Controller(LocalAgents(state), FileStore(state.root), "test")
    drill = get("multi-component")
    broken = drill.__class__(
        **{
            **drill.__dict__,
            "faults": drill.faults + ({"kind": "latency", "service": "service-b", "route": "NoSuchMethod"},),
        }
    )
    with pytest.raises(ControllerError, match=r"not started, everything it applied was reverted.*NoSuchMethod"):
        controller.start(broken, ttl_s=60)
    assert agent_faults(lab) == []
    assert not (lab.state_dir / "scenario.json").exists()


def controllers(lab, actors=("alice", "bob")):
    """One real controller per person on the same lab: two shells, two commands at once."""
    from chaoslab.chaos.controller import Controller
    from chaoslab.local.agents import LocalAgents
    from chaoslab.local.statedir import StateDir

    state = StateDir.at(lab.state_dir)
    return [Controller(LocalAgents(state), FileStore(state.root), actor) for actor in actors]


def test_a_stop_landing_inside_an_extend_is_not_undone_by_it(lab):
    """Before, extend wrote the note it had read back with a later expiry: a stop that landed between
    its read and its write left a drill on the board whose faults were gone."""
    from chaoslab.chaos.controller import ControllerError
    from chaoslab.chaos.scenarios import get

    alice, bob = controllers(lab)
    alice.start(get("latency-500ms"), ttl_s=60)
    extend_on_agents = alice.client.extend

    def stop_meanwhile(*args):  # bob stops the drill while alice's extend talks to the agents
        bob.stop()
        return extend_on_agents(*args)

    alice.client.extend = stop_meanwhile
    with pytest.raises(ControllerError, match="ended while it was being extended"):
        alice.extend(120)
    assert alice.current() is None and agent_faults(lab) == []
    status = lab.cli("scenario", "status", check=False)
    assert status.returncode == 1 and "no scenario is running" in status.stderr
    events = [e["event"] for e in audit(lab) if e["event"].startswith(("scenario.", "fault.extended"))]
    assert events[-2:] == ["scenario.started", "scenario.stopped"], events  # nothing extended that was stopped


def test_two_starts_at_once_start_one_drill(lab):
    """Before, both passed the "is one running?" check and both placed faults; the second note hid the
    first drill's. Now the note is claimed with a compare-and-swap: one start wins, the other places
    nothing and says why."""
    from chaoslab.chaos.controller import ControllerError
    from chaoslab.chaos.scenarios import get

    alice, bob = controllers(lab)
    claim = alice.store.swap

    def bob_first(key, expected, text):  # bob's start lands between alice's check and her claim
        if key == "scenario.json" and not bob.current():
            bob.start(get("payment-failure"), ttl_s=60)
        return claim(key, expected, text)

    alice.store.swap = bob_first
    with pytest.raises(ControllerError, match="another drill started at the same moment"):
        alice.start(get("latency-500ms"), ttl_s=60)
    assert alice.current()["id"] == "payment-failure"
    assert {f["kind"] for f in agent_faults(lab)} == {"error"}, agent_faults(lab)  # payment-failure's only
    bob.stop()


def test_two_pauses_at_once_give_one_break_and_move_the_drill_once(lab):
    """Two instructors pause at the same moment: both pass the "on a break?" check, but the board's
    journal decides whose pause began the break, in the order they were written. The other one moves
    nothing and says why: the drill's faults live one break longer, not two."""
    from chaoslab.chaos.controller import ControllerError
    from chaoslab.chaos.drill import DrillJournal
    from chaoslab.chaos.scenarios import get

    alice, bob = controllers(lab)
    alice.start(get("latency-500ms"), ttl_s=60)
    before = alice.current()
    claim = alice.drills.paused

    def bob_first(*args):  # bob's pause lands between alice's check and her claim
        bob.pause(120)
        return claim(*args)

    alice.drills.paused = bob_first
    with pytest.raises(ControllerError, match="another pause began a break at the same moment"):
        alice.pause(120)
    run = DrillJournal(alice.store).get(before["run"])
    assert len(run.breaks) == 1 and run.on_break() is not None
    assert alice.current()["expires_at"] == pytest.approx(before["expires_at"] + 120, abs=0.01)  # once
    assert [f["ttl_s"] for f in agent_faults(lab)] == [180]
    assert [e["actor"] for e in audit(lab) if e["event"] == "scenario.paused"] == ["bob"]
    bob.stop()


def test_a_second_scenario_is_refused_while_one_runs(lab):
    lab.cli("scenario", "start", "latency-500ms", "--no-load")
    second = lab.cli("scenario", "start", "deadlock", "--no-load", check=False)
    assert second.returncode == 1 and "latency-500ms is running" in second.stderr
    assert len(agent_faults(lab)) == 1


def test_a_checkout_that_hangs_is_visible_while_it_hangs(lab):
    """Spans still open are reported while open (chaoslab.telemetry.inflight), then replaced."""
    import threading

    lab.cli("fault", "add", "latency", "ms=4000", "--service", "service-b", "--peer", "service-c", "--ttl", "60")
    answered = {}
    slow = threading.Thread(target=lambda: answered.update(r=checkout(lab.url("service-a"), key="in-flight-1")))
    slow.start()

    def stuck_trace():
        for spans in json.loads(lab.cli("traces", "--last", "20", "--json").stdout):
            hanging = [s for s in spans if s["open"] and s["service"] == "service-b" and s["kind"] == "server"]
            if hanging:
                return spans[0]["trace_id"]
        return None

    trace_id = poll_until(stuck_trace, "service-b's open Reserve to be reported while it waits", timeout=10)
    assert "still open" in lab.cli("traces", "--trace", trace_id).stdout
    slow.join(30)
    assert answered["r"].status_code == 201
    poll_until(
        lambda: not any(s["open"] for s in json.loads(lab.cli("traces", "--trace", trace_id, "--json").stdout)[0]),
        "the real spans to replace the open ones once the checkout answered",
    )


def admin_url(lab, service: str) -> str:
    return f"http://127.0.0.1:{lab.refresh()['lab']['ports'][f'{service}.admin']}"


def token_header(lab, **extra) -> dict:
    return {"Authorization": f"Bearer {(lab.state_dir / 'token').read_text().strip()}", **extra}


def test_a_fault_added_through_an_agents_api_directly_is_in_the_audit_log_with_its_caller(lab):
    added = requests.post(
        f"{admin_url(lab, 'service-b')}/faults",
        json={"kind": "latency", "service": "service-b", "peer": "service-c", "params": {"ms": 1}, "ttl_s": 2},
        headers=token_header(lab, **{"X-Chaoslab-Actor": "mallory"}),
        timeout=5,
    )
    assert added.status_code == 201, added.text
    fault_id = added.json()["id"]
    poll_until(lambda: agent_faults(lab) == [], "the fault's TTL to end it")
    entries = [e for e in audit(lab) if e.get("fault_id") == fault_id]
    assert [(e["event"], e.get("reason")) for e in entries] == [("fault.started", None), ("fault.reverted", "ttl")]
    assert entries[0]["actor"] == "mallory@agent-token" and entries[0]["source"] == "agent"
    assert entries[0]["ts"] == pytest.approx(added.json()["created_at"], abs=1)
    shown = lab.cli("audit").stdout
    assert "mallory@agent-token" in shown


def test_a_fault_id_with_a_newline_is_refused_and_cannot_forge_a_line_of_fault_list(lab):
    forged = "f-00000001\nf-deadbeef     latency          service-a                   9m59s  FORGED"
    response = requests.post(
        f"{admin_url(lab, 'service-a')}/faults",
        json={"kind": "latency", "service": "service-a", "route": "*", "params": {"ms": 1}, "id": forged},
        headers=token_header(lab),
        timeout=5,
    )
    assert response.status_code == 400 and "id=" in response.json()["message"]
    listed = lab.cli("fault", "list").stdout
    assert "FORGED" not in listed and listed.strip() == "no active faults"


def test_the_change_feed_skips_no_version(lab):
    """The feed once read r1, r2, r4. A reset with nothing to reset bumped the version silently, and
    a bad deploy ended by its TTL changed it with no entry; every version must be in the feed."""
    import time

    started = time.time()
    lab.cli("reset")  # nothing to reset: no new version
    lab.cli("fault", "add", "bad_deploy", "change=float_money", "--service", "payment", "--ttl", "2")
    poll_until(lambda: agent_faults(lab) == [], "the bad deploy's TTL to end it")
    refused = lab.cli("deploy", "payment", "gateway_breaker=false", "--note", "fix\nforged line", check=False)
    assert refused.returncode == 1 and "note must be one line" in refused.stderr
    lab.cli("deploy", "payment", "gateway_breaker=false", "--note", "fix")
    lab.cli("reset")
    lab.cli("deploy", "payment", "money_math=decimal")
    feed = [e for e in json.loads(lab.cli("changes", "--json").stdout) if e["service"] == "payment"]
    new = [e for e in feed if e["ts"] >= started]
    numbers = [int(e["version"].rsplit("+r", 1)[1]) for e in new]
    assert len(numbers) == 5, new  # bad deploy, its TTL rollback, the deploy, the reset's rollback, the deploy
    earlier = [int(e["version"].rsplit("+r", 1)[1]) for e in feed if e["ts"] < started and "+r" in e["version"]]
    first = (max(earlier) + 1) if earlier else 1
    assert numbers == list(range(first, first + 5)), [(e["version"], e["summary"]) for e in new]
    with open(lab.state_dir / "changes.jsonl", "a") as journal:  # a journal written by something else
        journal.write(
            json.dumps(
                {
                    "ts": time.time(),
                    "event": "deploy",
                    "service": "payment",
                    "version": "x\n12:00:00  forged",
                    "summary": "\x1b[2J",
                    "by": "me",
                }
            )
            + "\n"
        )
    shown = lab.cli("changes").stdout
    assert "x\\n12:00:00  forged" in shown and "\n12:00:00  forged" not in shown and "\x1b" not in shown


def test_an_extended_drill_and_its_traffic_outlive_its_first_time_limit(lab):
    """`scenario extend`: every fault the drill placed, its note, its run on the board and its traffic get
    the time (Locust's own leash cannot move: the traffic restarts with the time left); the audit says who."""
    quick = {"CHAOSLAB_DRILL_HEALTHY_S": "2"}
    since = time.time()
    lab.cli("scenario", "start", "latency-500ms", "--ttl", "8", env=quick)
    first_limit = time.time() + 8
    extended = lab.cli("scenario", "extend", "--by", "2m").stdout
    assert re.search(r"now expire in (1m[4-5]\d|2m)", extended), extended
    faults = agent_faults(lab)
    assert faults and all(f["ttl_s"] == 128 and f["remaining_s"] > 100 for f in faults), faults
    poll_until(lambda: time.time() > first_limit + 3, "the drill's first time limit to pass", timeout=30)
    assert [f["id"] for f in agent_faults(lab)] == [f["id"] for f in faults]
    assert "left" in lab.cli("scenario", "status").stdout
    assert DrillJournal(FileStore(lab.state_dir)).latest().running()  # what grades it: its faults in force
    assert lab.cli("load", "status", check=False).returncode == 0  # the drill's traffic runs on
    events = [e for e in audit(lab) if e["event"] in ("fault.extended", "scenario.extended") and e["ts"] >= since]
    assert [e["event"] for e in events] == ["fault.extended", "scenario.extended"] and events[1]["by_s"] == 120
    assert events[0]["fault_id"] == faults[0]["id"] and events[0]["actor"]
    lab.cli("scenario", "stop")
    over = lab.cli("scenario", "extend", "--by", "1m", check=False)
    assert over.returncode == 1 and "no drill is running to extend" in over.stderr
