"""A diagnosis for people: the ranked answer as text, and the evidence alone as a prompt for an AI
assistant (``--prompt``), which gets the facts and the vocabulary but not the ranking, so that its
answer is its own (the workshop compares it with the team's and the shadow's)."""

from __future__ import annotations

import time

from chaoslab.chaos.faults import KINDS
from chaoslab.diagnose.rank import Diagnosis
from chaoslab.escape import printable
from chaoslab.topology import COMPONENTS


def _clock(ts: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(ts))


def _since(seconds: float) -> str:
    return f"{seconds / 60:g}m" if seconds % 60 == 0 else f"{seconds:g}s"


def text(d: Diagnosis) -> str:
    p = printable
    inputs = d.inputs
    lines = [
        f"diagnosis of {p(d.where)} at {_clock(d.at)}, looking back {_since(d.since_s)} "
        f"({inputs.get('spans_in_recent_window', 0)} spans in the last {inputs.get('recent_window_s', 20):g} s, "
        f"{inputs.get('baseline_frames', 0)} healthy reference frames of 5 s, "
        f"{inputs.get('metric_scrapes', 0)} metric scrapes, {inputs.get('changes', 0)} changes)",
        reference(inputs.get("reference") or {}),
        "",
    ]
    if d.symptom:
        lines.append("symptom:")
        lines += [f"  {p(s)}" for s in d.symptom]
    else:
        lines.append("symptom: none the users feel (nothing slow, failing or stuck at the front door)")
    if d.alerts:
        lines.append("alerts firing: " + "; ".join(p(a) for a in d.alerts))
    if d.path:
        lines.append("path of the trouble: " + "; ".join(p(w) for w in d.path))
    lines.append("")
    if not d.candidates:
        lines.append("no cause found: every element and service is within its baseline")
    else:
        lines.append(f" #  {'cause':<34} confidence")
        for n, c in enumerate(d.candidates, 1):
            cause = f"{c.kind} on {c.service}"
            lines.append(f"{n:>2}  {p(cause):<34} {c.confidence:.2f}")
            lines += [f"      - {p(e)}" for e in c.evidence]
            if c.traces:
                lines.append(f"      traces: {', '.join(p(t) for t in c.traces)}  (chaoslab traces --trace ID)")
            if c.queries:
                lines.append(f"      metrics: {'; '.join(p(q) for q in c.queries)}")
    if d.ruled_out:
        lines += ["", "ruled out:"]
        lines += [f"  - {p(r)}" for r in d.ruled_out]
    if d.changes:
        lines += ["", "changes in the window:"]
        lines += [f"  - {p(c)}" for c in d.changes]
    return "\n".join(lines)


def reference(status: dict) -> str:
    """What the healthy reference is, in one line: how old, and why it is not learning now."""
    if not status.get("latest"):
        return "healthy reference: none learned yet (the lab's design stands in)"
    line = f"healthy reference: newest frame from {_clock(status['latest'])}"
    if status.get("paused_since"):
        line += f"; not learning since {_clock(status['paused_since'])} ({status.get('why', '')})"
    return printable(line)


def prompt(d: Diagnosis) -> str:
    """The evidence as a prompt: the system, the vocabulary, the facts (neither ranked nor judged), and
    the form of the answer."""
    facts = sorted({e for c in d.candidates for e in c.evidence})
    system = [f"- {c.name}: {c.role}" for c in COMPONENTS]
    kinds = [f"- {k.name}: {k.summary}" for k in KINDS.values() if not k.kubernetes_only]
    parts = [
        "You are helping an on-call engineer find the root cause of an incident in a small online shop.",
        "",
        "The system (service-a is the public API; it calls service-b over gRPC, which calls service-c; "
        "service-a calls payment, which calls the gateway, a third party; the worker fulfils paid orders "
        "from a Redis stream; postgres and redis are the datastores):",
        *system,
        "",
        "The kinds of cause to choose from:",
        *kinds,
        "",
        f"What was observed at {_clock(d.at)}, comparing the last {d.inputs.get('recent_window_s', 20):g} s with "
        f"the last {_since(d.since_s)} of frames when the lab was healthy:",
        *(f"- {s}" for s in d.symptom or ["nothing slow, failing or stuck at the front door"]),
        *(f"- alert firing: {a}" for a in d.alerts),
        "",
        "Anomalies found in traces and metrics:",
        *(f"- {f}" for f in facts or ["none"]),
        "",
        "Recent deploys (the change feed):",
        *(f"- {c}" for c in d.changes or ["none"]),
        "",
        "Answer with one line `ROOT CAUSE: <service> <kind>` and then at most five lines of reasoning that "
        "cite the observations above. If two causes are likely, give the more likely first.",
    ]
    return "\n".join(printable(line) for line in parts)
