"""The incident desk: what each incident command does, on any backend (the CLI only prints).

It reads and writes the record through the backend's journal store, measures through the backend's
probe, verifies through its load driver, and reads the truth (the answer key) only through
``chaoslab.incident.truth``, which says when this caller may not.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass

from chaoslab import command
from chaoslab.chaos.drill import DrillJournal, Run, break_refusal
from chaoslab.chaos.faults import KINDS
from chaoslab.chaos.journal import SCENARIO
from chaoslab.chaos.scenarios import DEFAULT_LOAD
from chaoslab.errors import BadInput, ChaoslabError, Refused
from chaoslab.incident import comms, impact, review, score, severity, shadow, silence, triage
from chaoslab.incident import truth as answer_key
from chaoslab.incident.alerting import AlertEvent, fired, on_alert
from chaoslab.incident.record import DISPOSITIONS, ROLES, Incident, IncidentLog
from chaoslab.incident.truth import is_graded
from chaoslab.loadtest.verify import BASELINE_SLO, DRAIN_S
from chaoslab.loadtest.verify import verify as run_verify
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

    def in_play(self, incident: Incident) -> Incident:
        """``incident``, Refused while its drill is on a break (``gameday pause``): a move made then would
        count on a clock that stands still, so the moves wait for the break's end."""
        run = self.run_of(incident)
        if run is not None and (on := run.on_break()) is not None:
            raise Refused(break_refusal(on[1]))
        return incident

    def deploys(self) -> list[dict]:
        """The change feed (every entry, oldest first)."""
        return sorted(self.lab.journals().changes.entries(), key=lambda e: e["ts"])

    def truth(self, incident: Incident):
        """The answer key of the drill run ``incident`` was bound to (chaoslab.incident.truth.read)."""
        return answer_key.read(self.store, incident)

    def run_of(self, incident: Incident) -> Run | None:
        """The drill run ``incident`` was bound to, as the board knows it (readable by every trainee)."""
        return DrillJournal(self.store).get(incident.drill)

    def impact(self, incident: Incident, truth, end: dict | None) -> tuple[dict | None, str]:
        """(the incident's impact up to ``end``'s counters, or None; why not). Counted from the drill's
        first fault when its baseline is readable, else from the declaration (``counted_from`` says
        which): the one figure SCOPE, the status updates and the review use."""
        if end is None:
            return None, "not measured: the lab's metrics did not answer"
        if is_graded(truth) and truth.baseline:
            return impact.window(truth.baseline, end) | {"counted_from": "the first fault"}, ""
        declared = incident.first("declared")["data"].get("snapshot")
        if declared:
            return impact.window(declared, end) | {"counted_from": "the declaration"}, ""
        return None, "not measured: the lab's metrics did not answer when it was declared"

    def fired(self, truth, until: float) -> list[dict]:
        """The alerts that fired from the drill's first fault to ``until`` (none without a key)."""
        return fired(self.store, truth.started_at - 1, until) if is_graded(truth) else []

    def snapshot(self) -> dict | None:
        """The services' counters now, or None when the lab does not answer."""
        return impact.counters_now(self.lab)

    # ---- opening and paging -------------------------------------------------------------------
    def declare(self, title: str, tier: str, detected_by: str, report: str, new: bool) -> Incident:
        tier = severity.normalise(tier)  # bad input first: exit 2 before any refusal
        current = self.log.story_at(time.time())
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
        incident = self.in_play(self.open_one(incident_id))
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
        return self.assign(incident_id, "commander", who)

    def mark(self, incident_id: str | None, disposition: str, reason: str, of: str | None = None) -> Incident:
        """Close an open incident as a false positive or a duplicate of another: it stays on the record,
        with the reason, and out of the scores."""
        if disposition not in DISPOSITIONS:
            raise BadInput(f"unknown disposition {disposition!r}; one of {', '.join(DISPOSITIONS)}")
        incident = self.open_one(incident_id)
        reason = " ".join(reason.split())[:500]
        if not reason:
            raise BadInput("say why, e.g. --reason 'the verify's own load paged'")
        data = {"as": disposition, "reason": reason}
        if disposition == "duplicate":
            other = self.get(of) if of else None
            if other is None or other.id == incident.id:
                raise BadInput("name the incident it duplicates, e.g. --of INC-2 (another incident)")
            data["of"] = other.id
            text = f"closed as a duplicate of {other.id}: {reason}"
        else:
            text = f"closed as a false positive: {reason}"
        self.log.write(incident, "disposition", text, data)
        return self.log.get(incident.id)

    def assign(self, incident_id: str | None, role: str, who: str) -> Incident:
        """Hand a response role (ROLES) to a person, by the name they go by; a hand-off is the same call."""
        if role not in ROLES:
            raise BadInput(f"unknown role {role!r}; one of {', '.join(ROLES)}")
        incident = self.open_one(incident_id)
        who = " ".join(who.split())[:100]
        if not who:
            raise BadInput(f"name the {role}, e.g. `{command(f'incident role assign {role} Ana')}`")
        before = incident.roles.get(role)
        said = f"{ROLES[role].split(':')[0]}: {who}" + (f" (was {before})" if before and before != who else "")
        self.log.write(incident, "role", said, {"role": role, "name": who})
        return self.log.get(incident.id)

    def note(
        self,
        incident_id: str | None,
        text: str,
        kind: str,
        links: tuple[str, ...] = (),
        key: bool = False,
        corrects: int | None = None,
    ) -> dict:
        """A note or a hypothesis; ``key``: a key moment, which the review lists on its own; ``corrects``:
        the number of the note it replaces (that note stays on the record, marked)."""
        incident = self.get(incident_id)
        text = " ".join(text.split())
        if not text:
            raise BadInput("a note needs some text")
        bad = [link for link in links if not link.strip() or len(link) > 500 or any(c.isspace() for c in link)]
        if bad:
            raise BadInput(
                f"--link {bad[0][:60]!r}: a trace id, a query or a URL, without spaces, up to 500 characters"
            )
        data: dict = {"key": True} if key else {}
        if corrects is not None:
            old = incident.numbered(corrects)
            if old is None or old.get("source") != "team":
                raise BadInput(
                    f"--corrects {corrects}: {incident.id} has no note #{corrects} of the team's; "
                    f"`{command('incident show')}` numbers them"
                )
            if "superseded_by" in old:
                raise Refused(f"note #{corrects} was already corrected by #{old['superseded_by']}: correct that one")
            data["corrects"] = corrects
            kind = old["kind"] if kind == "note" else kind  # a corrected hypothesis stays a hypothesis
            if (old.get("data") or {}).get("key"):
                data["key"] = True  # the correction is the key moment now
        return self.log.write(incident, kind, text[:2000], data or None, links=list(links))

    def update(self, incident_id: str | None, moment: str, audience: str, say: str) -> str:
        incident = self.in_play(self.get(incident_id))
        if moment == "ack" and incident.acknowledged_at is None:
            raise Refused(f"{incident.id} is not acknowledged yet: `{command('incident ack')}` first")
        if moment == "resolved" and incident.open:
            raise Refused(f"{incident.id} is not resolved yet: `{command('incident resolve')}` first")
        if moment == "status" and not incident.open:
            raise Refused(f"{incident.id} is resolved: announce it with `{command('incident update resolved')}`")
        end, _ = self._window_end(incident)  # as the review counts it: a verify's own traffic is no customer's
        figures, _ = self.impact(incident, self.truth(incident), end)
        text = comms.render(moment, audience, incident, self.deploys(), say, figures=figures)
        self.log.write(incident, "status_update", text, {"moment": moment, "audience": audience})
        return text

    def triage(self, incident_id: str | None, raw: dict[str, str]) -> list[triage.Answer]:
        """Record the answers; grade each question's first answer at once (the later ones are graded when
        the drill is no longer secret: asking again must not find the answer)."""
        incident = self.in_play(self.open_one(incident_id))
        ids = {d["id"] for d in self.deploys() if d.get("id")}
        answers = [triage.parse(q, raw[q], change_ids=ids) for q in triage.QUESTIONS if raw.get(q) is not None]
        if not answers:
            raise BadInput("no answer given; answer one or more of --what --when --scope --change --owner")
        truth = self.truth(incident)
        now = time.time()
        answered = score.first_answers(incident)
        late = score.late_reason(truth, now) if is_graded(truth) else None
        counters = self.snapshot() if any(a.question == "scope" for a in answers) else None
        figures, why = self.impact(incident, truth, counters)
        share = figures["affected_share"] if figures else None
        why = why or f"no checkout, order or charge since {figures['counted_from']}"
        key = triage.answer_key(truth, self.fired(truth, now), share, why)
        for answer in answers:
            first = answer.question not in answered
            if not first:
                answer.note = "recorded; only your first answer counts (later ones are graded at the reveal)"
            elif late:
                answer.note = f"recorded, no credit: given {late}"
            else:
                triage.grade(answer, key)
            data = {
                "question": answer.question,
                "value": answer.value,
                "given": answer.given,
                "correct": answer.correct,
                "first": first,
                "late": late if first else None,
            }
            if answer.question == "scope" and counters:
                data["snapshot"] = counters  # so the instructor can grade it later from the same counters
            shown = comms.clock(answer.value) if answer.question == "when" else answer.given
            self.log.write(incident, "triage_answer", f"{answer.question.upper()}: {shown}", data)
        return answers

    def rootcause(self, incident_id: str | None, service: str, kind: str) -> tuple[bool | None, str]:
        if service not in SERVICE_NAMES:
            raise BadInput(f"--service {service!r}: use one of {', '.join(SERVICE_NAMES)}")
        if kind not in KINDS:
            raise BadInput(f"--kind {kind!r}: use one of {', '.join(KINDS)} (`{command('fault kinds')}` explains each)")
        incident = self.in_play(self.open_one(incident_id))
        truth = self.truth(incident)
        late = score.late_reason(truth, time.time()) if is_graded(truth) else None
        correct: bool | None = None
        if late:
            said = f"recorded, no credit: given {late}"
        elif is_graded(truth):
            correct = truth.is_root_cause(service, kind)
            said = "right" if correct else "wrong (it counts; try again)"
        elif truth is None:
            said = "recorded, not graded: no drill was running when this incident was declared"
        else:
            said = f"recorded, not graded ({truth.reason}); the instructor's `{command('score')}` grades it"
        self.log.write(
            incident,
            "root_cause_answer",
            f"root cause: {kind} on {service}",
            {"service": service, "kind": kind, "correct": correct, "late": late},
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
        """Resolve after a passing verify of the drill's SLO (the lab's baseline without a drill), run now
        unless one already passed after the last deploy. A drill that ended (its time limit, a stop)
        before a fix was verified leaves nothing to verify a fix against: the incident is resolved as
        that, never as a verified fix. ``unverified`` resolves without proof."""
        incident = self.in_play(self.open_one(incident_id))
        end = self.snapshot()
        if unverified:
            self._resolved(incident, False, end, "resolved, unverified: no passing verify after the last deploy")
            return Resolution(self.log.get(incident.id), False)
        run = self.run_of(incident)
        last_deploy = max((d["ts"] for d in self.deploys() if d["ts"] >= incident.declared_at), default=0.0)
        proof = [
            e
            for e in incident.of_kind("verified")
            if e["ts"] > last_deploy and (run is None or e["ts"] <= run.ended_at)
        ]
        if proof:
            self._resolved(incident, True, end, f"resolved: verified at {comms.clock(proof[-1]['ts'])}")
            return Resolution(self.log.get(incident.id), True)
        if run is not None and not run.running():
            how = drill_ended(run)
            self._resolved(
                incident,
                False,
                end,
                f"resolved: the drill {how} before a fix was verified (nothing left to verify a fix against)",
                outcome=run.stage(),
            )
            return Resolution(self.log.get(incident.id), False)
        verdict = self.verify(incident, duration_s, say, progress)
        if not verdict.ok:
            breached = "; ".join(_breach(r) for r in verdict.results if not r.ok)
            raise Refused(
                f"{incident.id} stays open: verify failed ({breached}). Fix and resolve again, or "
                f"`{command('incident resolve --unverified')}` to close it as resolved, unverified"
            )
        self._resolved(incident, True, end, f"resolved: verify passed for {duration_s:g}s under load")
        return Resolution(self.log.get(incident.id), True, verdict)

    def _resolved(self, incident: Incident, verified: bool, end: dict | None, text: str, outcome: str = "") -> None:
        data: dict = {"verified": verified}
        if outcome:
            data["outcome"] = outcome
        if end:
            data["snapshot"] = end
        self.log.write(incident, "resolved", text, data)
        self.publish_shadow(self.log.get(incident.id))

    # ---- the shadow on-call -------------------------------------------------------------------
    def publish_shadow(self, incident: Incident, truth=None) -> None:
        """Put the shadow on-call's first right answer on the timeline once the team may see it."""
        truth = self.truth(incident) if truth is None else truth
        given = shadow_shown(self.store, incident, truth)
        if given:
            shadow.publish(self.log, incident, given, truth.is_root_cause)

    # ---- verify -------------------------------------------------------------------------------
    def drill_slo(self, incident: Incident | None):
        """(the scenario whose SLO a fix must hold, or None for the lab's baseline; the drill's healthy
        figures) for an incident: its drill's while that drill is being played and readable."""
        if incident is None:
            return None, None
        run = self.run_of(incident)
        truth = self.truth(incident)
        if run is None or not run.running() or not is_graded(truth):
            return None, None
        return truth.scenario, run.healthy

    def verify(
        self, incident: Incident, duration_s: float, say: Callable[[str], None], progress: Callable[[float, dict], None]
    ):
        """One verify run of the SLO resolution asks for; recorded on the timeline either way."""
        if duration_s <= 0:
            raise BadInput(f"--duration must be more than 0 seconds, got {duration_s:g}")
        self.in_play(incident)
        drill, healthy = self.drill_slo(incident)
        traffic = self.lab.load()
        stopped = traffic.stop()
        if stopped:
            say(
                f"stopped the background load first ({stopped}): its orders keep arriving while verify waits for "
                "the queue to drain, so verify's unfulfilled_orders check could never pass with it running"
            )
        before = self.snapshot()  # the impact window ends here at the latest: the run's own load is no customer
        slo = drill.slo if drill else BASELINE_SLO
        profile = drill.load if drill else DEFAULT_LOAD
        say(
            f"verify: {profile.users} users for {duration_s:g}s against "
            + ("the drill's SLO" if drill else "the lab's baseline SLO")
            + ": "
            + "; ".join(c.describe() for c in slo)
        )
        waived = drill.accepted_books if drill else ()
        label = f"incident-{incident.id}"
        verdict = self.run_verify(profile, duration_s, slo, label, progress, healthy, waived, say)
        self.record_verify(incident, verdict, "the drill's SLO" if drill else "the baseline SLO", before)
        return verdict

    def healthy_for(self, scenario_id: str | None) -> dict | None:
        """The healthy figures of the drill being played, when it is ``scenario_id`` (a verify of another
        scenario's SLO runs another traffic: they would not compare)."""
        run = DrillJournal(self.store).latest()
        if not scenario_id or run is None or not run.running():
            return None
        try:
            note = json.loads(self.store.read(SCENARIO) or "null") or {}
        except (ChaoslabError, ValueError):
            return None  # a graded trainee may not read which scenario runs: the SLO's own bounds judge
        return run.healthy if note.get("run") == run.id and note.get("id") == scenario_id else None

    def run_verify(
        self,
        profile,
        duration_s: float,
        slo,
        label: str,
        progress,
        healthy: dict | None = None,
        waived=(),
        say: Callable[[str], None] | None = None,
    ):
        """``chaoslab.loadtest.verify.verify`` on this lab, with its pages silenced (and ``say`` told so):
        the run's own traffic is the team's test, not a customer, and never opens an incident
        (chaoslab.incident.silence)."""
        probe = self.lab.probe()
        muted = silence.for_run(self.store, duration_s + DRAIN_S, f"verify ({label})", self.lab.actor)
        if say is not None:
            say(
                f"new pages silenced until {comms.clock(muted['until'])} ({muted['id']}): this run's own "
                "traffic is no customer's"
            )
        return run_verify(
            probe, self.lab.load(), profile, duration_s, slo, label, progress, healthy=healthy, waived=waived
        )

    def record_verify_run(self, verdict, scenario_id: str | None) -> None:
        """A ``chaoslab verify`` run, onto the open incident (if any): as proof when it judged the SLO that
        resolution asks for (the running drill's, or the baseline without one), else (or when it ended
        during a break) as a note."""
        incident = self.log.current()
        if incident is None:
            return
        drill, _ = self.drill_slo(incident)
        label = f"scenario {scenario_id}'s SLO" if scenario_id else "the baseline SLO"
        run = self.run_of(incident)
        if run is not None and run.on_break():
            self.log.write(incident, "note", f"verify of {label} ran during a break (a move then does not count)")
            return
        if scenario_id == (drill.id if drill else None):
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
                "checks": [
                    {"check": r.check.describe(), "value": r.value, "ok": r.ok, "note": r.note} for r in verdict.results
                ],
            }
            | ({"snapshot": before} if before else {}),
            source="lab",
        )

    # ---- review and score ---------------------------------------------------------------------
    def score_of(self, incident: Incident, reveal: bool = False) -> score.Score:
        """Graded against the truth when it is readable and not a mystery still being played (its
        times would date the impact); otherwise counted from the declaration, ungraded."""
        truth = self.truth(incident)
        if is_graded(truth) and truth.secret and not reveal:
            hidden = score.measure(incident, None, score.first_answers(incident), breaks=truth.run.breaks)
            hidden.drill_end = score.ended_in_words(truth, time.time())
            return hidden
        self.publish_shadow(incident, truth)
        shadow = shadow_shown(self.store, incident, truth, reveal)
        return score.measure(incident, truth, graded_first_answers(self.store, incident, truth), shadow=shadow)

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
        show_truth = is_graded(truth) and (reveal or not truth.secret)
        measured = self.score_of(incident, reveal)
        end, until = self._window_end(incident)
        figures, why = self.impact(incident, truth, end)
        if figures and not show_truth:
            figures.pop("from", None)  # when the impact started is WHEN's answer
        basis = f"from {figures['counted_from']} to {until}" if figures else why
        return review.draft(incident, truth, show_truth, self.deploys(), figures, basis, measured)


def drill_ended(run: Run) -> str:
    """How a drill run ended, in words that do not name it."""
    if run.expired():
        return "ended by its time limit"
    return "was reset" if run.stop_reason == "reset" else "was stopped"


def _breach(result) -> str:
    """One breached check with what was measured: ``p95_ms POST /checkout <= 1500 (measured 2310)``."""
    value = "n/a" if result.value is None else f"{result.value:.4g}"
    return f"{result.check.describe()} (measured {value})"


def graded_first_answers(store, incident: Incident, truth) -> dict[str, dict]:
    """First triage answers, graded now where they were recorded ungraded and the key is readable (a
    graded cohort's trainees cannot read it), late ones left ungraded."""
    first = score.first_answers(incident)
    if not is_graded(truth):
        return first
    for question, item in first.items():
        data = item["data"]
        if data.get("correct") is not None:
            continue
        data["late"] = score.late_reason(truth, item["ts"])
        if data["late"]:
            continue
        share = None
        if question == "scope" and data.get("snapshot"):
            before = truth.baseline or incident.first("declared")["data"].get("snapshot")
            share = impact.window(before, data["snapshot"])["affected_share"] if before else None
        key = triage.answer_key(truth, fired(store, truth.started_at - 1, item["ts"]), share)
        answer = triage.Answer(question, data.get("given", ""), data.get("value"))
        data["correct"] = triage.grade(answer, key).correct
    return first


def shadow_shown(store, incident: Incident, truth, reveal: bool = False) -> list[dict] | None:
    """The shadow on-call's answers, when this caller may see them: graded (the key is readable), and
    the team has named the root cause itself, or the incident is over and no mystery is being played
    (chaoslab/diagnose/shadow.py); instructors see them with --reveal."""
    if not is_graded(truth):
        return None
    team_right = any(
        truth.is_root_cause(str(a["data"].get("service")), str(a["data"].get("kind")))
        for a in incident.of_kind("root_cause_answer")
        if a.get("source") != shadow.SOURCE
    )
    if not (reveal or team_right or (not incident.open and not truth.secret)):
        return None
    try:
        return shadow.answers(store, incident.id)
    except ChaoslabError:
        return None


def instructor_score(store, incident: Incident) -> score.Score:
    """The score as an instructor sees it (graded, the shadow's answers shown) and written nowhere: for
    readers of a record they must not change, such as the console."""
    truth = answer_key.read(store, incident)
    return score.measure(
        incident,
        truth,
        graded_first_answers(store, incident, truth),
        shadow=shadow_shown(store, incident, truth, reveal=True),
    )
