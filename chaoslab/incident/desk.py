"""The incident desk: what each incident command does, on any backend (the CLI only prints).

It reads and writes the record through the backend's journal store, measures through the backend's
probe, verifies through its load driver, and reads the truth (the answer key) only through
``chaoslab.incident.truth``, which says when this caller may not.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from chaoslab import command
from chaoslab.errors import BadInput, Refused
from chaoslab.incident import comms, impact, review, score, severity, triage
from chaoslab.incident import truth as answer_key
from chaoslab.incident.alerting import AlertEvent, on_alert
from chaoslab.incident.record import Incident, IncidentLog
from chaoslab.topology import SERVICE_NAMES


@dataclass
class Resolution:
    incident: Incident
    verified: bool
    verdict: object | None = None
    """The chaoslab.loadtest.verify.Verdict of the run, if one ran."""


class Desk:
    def __init__(self, lab):
        self.lab = lab
        self.store = lab.store()
        self.log = IncidentLog(self.store, lab.actor)

    # ---- reading ------------------------------------------------------------------------------
    def incidents(self) -> list[Incident]:
        self.log.settle()
        return self.log.all()

    def get(self, incident_id: str | None = None) -> Incident:
        self.log.settle()
        return self.log.get(incident_id)

    def open_one(self, incident_id: str | None) -> Incident:
        found = self.get(incident_id)
        if not found.open:
            raise Refused(f"{found.id} is resolved; `{command('incident open TITLE')}` starts a new one")
        return found

    def deploys(self) -> list[dict]:
        """The change feed (every entry, oldest first)."""
        return sorted(self.lab.journals().changes.entries(), key=lambda e: e["ts"])

    def truth(self, incident: Incident):
        return answer_key.read(self.store, incident.declared_at, incident.resolved_at)

    def snapshot(self) -> dict | None:
        """The services' counters now, or None when the lab does not answer."""
        try:
            return impact.snapshot(self.lab.probe())
        except Exception:  # best effort on any target (a pod without an address, an API error): never blocks a move
            return None

    # ---- opening and paging -------------------------------------------------------------------
    def declare(self, title: str, tier: str, detected_by: str, report: str, new: bool) -> Incident:
        tier = severity.normalise(tier)  # bad input first: exit 2 before any refusal
        current = self.log.current()
        if current is not None and not new:
            raise Refused(
                f"{current.id} is open ({current.title}); add to it with `{command('incident note')}`, or pass --new "
                "for a separate incident"
            )
        return self.log.declare(title, tier, detected_by, report=report, snapshot=self.snapshot())

    def page(self, alert: str, tier: str, owner: str, summary: str, resolved: bool) -> Incident | None:
        event = AlertEvent(
            name=alert,
            tier=severity.normalise(tier),
            state="resolved" if resolved else "fired",
            ts=time.time(),
            owner=owner,
            summary=summary,
        )
        return on_alert(self.store, event, snapshot=self.snapshot, source="instructor", actor=self.lab.actor)

    # ---- the team's moves --------------------------------------------------------------------
    def ack(self, incident_id: str | None, commander: str | None) -> Incident:
        incident = self.open_one(incident_id)
        if incident.acknowledged_at is not None:
            raise Refused(
                f"{incident.id} was acknowledged at {comms.clock(incident.acknowledged_at)} by "
                f"{incident.commander}; `{command('incident update status')}` tells people where it stands"
            )
        who = commander or self.lab.actor
        self.log.write(incident, "acknowledged", f"acknowledged; incident commander: {who}", {"commander": who})
        return self.log.get(incident.id)

    def set_severity(self, incident_id: str | None, tier: str, reason: str) -> Incident:
        incident = self.open_one(incident_id)
        tier = severity.normalise(tier)
        if tier == incident.severity:
            raise Refused(f"{incident.id} is already {tier}")
        self.log.write(
            incident,
            "severity",
            f"severity {incident.severity} → {tier}" + (f": {reason}" if reason else ""),
            {"severity": tier},
        )
        return self.log.get(incident.id)

    def commander(self, incident_id: str | None, who: str) -> Incident:
        incident = self.open_one(incident_id)
        who = " ".join(who.split())[:100]
        if not who:
            raise BadInput("name the new incident commander")
        self.log.write(incident, "commander", f"incident commander is now {who}", {"commander": who})
        return self.log.get(incident.id)

    def note(self, incident_id: str | None, text: str, kind: str, links: tuple[str, ...] = ()) -> dict:
        incident = self.get(incident_id)
        text = " ".join(text.split())
        if not text:
            raise BadInput("a note needs some text")
        bad = [link for link in links if not link.strip() or len(link) > 500 or any(c.isspace() for c in link)]
        if bad:
            raise BadInput(
                f"--link {bad[0][:60]!r}: a trace id, a query or a URL, without spaces, up to 500 characters"
            )
        return self.log.write(incident, kind, text[:2000], links=list(links))

    def update(self, incident_id: str | None, moment: str, audience: str, say: str) -> str:
        incident = self.get(incident_id)
        if moment == "ack" and incident.acknowledged_at is None:
            raise Refused(f"{incident.id} is not acknowledged yet: `{command('incident ack')}` first")
        if moment == "resolved" and incident.open:
            raise Refused(f"{incident.id} is not resolved yet: `{command('incident resolve')}` first")
        if moment == "status" and not incident.open:
            raise Refused(f"{incident.id} is resolved: announce it with `{command('incident update resolved')}`")
        text = comms.render(moment, audience, incident, self.deploys(), say)
        self.log.write(incident, "status_update", text, {"moment": moment, "audience": audience})
        return text

    def triage(self, incident_id: str | None, raw: dict[str, str]) -> list[triage.Answer]:
        incident = self.open_one(incident_id)
        ids = {d["id"] for d in self.deploys() if d.get("id")}
        answers = [triage.parse(q, raw[q], change_ids=ids) for q in triage.QUESTIONS if raw.get(q) is not None]
        if not answers:
            raise BadInput("no answer given; answer one or more of --what --when --scope --change --owner")
        truth = self.truth(incident)
        now_counters = self.snapshot() if any(a.question == "scope" for a in answers) else None
        share, note = self._scope_share(truth, now_counters)
        key = triage.answer_key(incident, truth, share, note)
        for answer in answers:
            triage.grade(answer, key)
            data = {
                "question": answer.question,
                "value": answer.value,
                "given": answer.given,
                "correct": answer.correct,
            }
            if answer.question == "scope" and now_counters:
                data["snapshot"] = now_counters  # so the instructor can grade it later from the same counters
            shown = comms.clock(answer.value) if answer.question == "when" else answer.given
            self.log.write(incident, "triage_answer", f"{answer.question.upper()}: {shown}", data)
        return answers

    @staticmethod
    def _scope_share(truth, counters: dict | None) -> tuple[float | None, str]:
        if not hasattr(truth, "scenario"):
            return None, ""
        if truth.baseline is None:
            return None, "the drill's baseline counters were not recorded"
        if counters is None:
            return None, "the lab's metrics did not answer"
        share = impact.window(truth.baseline, counters)["affected_share"]
        return (0.0 if share is None else share), ""

    def rootcause(self, incident_id: str | None, service: str, kind: str) -> tuple[bool | None, str]:
        from chaoslab.chaos.faults import KINDS

        if service not in SERVICE_NAMES:
            raise BadInput(f"--service {service!r}: use one of {', '.join(SERVICE_NAMES)}")
        if kind not in KINDS:
            raise BadInput(f"--kind {kind!r}: use one of {', '.join(KINDS)} (`{command('fault kinds')}` explains each)")
        incident = self.open_one(incident_id)
        truth = self.truth(incident)
        if hasattr(truth, "scenario"):
            correct: bool | None = truth.is_root_cause(service, kind)
            said = "right" if correct else "wrong (it counts; try again)"
        else:
            correct = None
            reason = getattr(truth, "reason", "") or "no drill was running"
            said = f"recorded, not graded ({reason}); the instructor's `{command('score')}` grades it"
        self.log.write(
            incident,
            "root_cause_answer",
            f"root cause: {kind} on {service}",
            {"service": service, "kind": kind, "correct": correct},
        )
        if correct:
            self.publish_shadow(self.log.get(incident.id), truth)
        return correct, said

    # ---- resolution ---------------------------------------------------------------------------
    def resolve(
        self,
        incident_id: str | None,
        duration_s: float,
        unverified: bool,
        say: Callable[[str], None],
        progress: Callable[[float, dict], None],
    ) -> Resolution:
        """Resolve after a passing verify of the drill's SLO (the lab's baseline without a readable
        drill), run now unless one already passed after the last deploy. The drill's background load
        is stopped first: its orders keep arriving while verify waits for the queue to drain, so the
        reconciliation could never pass with it running. ``unverified`` resolves without proof."""
        incident = self.open_one(incident_id)
        end = self.snapshot()
        if unverified:
            self._resolved(incident, False, end, "resolved, unverified: no passing verify after the last deploy")
            return Resolution(self.log.get(incident.id), False)
        last_deploy = max((d["ts"] for d in self.deploys() if d["ts"] >= incident.declared_at), default=0.0)
        proof = [e for e in incident.of_kind("verified") if e["ts"] > last_deploy]
        if proof:
            self._resolved(incident, True, end, f"resolved: verified at {comms.clock(proof[-1]['ts'])}")
            return Resolution(self.log.get(incident.id), True)
        verdict = self.verify(incident, duration_s, say, progress)
        if not verdict.ok:
            breached = "; ".join(_breach(r) for r in verdict.results if not r.ok)
            raise Refused(
                f"{incident.id} stays open: verify failed ({breached}). Fix and resolve again, or "
                f"`{command('incident resolve --unverified')}` to close it as resolved, unverified"
            )
        self._resolved(incident, True, end, f"resolved: verify passed for {duration_s:g}s under load")
        return Resolution(self.log.get(incident.id), True, verdict)

    def _resolved(self, incident: Incident, verified: bool, end: dict | None, text: str) -> None:
        data = {"verified": verified}
        if end:
            data["snapshot"] = end
        self.log.write(incident, "resolved", text, data)
        self.publish_shadow(self.log.get(incident.id))

    # ---- the shadow on-call -------------------------------------------------------------------
    def publish_shadow(self, incident: Incident, truth=None) -> None:
        """Put the shadow on-call's first right answer on the timeline once the team may see it."""
        from chaoslab.diagnose import shadow

        truth = self.truth(incident) if truth is None else truth
        given = shadow_shown(self.store, incident, truth)
        if given:
            shadow.publish(self.log, incident, given, truth.is_root_cause)

    def verify(
        self, incident: Incident, duration_s: float, say: Callable[[str], None], progress: Callable[[float, dict], None]
    ):
        """One verify run of the SLO resolution asks for; recorded on the timeline either way."""
        from chaoslab.chaos.scenarios import DEFAULT_LOAD
        from chaoslab.loadtest.verify import BASELINE_SLO
        from chaoslab.loadtest.verify import verify as run_verify

        if duration_s <= 0:
            raise BadInput(f"--duration must be more than 0 seconds, got {duration_s:g}")
        truth = self.truth(incident)
        drill = truth.scenario if hasattr(truth, "scenario") and truth.ends_at > time.time() else None
        traffic = self.lab.load()
        stopped = traffic.stop()
        if stopped:
            say(
                f"stopped the background load first ({stopped}): its orders keep arriving while verify waits for "
                "the queue to drain, so verify's unfulfilled_orders check could never pass with it running"
            )
        probe = self.lab.probe()
        before = self.snapshot()  # the impact window ends here at the latest: the run's own load is no customer
        slo = drill.slo if drill else BASELINE_SLO
        profile = drill.load if drill else DEFAULT_LOAD
        say(
            f"verify: {profile.users} users for {duration_s:g}s against "
            + ("the drill's SLO" if drill else "the lab's baseline SLO")
            + ": "
            + "; ".join(c.describe() for c in slo)
        )
        verdict = run_verify(probe, traffic, profile, duration_s, slo, f"incident-{incident.id}", progress)
        self.record_verify(incident, verdict, "the drill's SLO" if drill else "the baseline SLO", before)
        return verdict

    def record_verify_run(self, verdict, scenario_id: str | None) -> None:
        """A ``chaoslab verify`` run, onto the open incident (if any): as proof when it judged the SLO that
        resolution asks for (the running drill's, or the baseline without one), else as a note."""
        incident = self.log.current()
        if incident is None:
            return
        truth = self.truth(incident)
        drill = truth.scenario.id if hasattr(truth, "scenario") and truth.ends_at > time.time() else None
        label = f"scenario {scenario_id}'s SLO" if scenario_id else "the baseline SLO"
        if scenario_id == drill:
            self.record_verify(incident, verdict, label)
            return
        outcome = "passed" if verdict.ok else "failed"
        self.log.write(incident, "note", f"verify of {label} {outcome} (not the SLO this incident resolves against)")

    def record_verify(self, incident: Incident, verdict, slo_label: str, before: dict | None = None) -> None:
        breached = [_breach(r) for r in verdict.results if not r.ok]
        figures = verdict.figures
        text = (
            f"verify of {slo_label} passed for {verdict.duration_s:g}s ({figures.get('requests')} requests)"
            if verdict.ok
            else f"verify of {slo_label} failed: {'; '.join(breached)}"
        )
        self.log.write(
            incident,
            "verified" if verdict.ok else "verify_failed",
            text,
            {
                "duration_s": verdict.duration_s,
                "checks": [{"check": r.check.describe(), "value": r.value, "ok": r.ok} for r in verdict.results],
            }
            | ({"snapshot": before} if before else {}),
            source="lab",
        )

    # ---- review and score ---------------------------------------------------------------------
    def score_of(self, incident: Incident, reveal: bool = False) -> score.Score:
        """Graded against the truth when it is readable and not a mystery still being played (its
        times would date the impact); otherwise counted from the declaration, ungraded."""
        truth = self.truth(incident)
        if hasattr(truth, "scenario") and truth.hidden and not reveal:
            return score.measure(incident, None, score.first_answers(incident))
        self.publish_shadow(incident, truth)
        shadow = shadow_shown(self.store, incident, truth, reveal)
        return score.measure(incident, truth, graded_first_answers(incident, truth), shadow=shadow)

    def _window_end(self, incident: Incident) -> tuple[dict | None, str]:
        """Where the impact window ends: the lab's mitigation (the paging alerts resolved), else the first
        verify run (the team believed it fixed; the run's own traffic is no customer's), else the
        resolution, else now."""
        for kinds, until in (
            (("mitigated",), "the mitigation (paging alerts resolved)"),
            (("verified", "verify_failed"), "the first verify run"),
            (("resolved",), "the resolution"),
        ):
            found = [e for e in incident.of_kind(*kinds) if (e.get("data") or {}).get("snapshot")]
            if found:
                return found[0]["data"]["snapshot"], until
        return (self.snapshot() if incident.open else None), "now (still open)"

    def review(self, incident: Incident, reveal: bool) -> dict:
        truth = self.truth(incident)
        readable = hasattr(truth, "scenario")
        show_truth = readable and (reveal or not truth.hidden)
        if show_truth:
            self.publish_shadow(incident, truth)
        measured = score.measure(
            incident,
            truth if show_truth else None,
            graded_first_answers(incident, truth),
            shadow=shadow_shown(self.store, incident, truth, reveal) if show_truth else None,
        )
        if readable and not show_truth:
            measured.graded = False  # the score's times would date the impact: hidden with the rest
        end, until = self._window_end(incident)
        declared = incident.first("declared")["data"].get("snapshot")
        if show_truth and truth.baseline:
            before, basis = truth.baseline, f"the impact window, from the first fault to {until}"
        elif declared:
            before, basis = declared, f"the time from the declaration to {until}"
        else:
            before, basis = None, f"the counters' whole life (none was taken at the declaration) up to {until}"
        figures = impact.window(before, end) if end else None
        return review.draft(incident, truth, show_truth, self.deploys(), figures, basis, measured)


def _breach(result) -> str:
    """One breached check with what was measured: ``p95_ms POST /checkout <= 1500 (measured 2310)``."""
    value = "n/a" if result.value is None else f"{result.value:.4g}"
    return f"{result.check.describe()} (measured {value})"


def graded_first_answers(incident: Incident, truth) -> dict[str, dict]:
    """First triage answers, graded now where they were recorded ungraded and the key is readable."""
    first = score.first_answers(incident)
    if not hasattr(truth, "scenario"):
        return first
    for question, item in first.items():
        data = item["data"]
        if data.get("correct") is not None:
            continue
        share = None
        if question == "scope" and truth.baseline and data.get("snapshot"):
            share = impact.window(truth.baseline, data["snapshot"])["affected_share"] or 0.0
        key = triage.answer_key(incident, truth, share)
        answer = triage.Answer(question, data.get("given", ""), data.get("value"))
        data["correct"] = triage.grade(answer, key).correct
    return first


def shadow_shown(store, incident: Incident, truth, reveal: bool = False) -> list[dict] | None:
    """The shadow on-call's answers, when this caller may see them: graded (the key is readable), and
    the team has named the root cause itself, or the incident is over and no mystery is being played
    (chaoslab/diagnose/shadow.py); instructors see them with --reveal."""
    from chaoslab.diagnose import shadow
    from chaoslab.errors import ChaoslabError

    if not hasattr(truth, "scenario"):
        return None
    team_right = any(
        truth.is_root_cause(str(a["data"].get("service")), str(a["data"].get("kind")))
        for a in incident.of_kind("root_cause_answer")
        if a.get("source") != shadow.SOURCE
    )
    if not (reveal or team_right or (not incident.open and not truth.hidden)):
        return None
    try:
        return shadow.answers(store, incident.id)
    except ChaoslabError:
        return None


def instructor_score(store, incident: Incident) -> score.Score:
    """The score as an instructor sees it (graded, the shadow's answers shown) and written nowhere: for
    readers of a record they must not change, such as the console."""
    truth = answer_key.read(store, incident.declared_at, incident.resolved_at)
    return score.measure(
        incident, truth, graded_first_answers(incident, truth), shadow=shadow_shown(store, incident, truth, reveal=True)
    )
