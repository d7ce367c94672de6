"""The controller: applies faults to every instance of their service, runs scenarios, keeps the audit log.

It holds no state the lab depends on. Faults live in the agents, which expire
them on their own; the controller's journals (audit log, change feed) and the
note of the running scenario only describe. So ``reset`` works from any CLI
at any time, even when the process that started a scenario died mid-way.
"""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass, field

from chaoslab import command
from chaoslab.chaos.agent_client import AgentClient, AgentError
from chaoslab.chaos.agents import Agents, Instance
from chaoslab.chaos.drill import Break, DrillJournal, break_refusal, new_run_id
from chaoslab.chaos.faults import KINDS, MAX_TTL_S, MYSTERY, Fault, FaultSpecError, new_fault_id, spec_of, validate
from chaoslab.chaos.journal import AUDIT, CHANGES, SCENARIO, AuditLog, Journal, Store, change_note, fold_agent_records
from chaoslab.chaos.scenarios import Fix, Scenario
from chaoslab.errors import Refused
from chaoslab.settings import SERVICE_SETTINGS, coerce


class ControllerError(Refused):
    """The operation did not happen (or was rolled back); the message says why."""


@dataclass
class Outcome:
    """Per instance: did the operation take?"""

    instance: Instance
    ok: bool
    detail: str = ""
    status: int = 0


@dataclass
class Applied:
    fault: Fault
    outcomes: list[Outcome] = field(default_factory=list)


__all__ = ["AUDIT", "CHANGES", "SCENARIO", "Controller", "ControllerError"]


class Controller:
    def __init__(self, agents: Agents, store: Store, actor: str):
        self.agents = agents
        self.store = store
        self.audit = AuditLog(store, AUDIT, fold=self._fold_agent_records)
        self.changes = Journal(store, CHANGES)
        self.drills = DrillJournal(store)
        self.actor = actor
        self.client = AgentClient(agents, actor)

    # ---- single faults --------------------------------------------------------------------
    def add(self, spec: dict, *, scenario: str | None = None, red_herring: bool = False, feed: bool = True) -> Applied:
        """Apply one fault on every instance of its service, or on none (the ones that took are reverted).

        A fault that changes settings (a bad deploy) shows in the change feed, unless ``feed`` is False
        (a scenario whose own feed says how the team sees it).

        The intent is in the audit log before any agent is told (``fault.requested``), so a CLI killed
        half-way leaves a record that reset, stop and the TTL account for. Raises FaultSpecError for a
        bad spec, ControllerError when an instance refused or is missing.
        """
        fault = validate({**spec, "scenario": scenario, "red_herring": red_herring}, actor=self.actor)
        if KINDS[fault.kind].kubernetes_only:
            self._record(fault, "fault.requested", [])
            try:
                touched = self.agents.apply_kubernetes_fault(fault)
            except Exception:
                self.agents.revert_kubernetes_fault(fault.id)
                self._record_reverted(fault.id, "not applied", fault.service, fault.kind)
                raise
            self._record(fault, "fault.started", touched)
            return Applied(fault, [Outcome(Instance(fault.service, name, ""), True) for name in touched])
        instances = self.agents.instances(fault.service)
        if not instances:
            raise ControllerError(f"no running instance of {fault.service} to apply {fault.kind} to")
        self._record(fault, "fault.requested", [i.name for i in instances])
        applied = Applied(fault)
        for instance in instances:
            try:
                self.client.add(instance, spec_of(fault))
                applied.outcomes.append(Outcome(instance, True))
            except AgentError as exc:
                applied.outcomes.append(Outcome(instance, False, exc.message, exc.status))
        failed = [o for o in applied.outcomes if not o.ok]
        if failed:
            for outcome in applied.outcomes:
                if outcome.ok:
                    self._remove_on(outcome.instance, fault.id, "rollback")
            self._record_reverted(fault.id, "not applied", fault.service, fault.kind)
            first = failed[0]
            if all(o.status == 400 for o in failed):  # the agent judged the spec: bad input, not a broken lab
                raise FaultSpecError(first.detail)
            raise ControllerError(
                f"{fault.kind} on {fault.where} did not apply on {first.instance.name}: "
                f"{first.detail}" + ("; nothing was changed" if len(instances) > 1 else "")
            )
        self._record(fault, "fault.started", [o.instance.name for o in applied.outcomes])
        if fault.flag_changes() and feed:
            self._record_change(
                fault.service,
                fault.flag_changes(),
                by="deploy-bot",
                note=f"config change ({fault.params.get('change', fault.kind)})",
            )
        return applied

    def _record(self, fault: Fault, event: str, instances: list[str]) -> None:
        self.audit.append(
            event,
            fault_id=fault.id,
            kind=fault.kind,
            service=fault.service,
            where=fault.where,
            params=fault.params,
            ttl_s=fault.ttl_s,
            expires_at=fault.expires_at,
            actor=self.actor,
            scenario=fault.scenario,
            red_herring=fault.red_herring,
            instances=instances,
        )

    def remove(self, fault_id: str, reason: str = "stop") -> list[Instance]:
        """Remove a fault wherever it is active; returns where it was found."""
        open_faults = self.audit.open_faults()
        removed = [i for i in self.agents.everything() if self._remove_on(i, fault_id, reason)]
        removed += [
            Instance(open_faults.get(fault_id, {}).get("service", ""), name, "")
            for name in self.agents.revert_kubernetes_fault(fault_id)
        ]
        if removed or fault_id in open_faults:
            started = open_faults.get(fault_id, {})
            self._record_reverted(fault_id, reason, started.get("service"), started.get("kind"))
        return removed

    def _record_reverted(self, fault_id: str, reason: str, service: str | None, kind: str | None) -> None:
        self.audit.append(
            "fault.reverted", fault_id=fault_id, reason=reason, actor=self.actor, service=service, kind=kind
        )

    def _fold_agent_records(self) -> None:
        """Before the audit log is read (settle): what the agents recorded themselves, folded in."""
        records = []
        for instance in self.agents.everything():
            try:
                records += self.client.records(instance)
            except AgentError:
                continue  # an agent that does not answer is settled by its faults' TTLs instead
        fold_agent_records(self.audit, self.changes, records)

    def _remove_on(self, instance: Instance, fault_id: str, reason: str) -> bool:
        try:
            return self.client.remove(instance, fault_id, reason)
        except AgentError as exc:
            if exc.status == 0:  # down (a crash loop, say): it must not bring the fault back when it starts
                self.agents.forget(instance, fault_id)
            return False

    def faults(self) -> tuple[list[dict], list[str]]:
        """(every active fault with its instance, agents that did not answer). Faults the Kubernetes
        API performed live in the cluster, not in an agent: they come from the audit log."""
        found, unreachable = [], []
        for instance in self.agents.everything():
            try:
                found += [dict(f, instance=instance.name) for f in self.client.faults(instance)]
            except AgentError as exc:
                unreachable.append(str(exc))
        now = time.time()
        for fault_id, started in self.audit.open_faults().items():
            kind = KINDS.get(started.get("kind", ""))
            if kind is not None and kind.kubernetes_only and started["expires_at"] > now:
                found.append(
                    {
                        "id": fault_id,
                        "kind": started["kind"],
                        "service": started["service"],
                        "params": started.get("params", {}),
                        "scenario": started.get("scenario"),
                        "remaining_s": round(started["expires_at"] - now, 1),
                        "instance": "kubernetes",
                    }
                )
        return found, unreachable

    def reset(self) -> tuple[int, list[str]]:
        """Every fault and every deploy removed everywhere it can be reached; returns (faults removed,
        agents that did not answer). Never raises for an unreachable agent: reset must always work."""
        removed, unreachable, touched = 0, [], []
        self.audit.settle()  # what the agents recorded and the TTLs ended, folded in before they forget it
        for instance in self.agents.everything():
            try:
                answer = self.client.reset(instance)
                removed += answer.get("removed", 0)
                if answer.get("version_changed", answer.get("deploys_removed")):  # a new version to record
                    touched.append(instance.service)
            except AgentError as exc:
                unreachable.append(str(exc))
                self.agents.forget(instance, None)
        removed += len(self.agents.revert_all_kubernetes_faults())
        for fault_id, started in self.audit.open_faults().items():
            self._record_reverted(fault_id, "reset", started.get("service"), started.get("kind"))
        for service in dict.fromkeys(touched):
            self._record_change(service, {}, by=self.actor, note="rollback to the baseline configuration")
        running = self.current()
        if running is not None:
            self._ended(running, "reset")
        self.audit.append("lab.reset", actor=self.actor, faults_removed=removed)
        return removed, unreachable

    # ---- deploys ---------------------------------------------------------------------------
    def deploy(self, service: str, changes: dict, note: str = "") -> str:
        """Ship a runtime configuration change (a fix) to every instance; returns the new version.

        Raises SettingsError (bad input) before touching anything when a change is not allowed.
        """
        for name, value in changes.items():
            coerce(SERVICE_SETTINGS[service], name, value)
        self.refuse_on_break()
        instances = self.agents.instances(service)
        if not instances:
            raise ControllerError(f"no running instance of {service} to deploy to")
        version = ""
        for instance in instances:
            try:
                version = self.client.deploy(instance, changes, note)["version"]
            except AgentError as exc:
                raise ControllerError(f"deploy to {service} ({instance.name}) refused: {exc.message}") from None
        self.audit.append("deploy", service=service, changes=changes, version=version, actor=self.actor, note=note)
        self._record_change(service, changes, by=self.actor, note=note, version=version)
        return version

    def _version(self, service: str) -> str:
        for instance in self.agents.instances(service):
            try:
                return self.client.flags(instance).get("version") or ""
            except AgentError:
                continue
        return ""

    def _record_change(
        self, service: str, changes: dict, by: str, note: str = "", version: str = "", ago_s: float = 0.0
    ) -> str:
        """One deploy in the change feed; returns its id (triage names a change by it)."""
        shown = ", ".join(f"{k}={v}" for k, v in changes.items())
        change_id = f"chg-{secrets.token_hex(3)}"
        when = {"ts": round(time.time() - ago_s, 3)} if ago_s else {}
        self.changes.append(
            "deploy",
            id=change_id,
            service=service,
            version=version or self._version(service),
            by=by,
            summary=f"{shown}" + (f" ({note})" if note and shown else note),
            **when,
        )
        return change_id

    # ---- scenarios -------------------------------------------------------------------------
    def current(self) -> dict | None:
        """The note of the last drill started and not stopped: running, or ended by its time limit (its
        faults expired; ``expires_at`` says when). None when there is none."""
        return _note(self.store.read(SCENARIO))

    def on_break(self, now: float | None = None) -> Break | None:
        """The break the running drill is on (``pause``), or None."""
        running = self.current()
        run = self.drills.get(running.get("run")) if running else None
        return run.on_break(now) if run is not None else None

    def refuse_on_break(self) -> None:
        """ControllerError while the running drill is on a break: a change or a hint then would be a
        move made while the drill's clock stands still."""
        if (on := self.on_break()) is not None:
            raise ControllerError(break_refusal(on[1]))

    def refuse_if_running(self, running: dict | None = None) -> None:
        """ControllerError while a drill runs (its time limit not reached, not stopped): one at a time.
        ``running``: the note already read (default: read it now)."""
        running = self.current() if running is None else running
        if running and running["expires_at"] > time.time():
            secret = running.get("mystery") and not running.get("revealed")
            name = "a mystery drill" if secret else f"scenario {running['id']}"
            raise ControllerError(f"{name} is running; `{command('scenario stop')}` first")

    def start(
        self,
        scenario: Scenario,
        ttl_s: float | None = None,
        mystery: bool = False,
        healthy: dict | None = None,
        story: str = "",
    ) -> list[Applied]:
        """Apply every fault and red herring of a scenario, all or nothing, then write its feed.

        The run gets its own id. The scenario and the ids of every fault it will place are written down
        first (state ``starting``), so a start killed half-way is still seen, and undone, by ``scenario
        stop``, ``scenario status`` and ``reset``. A mystery drill's faults carry no scenario id (they say
        ``mystery``); only the scenario note and the audit log name it. ``healthy``: the lab's figures
        under the drill's traffic just before (see chaos.drill.Run.healthy); ``story``: a mystery's story,
        kept on the board for the team."""
        before = self.store.read(SCENARIO)
        self.refuse_if_running(_note(before))  # a torn note is no drill: the swap below replaces it
        ttl = min(ttl_s or scenario.duration_s, MAX_TTL_S)
        planned = [({**spec, "ttl_s": ttl, "id": new_fault_id()}, False) for spec in scenario.faults]
        planned += [({**spec, "ttl_s": ttl, "id": new_fault_id()}, True) for spec in scenario.red_herrings]
        now = time.time()
        note = {
            "id": scenario.id,
            "run": new_run_id(),
            "state": "starting",
            "started_at": now,
            "expires_at": now + ttl,
            "actor": self.actor,
            "fault_ids": [spec["id"] for spec, _ in planned],
            "hints_shown": 0,
            "mystery": mystery,
        }
        if not self.store.swap(SCENARIO, before, json.dumps(note)):  # two starts at once: one wins
            raise ControllerError(f"another drill started at the same moment; `{command('scenario status')}` shows it")
        applied: list[Applied] = []
        try:
            for spec, red_herring in planned:
                applied.append(
                    self.add(
                        spec,
                        scenario=MYSTERY if mystery else scenario.id,
                        red_herring=red_herring,
                        feed=not scenario.feed,
                    )
                )
        except Exception as exc:
            for fault_id in note["fault_ids"]:
                self.remove(fault_id, "rollback")
            self._delete_note(note["run"])
            raise ControllerError(
                f"scenario {scenario.id} not started, everything it applied was reverted: {exc}"
            ) from None

        def running(current: dict) -> None:
            if current.get("run") != note["run"]:
                raise ControllerError("another drill")
            current["state"] = "running"

        try:
            if change_note(self.store, SCENARIO, running) is None:
                raise ControllerError("ended")
        except ControllerError:  # a stop or reset while it started: what it placed after them goes too
            for fault_id in note["fault_ids"]:
                self.remove(fault_id, "rollback")
            raise ControllerError(
                f"scenario {scenario.id} was stopped while it was starting; everything it applied was reverted"
            ) from None
        trigger = self._record_feed(scenario, [a.fault for a in applied])
        self.audit.append(
            "scenario.started",
            scenario=scenario.id,
            run=note["run"],
            actor=self.actor,
            ttl_s=ttl,
            fault_ids=note["fault_ids"],
            mystery=mystery,
            trigger_change=trigger,
        )
        self.drills.started(note["run"], note["started_at"], note["expires_at"], mystery, healthy, story)
        return applied

    def _record_feed(self, scenario: Scenario, faults: list[Fault]) -> str | None:
        """The deploys a team sees for this drill (its ``feed``), oldest first; the settings its faults
        change on a service ride on that service's entry. Returns the trigger's change id."""
        trigger = None
        for entry in sorted(scenario.feed, key=lambda e: -e.ago_s):
            changes = {k: v for f in faults if f.service == entry.service for k, v in f.flag_changes().items()}
            change_id = self._record_change(entry.service, changes, by=entry.by, note=entry.summary, ago_s=entry.ago_s)
            trigger = change_id if entry.trigger else trigger
        return trigger

    def stop(self) -> dict:
        """End the last drill: remove its faults (those its time limit has not ended already) and end the
        run, which also ends a mystery's secrecy. Returns its note."""
        running = self.current()
        if running is None:
            raise ControllerError("no scenario is running")
        for fault_id in running["fault_ids"]:
            self.remove(fault_id, "stop")
        self._ended(running, "stop")
        return running

    def extend(self, by_s: float) -> dict:
        """Give the running drill ``by_s`` more seconds: every fault it placed expires that much later,
        on every instance (and the Kubernetes API's marks), and so does the run. Refused once the drill
        has ended and where a fault would live past MAX_TTL_S; an instance that cannot be reached is
        reported (its fault ends at the old time). Returns the drill's note, with ``unreached``."""
        running = self.current()
        now = time.time()
        if running is None or running["expires_at"] <= now:
            raise ControllerError("no drill is running to extend (one ended by its time limit cannot be)")
        open_faults = self.audit.open_faults()
        placed = {i: open_faults[i] for i in running["fault_ids"] if i in open_faults}
        longest = max((f.get("ttl_s", 0) for f in placed.values()), default=0)
        if by_s <= 0 or longest + by_s > MAX_TTL_S:
            raise ControllerError(
                f"{by_s:g} s more: a drill's faults live at most {MAX_TTL_S:g} s and these have {longest:g} s already"
            )
        unreached = []
        for fault_id, started in placed.items():
            ttl = started["ttl_s"] + by_s
            kind = KINDS.get(started.get("kind", ""))
            extended = True
            if kind is not None and kind.kubernetes_only:
                self.agents.extend_kubernetes_fault(fault_id, started["expires_at"] + by_s)
            else:
                extended = False
                for instance in self.agents.instances(started["service"]):
                    try:
                        extended = self.client.extend(instance, fault_id, ttl) or extended  # False: gone there
                    except AgentError as exc:
                        unreached.append(str(exc))
            if not extended:
                continue  # the audit says what happened: this one still ends at its old time, if it is still on
            self.audit.append(
                "fault.extended",
                fault_id=fault_id,
                kind=started["kind"],
                service=started["service"],
                ttl_s=ttl,
                expires_at=started["expires_at"] + by_s,
                actor=self.actor,
                scenario=started.get("scenario"),
            )
        ended = ControllerError("the drill ended while it was being extended; nothing of it was brought back")

        def later(current: dict) -> None:
            if current.get("run") != running.get("run"):
                raise ended
            current["expires_at"] += by_s

        changed = change_note(self.store, SCENARIO, later)  # never brings back a note a stop deleted
        if changed is None:
            raise ended
        running = changed
        self.audit.append(
            "scenario.extended", scenario=running["id"], run=running.get("run"), by_s=by_s, actor=self.actor
        )
        if running.get("run"):
            self.drills.extended(running["run"], running["expires_at"])
        return running | {"unreached": unreached}

    def pause(self, for_s: float) -> dict:
        """A break of ``for_s`` seconds from now: the drill's clock stands still (the board's journal
        records the break, and scores and deadlines leave it out) and its faults and time limit move as
        much later (``extend``), so the break costs the drill none of its time. Refused during a break.
        Returns the drill's note, with ``unreached`` and ``break_until``."""
        since = time.time()
        self.refuse_on_break()
        running = self.current()
        if running is None or running["expires_at"] <= since or not running.get("run"):
            raise ControllerError("no drill is running to pause (one ended by its time limit cannot be)")
        if not self.drills.paused(running["run"], since, since + for_s):  # the claim: one of two at once
            raise ControllerError(f"another pause began a break at the same moment (`{command('gameday status')}`)")
        try:
            note = self.extend(for_s)
        except Exception:
            self.drills.resumed(running["run"], at=since)  # the break that was not given never was
            raise
        self.audit.append("scenario.paused", scenario=note["id"], run=note.get("run"), for_s=for_s, actor=self.actor)
        return note | {"break_until": since + for_s}

    def resume(self) -> float:
        """End the break in progress now; the drill keeps the break's unused time (its faults cannot be
        made to expire sooner). Returns that time, in seconds."""
        now = time.time()
        on = self.on_break(now)
        running = self.current()
        if on is None or running is None:
            raise ControllerError("the drill is not on a break")
        self.drills.resumed(running["run"])
        self.audit.append(
            "scenario.resumed",
            scenario=running["id"],
            run=running["run"],
            unused_s=round(on[1] - now),
            actor=self.actor,
        )
        return on[1] - now

    def _ended(self, running: dict, reason: str) -> None:
        """Delete the note of ``running`` and record its end, once: of two stops at once, one records it."""
        if not self._delete_note(running.get("run")):
            return  # ended by someone else meanwhile (another stop, a reset)
        self.audit.append(
            "scenario.stopped", scenario=running["id"], run=running.get("run"), reason=reason, actor=self.actor
        )
        if running.get("run"):
            self.drills.ended(running["run"], reason)

    def _delete_note(self, run: str | None) -> bool:
        """Delete the drill's note if it is still ``run``'s; whether it was."""

        def same_run(note: dict) -> None:
            if note.get("run") != run:
                raise ControllerError("another drill")

        try:
            return change_note(self.store, SCENARIO, same_run, delete=True) is not None
        except ControllerError:
            return False

    def note_load_started(self) -> None:
        """Remember that the scenario brought its own traffic, so stopping it stops the traffic too."""
        change_note(self.store, SCENARIO, lambda running: running.update(load_started=True))

    def next_hint(self, scenario: Scenario) -> tuple[int, str]:
        """The next progressive hint (1-based), remembered so each call gives one more."""
        not_running = ControllerError(f"scenario {scenario.id} is not running")

        self.refuse_on_break()

        def one_more(running: dict) -> None:
            if running["id"] != scenario.id:
                raise not_running
            running["hints_shown"] = min(running.get("hints_shown", 0) + 1, len(scenario.hints))

        running = change_note(self.store, SCENARIO, one_more)
        if running is None:
            raise not_running
        shown = running["hints_shown"]
        self.audit.append("scenario.hint", scenario=scenario.id, run=running.get("run"), hint=shown, actor=self.actor)
        return shown, scenario.hints[shown - 1]

    def apply_fix(self, scenario: Scenario, fix: Fix) -> str:
        return self.deploy(fix.service, fix.changes, note=f"fix {fix.id} for {scenario.id}")


def _note(text: str) -> dict | None:
    """The drill's note in ``text``; None when there is none or it is torn."""
    try:
        return json.loads(text or "null")
    except ValueError:
        return None
