"""Scores: the incident's times and counts, one number to rank by, and medians per scenario.

All times count from the impact's start (the drill's first fault; TRAINING.md, "Scores"):

* TTD: to detection, the acknowledgment or the moment WHAT and WHEN were both answered right,
  whichever came first;
* TTA: to the acknowledgment;
* TTRC: to the first right root-cause answer (service and fault kind);
* TTM: to mitigation, the SLIs back in target (the incident's paging alerts resolved, or a passing
  verify) while the drill's faults were still in force;
* TTVF: to a verified fix: a passing ``verify`` of the drill's SLO while its faults were still in
  force (the team's change made it pass, not the clock).

A break (``gameday pause``) stops the clock: every time leaves out the part of a break that fell
before it (``paused_s`` says how much in all).

An answer given after the drill ended (stopped, or its time limit) or after it was revealed is
recorded and marked late; it is neither right nor wrong and earns nothing.

Beside them, the shadow on-call's time to the same right answer (``shadow_ttrc_s``, chaoslab/diagnose/
shadow.py): not part of the team's ranking, the figure to race against.

The ranking is penalty time in the manner of a programming contest (docs/scoring.md):
``effective = TTVF + 2 min × wrong root-cause answers + 3 min × hints + 1 min × triage questions not
answered right + 2 min × overdue status updates``. Teams with a verified fix rank first by it; then
those that named the root cause, by TTRC plus penalties; then those that only detected it, by TTD
plus penalties. Ties break on TTRC, then TTD. ``normalised`` divides a team's effective time by the
median of every incident of the same scenario in the comparison, so a hard drill and an easy one
read alike (1.0 is the median; only incidents that reached the same stage are compared).
"""

from __future__ import annotations

import statistics
import time
from dataclasses import asdict, dataclass, field

from chaoslab.chaos.drill import Break, after_play, on_break, played
from chaoslab.incident.record import Incident
from chaoslab.incident.triage import QUESTIONS
from chaoslab.incident.truth import ROOT_CAUSE_BAR_S, is_graded
from chaoslab.timefmt import duration

PENALTY_MIN = {"wrong_root_causes": 2, "hints": 3, "triage_missed": 1, "overdue_updates": 2}
"""Minutes added to the ranking time per count (docs/scoring.md)."""
STAGES = ("verified fix", "root cause", "detected", "nothing yet")


@dataclass
class Score:
    incident: str
    scenario: str | None
    graded: bool
    """False when no answer key was readable: times count from the declaration, answers are unmarked."""
    t0: float
    ttd_s: float | None = None
    tta_s: float | None = None
    ttrc_s: float | None = None
    ttm_s: float | None = None
    ttvf_s: float | None = None
    first_update_s: float | None = None
    """From the declaration to the first status update."""
    wrong_root_causes: int = 0
    hints: int = 0
    triage_right: int = 0
    triage_answered: int = 0
    overdue_updates: int = 0
    escalations: int = 0
    penalty_min: float = 0.0
    stage: str = "nothing yet"
    effective_min: float | None = None
    root_cause_bar_met: bool | None = None
    normalised: float | None = None
    team: str = ""
    triage: dict = field(default_factory=dict)
    """Question → right / wrong / not graded / unanswered (first answers)."""
    shadow_ttrc_s: float | None = None
    """When the shadow on-call first named a right root cause, from the same start (None: not yet, or
    not shown to this caller yet)."""
    shadow_answers: int = 0
    """How many answers the shadow on-call gave (shown to this caller), right or wrong."""
    late_answers: int = 0
    """Root-cause and triage answers given after the drill ended or was revealed: recorded, no credit."""
    paused_s: float = 0.0
    """Time on a break from the start to the resolve (or now), left out of every time above."""
    breaks: list[Break] = field(default_factory=list)
    """The drill's breaks (``gameday pause``): a time above is ``t0`` plus that much play, breaks aside."""
    drill_end: str | None = None
    """How the drill ended, in words a trainee may read ("by its time limit", "stopped", "reset"); None
    while it runs or when no drill is graded."""

    def at(self, seconds: float | None) -> float | None:
        """The wall-clock moment of one of the times above (``seconds`` of play after ``t0``)."""
        return None if seconds is None else after_play(self.breaks, self.t0, seconds)

    def rank_key(self) -> tuple:
        big = float("inf")
        return (
            STAGES.index(self.stage),
            self.effective_min if self.effective_min is not None else big,
            self.ttrc_s if self.ttrc_s is not None else big,
            self.ttd_s if self.ttd_s is not None else big,
        )

    def to_json(self) -> dict:
        return asdict(self)


def measure(
    incident: Incident,
    truth,
    graded_triage: dict[str, dict],
    now: float | None = None,
    shadow: list[dict] | None = None,
    breaks: list[Break] | None = None,
) -> Score:
    """The score of one incident. ``truth`` is a chaoslab.incident.truth.Truth (None or Unreadable: not
    graded); ``graded_triage`` maps each question to its first answer's entry, marked right or wrong
    (see chaoslab.incident.triage.grade); ``shadow`` the shadow on-call's answers (graded here too);
    ``breaks`` the drill's breaks (default: the graded run's)."""
    now = time.time() if now is None else now
    graded = is_graded(truth)
    breaks = (truth.run.breaks if graded else []) if breaks is None else breaks
    t0 = truth.started_at if graded else incident.declared_at
    end = incident.resolved_at or now

    def played_to(ts: float | None, start: float = t0) -> float | None:
        """Seconds of play from ``start`` to ``ts`` (a break stops the clock); None for no ``ts``."""
        return None if ts is None else round(max(0.0, played(breaks, start, ts)), 1)

    score = Score(incident.id, truth.scenario.id if graded else None, graded, t0, breaks=list(breaks))
    score.paused_s = round(on_break(breaks, t0, end), 1)
    score.tta_s = played_to(incident.acknowledged_at)
    what, when = graded_triage.get("what"), graded_triage.get("when")
    detected = [incident.acknowledged_at] if incident.acknowledged_at is not None else []
    if what and when and what["data"].get("correct") and when["data"].get("correct"):
        detected.append(max(what["ts"], when["ts"]))
    score.ttd_s = played_to(min(detected)) if detected else None
    answers = [a for a in incident.of_kind("root_cause_answer") if a.get("source") != "shadow"]
    if graded:
        for item in answers:
            late = late_reason(truth, item["ts"])
            item["data"]["correct"] = (
                None if late else truth.is_root_cause(item["data"]["service"], item["data"]["kind"])
            )
            item["data"]["late"] = late
        score.drill_end = ended_in_words(truth, end)  # how it ended while the incident was still being worked
    score.late_answers = len([a for a in answers if a["data"].get("late")])
    score.late_answers += len([a for a in graded_triage.values() if a["data"].get("late")])
    right = [a for a in answers if a["data"].get("correct")]
    score.wrong_root_causes = len([a for a in answers if a["data"].get("correct") is False])
    score.ttrc_s = played_to(right[0]["ts"]) if right else None
    if graded and shadow:
        score.shadow_answers = len(shadow)
        right_shadow = [a for a in shadow if truth.is_root_cause(str(a.get("service")), str(a.get("kind")))]
        score.shadow_ttrc_s = played_to(right_shadow[0]["ts"]) if right_shadow else None
    mitigated = incident.of_kind("mitigated", "verified")
    verified = incident.of_kind("verified")
    if graded:  # the team's change made it pass, not the clock: only while the drill's faults were in force
        mitigated = [e for e in mitigated if truth.in_force(e["ts"])]
        verified = [e for e in verified if truth.in_force(e["ts"])]
    score.ttm_s = played_to(mitigated[0]["ts"]) if mitigated else None
    score.ttvf_s = played_to(verified[0]["ts"]) if verified else None
    updates = incident.of_kind("status_update")
    score.first_update_s = played_to(updates[0]["ts"], incident.declared_at) if updates else None
    score.hints = len([h for h in getattr(truth, "hints", []) if t0 - 1 <= h["ts"] <= end])
    score.overdue_updates = len(incident.of_kind("update_overdue"))
    score.escalations = len(incident.of_kind("escalated"))
    for question in QUESTIONS:
        first = graded_triage.get(question)
        if first is None:
            score.triage[question] = "unanswered"
            continue
        score.triage_answered += 1
        correct = first["data"].get("correct")
        score.triage[question] = {True: "right", False: "wrong", None: "not graded"}[correct]
        score.triage_right += correct is True
    missed = len(QUESTIONS) - score.triage_right
    score.penalty_min = float(
        PENALTY_MIN["wrong_root_causes"] * score.wrong_root_causes
        + PENALTY_MIN["hints"] * score.hints
        + PENALTY_MIN["triage_missed"] * missed
        + PENALTY_MIN["overdue_updates"] * score.overdue_updates
    )
    for stage, seconds in (("verified fix", score.ttvf_s), ("root cause", score.ttrc_s), ("detected", score.ttd_s)):
        if seconds is not None:
            score.stage = stage
            score.effective_min = round(seconds / 60 + score.penalty_min, 1)
            break
    if graded:
        score.root_cause_bar_met = score.ttrc_s is not None and score.ttrc_s <= ROOT_CAUSE_BAR_S
    return score


def late_reason(truth, ts: float) -> str | None:
    """Why an answer given at ``ts`` earns nothing (the drill had ended, or was revealed), or None."""
    if truth.run.revealed_at is not None and ts >= truth.run.revealed_at:
        return "after the drill was revealed"
    if ts >= truth.ends_at:
        return "after the drill " + ("ended by its time limit" if truth.run.expired() else "was stopped")
    return None


def ended_in_words(truth, now: float) -> str | None:
    """How the drill had ended by ``now``, without naming it; None when it still ran then."""
    if truth.run.running(now):
        return None
    if truth.run.expired(now):
        return "ended by its time limit"
    return "reset" if truth.run.stop_reason == "reset" else "stopped"


def first_answers(incident: Incident) -> dict[str, dict]:
    """Each triage question's first answer entry (the one that counts)."""
    found: dict[str, dict] = {}
    for item in incident.of_kind("triage_answer"):
        found.setdefault(item["data"]["question"], item)
    return found


def ranked(scores: list[Score]) -> list[Score]:
    """Best first, with ``normalised`` filled in against the median effective time of the incidents of the
    same scenario that reached the same stage."""
    by_scenario: dict[tuple, list[float]] = {}
    for s in scores:
        if s.effective_min is not None:
            by_scenario.setdefault((s.scenario, s.stage), []).append(s.effective_min)
    for s in scores:
        times = by_scenario.get((s.scenario, s.stage))
        if s.effective_min is not None and times:
            median = statistics.median(times)
            s.normalised = round(s.effective_min / median, 2) if median else None
    return sorted(scores, key=Score.rank_key)


def trend(scored: list[tuple[Incident, Score]]) -> dict:
    """A team's drills in order, each with its TTA, TTRC and TTR (to the resolve, from the same start as
    its score), and their means over the incidents that have each: MTTA, MTTR, mean TTRC."""
    drills = []
    for incident, s in sorted(scored, key=lambda pair: pair[0].declared_at):
        ttr = None if incident.resolved_at is None else round(incident.resolved_at - s.t0 - s.paused_s, 1)
        drills.append(
            {
                "incident": incident.id,
                "declared_at": incident.declared_at,
                "scenario": s.scenario,
                "graded": s.graded,
                "stage": s.stage,
                "tta_s": s.tta_s,
                "ttrc_s": s.ttrc_s,
                "ttr_s": ttr,
            }
        )
    means = {}
    for key in ("tta", "ttrc", "ttr"):
        values = [d[f"{key}_s"] for d in drills if d[f"{key}_s"] is not None]
        means[key] = {"mean_s": round(sum(values) / len(values), 1) if values else None, "n": len(values)}
    return {"drills": drills, "means": means}


def table(board: list[Score]) -> list[str]:
    """The ranked scores (``ranked``) as `chaoslab score` prints them: a row each, then their notes."""

    def t(seconds):
        return duration(seconds) if seconds is not None else "-"

    lines = [
        f"{'#':>2} {'TEAM':<8} {'INCIDENT':<8} {'SCENARIO':<17} {'STAGE':<12} {'RANK MIN':>8} {'NORM':>5} "
        f"{'TTD':>6} {'TTA':>6} {'TTRC':>6} {'TTM':>6} {'TTVF':>6} TRIAGE WRONG HINTS OVERDUE"
    ]
    for n, s in enumerate(board, 1):
        scenario = s.scenario if s.scenario else ("(not graded)" if not s.graded else "-")
        lines.append(
            f"{n:>2} {(s.team or '-'):<8} {s.incident:<8} {scenario:<17} {s.stage:<12} "
            f"{(s.effective_min if s.effective_min is not None else '-'):>8} {(s.normalised or '-'):>5} "
            f"{t(s.ttd_s):>6} {t(s.tta_s):>6} {t(s.ttrc_s):>6} {t(s.ttm_s):>6} {t(s.ttvf_s):>6} "
            f"{s.triage_right}/5{'':<2} {s.wrong_root_causes:>5} {s.hints:>5} {s.overdue_updates:>7}"
        )
    for s in board:
        if s.drill_end:
            late = f"; {s.late_answers} answer(s) after that earned nothing" if s.late_answers else ""
            lines.append(f"{s.incident}: its drill {s.drill_end} while the incident was open{late}")
        if s.shadow_ttrc_s is not None:
            yours = f"you at {t(s.ttrc_s)}" if s.ttrc_s is not None else "you: not yet"
            lines.append(f"{s.incident}: the shadow on-call found the root cause at {t(s.shadow_ttrc_s)}, {yours}")
    return lines
