"""The diagnosis on the local lab: the lab daemon feeds it every span it receives, scrapes the services'
metrics for it, keeps its healthy reference up to date, serves it on ``GET /api/diagnose`` (with the
lab's token) and runs the shadow on-call.

Its inputs are the daemon's trainee-side stores only (chaoslab.local.console.LocalSource: the service
graph, the services' /metrics, the change feed, the alerts; the supervisor's process states): the same
things `chaoslab traces`, `chaoslab status`, `chaoslab changes`, `chaoslab alerts` and the console's
trainee view show.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from functools import partial

from flask import jsonify, request

from chaoslab.chaos.journal import FileStore
from chaoslab.diagnose import DEFAULT_SINCE_S
from chaoslab.diagnose.metrics import ScrapeHistory
from chaoslab.diagnose.rank import Diagnosis, diagnose
from chaoslab.diagnose.record import FRAME_S, Recorder
from chaoslab.diagnose.reference import Reference
from chaoslab.diagnose.shadow import ShadowOnCall
from chaoslab.incident.mystery import redact
from chaoslab.local.console import LocalSource

MAX_SINCE_S = 900.0
"""How far back the daemon remembers (the recorder's frames, the scrapes, the healthy reference)."""


class LocalInputs:
    """chaoslab.diagnose.evidence.Inputs on the lab daemon's stores."""

    def __init__(self, recorder: Recorder, history: ScrapeHistory, source, processes: Callable[[], list[dict]]):
        self.where = source.where
        self.metrics = history
        self._recorder = recorder
        self._source = source
        self._processes = processes

    def now(self) -> float:
        return time.time()

    def facts(self, start: float, end: float):
        return self._recorder.facts(start, end)

    def frames(self, start: float, end: float):
        return self._recorder.frames(start, end)

    def open_calls(self):
        return self._recorder.open_calls()

    def graph(self, window_s: float):
        return self._source.graph(window_s)

    def changes(self, since: float) -> list[dict]:
        return [dict(c, summary=redact(str(c.get("summary", "")))) for c in self._source.changes(since)]

    def processes(self) -> dict[str, dict]:
        return {p["name"]: {"state": p["state"], "restarts": p.get("restarts", 0)} for p in self._processes()}

    def alerts(self) -> list[dict]:
        state = self._source.alerts()
        return list(state.get("alerts", [])) if state else []


class LocalDiagnosis:
    def __init__(self, inputs: LocalInputs, recorder: Recorder, history: ScrapeHistory, shadow=None):
        self.inputs = inputs
        self.recorder = recorder
        self.history = history
        self.reference = Reference(keep_s=MAX_SINCE_S)
        self.shadow = shadow
        self._lock = threading.Lock()

    def add(self, spans: list[dict]) -> None:
        self.recorder.add(spans)

    def diagnose(self, since_s: float) -> Diagnosis:
        with self._lock:  # one at a time: the shadow and a CLI asking at once share the CPU
            return diagnose(self.inputs, min(since_s, MAX_SINCE_S), self.reference)

    def learn(self, stopping: threading.Event) -> None:
        """Judge each frame for the healthy reference as it closes, whether or not anyone asks: a fault
        that began before the first question must find the reference from before it."""
        while not stopping.wait(FRAME_S):
            try:
                self.reference.update(self.inputs)
            except Exception:  # one frame unjudged now is judged at the next round
                pass

    def start(self, stopping: threading.Event) -> None:
        threading.Thread(target=self.history.run, args=(stopping,), name="diagnose-scrape", daemon=True).start()
        threading.Thread(target=self.learn, args=(stopping,), name="diagnose-reference", daemon=True).start()
        if self.shadow is not None:
            threading.Thread(target=self.shadow.run, args=(stopping,), name="shadow-on-call", daemon=True).start()


def cited(d: Diagnosis) -> list[str]:
    """Every trace id a diagnosis cites: its candidates' example traces."""
    return list(dict.fromkeys(t for c in d.candidates for t in c.traces))


def mount(app, lab, authorised: Callable[[], bool]) -> LocalDiagnosis:
    """Serve ``GET /api/diagnose?since=SECONDS`` on the daemon's API (``authorised``: whether the request
    carries the lab's token, as every other endpoint that can name a cause) and start the scraping, the
    healthy reference and the shadow on-call (``lab``: chaoslab.local.daemon.Lab); returns what the span
    receiver feeds. The traces a diagnosis cites are pinned in the trace store, so that `chaoslab traces
    --trace ID` still shows them while the incident is worked on."""
    alerts = getattr(lab, "alerts", None)
    source = LocalSource(
        lab.state, lab.traces, lab.graph, lab.supervisor.snapshot, alerts.snapshot if alerts is not None else None
    )
    recorder = Recorder(keep_s=MAX_SINCE_S)
    history = ScrapeHistory(source.metrics, keep_s=MAX_SINCE_S)
    inputs = LocalInputs(recorder, history, source, lab.supervisor.snapshot)
    diagnosis = LocalDiagnosis(inputs, recorder, history)
    pin = lab.traces.pin
    if lab.settings.shadow:
        diagnosis.shadow = ShadowOnCall(
            FileStore(lab.state.root), diagnosis.diagnose, lab.settings.shadow_every_s, pin=pin
        )

    @app.get("/api/diagnose")
    def diagnose_now():
        if not authorised():
            return jsonify(
                error="unauthorised",
                message="the diagnosis names causes: it needs the lab's token (`chaoslab diagnose` sends it)",
            ), 401
        raw = request.args.get("since", f"{DEFAULT_SINCE_S:g}")
        try:
            since_s = float(raw)
        except ValueError:
            since_s = -1.0
        if not 30 <= since_s <= MAX_SINCE_S:
            return jsonify(
                error="bad_request",
                message=f"since={raw!r}: seconds from 30 to {MAX_SINCE_S:g} (the daemon remembers 15 min)",
            ), 400
        result = diagnosis.diagnose(since_s)
        pin(cited(result))
        return jsonify(result.to_json())

    if diagnosis.shadow is not None:
        lab.alerts.subscribe(partial(_wake_on_page, diagnosis.shadow))  # after the desk: the page opened the incident
    diagnosis.start(lab.stopping)
    return diagnosis


def _wake_on_page(shadow: ShadowOnCall, event: dict) -> None:
    """A firing alert may have opened an incident: the shadow looks at once, not at its next round."""
    if event.get("kind") == "alert_fired":
        shadow.wake()
