"""The shadow on-call: the diagnosis runs by itself while an incident is open, and its first right
answer is put beside the team's.

**When it runs.** From the moment an incident is open (a paging alert opens one; so does a team's
``incident open`` or an instructor's ``incident page``) until it is resolved, or for the seeds'
40-minute bar, every ``every_s``. It notices a new incident at its next look; whatever opens one in
the same process (the lab daemon's alert evaluation, calling chaoslab.incident.alerting) calls
``wake()`` so that the first look is at once. It reads only the board (the incidents) and the
diagnosis's own inputs, like any trainee; the diagnosis remembers the minutes before the incident,
so its first look already has a baseline.

**What it looks at.** Exactly what ``chaoslab diagnose`` shows by default: the same diagnosis, in the
same process, looking back ``DEFAULT_SINCE_S``. A trainee who asked at the moment of a look was shown
the same answer. The traces a written answer cites are pinned, so a trainee can open them later.

**What counts as an answer.** A top answer counts once it held for two looks in a row (``every_s``
apart): one look alone can be a frame's artefact that a trainee asking a few seconds earlier or later
never saw, and crediting it would credit a flicker. It is dated at the first of the two looks, when a
trainee asking was first shown it; the entry also says when it was confirmed.

**Where its answers go.** Each new answer (one that differs from the last it gave) is written to
``shadow.jsonl``, a key of the lab's journal store that is not on the team's board: on Kubernetes the
instructors' journal
ConfigMap (chaoslab/kubernetes/store.py: only ``changes.jsonl`` and ``incidents.jsonl`` are on the board,
which graded trainees may read), locally a file in the state directory that no trainee command prints.
An answer there names a service and a fault kind: written on the board it would hand the team the
root cause, and in a mystery drill name the drill.

**When the team sees it.** chaoslab.incident.shadow's ``publish`` copies the shadow's first right
answer onto the incident's timeline (source ``shadow``, dated when the shadow gave it) only once the
team cannot be spoiled: the team's own first right root-cause answer is on the record, or the incident
is resolved and the drill is no longer a mystery being played. Whoever publishes grades it with the
answer key (chaoslab.incident.desk does, as it grades the team): the shadow itself never reads the
key, so it cannot know whether it is right; it can only say what it sees.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable

from chaoslab.chaos.journal import Store
from chaoslab.diagnose import DEFAULT_SINCE_S
from chaoslab.incident.record import IncidentLog
from chaoslab.incident.shadow import SHADOW, answers
from chaoslab.incident.truth import ROOT_CAUSE_BAR_S

log = logging.getLogger("chaoslab.shadow")

EVERY_S = 5.0
HELD_LOOKS = 2
"""Looks in a row a top answer must hold before it counts (see the module docstring)."""


class ShadowOnCall:
    def __init__(
        self,
        store: Store,
        diagnose: Callable[[float], object],
        every_s: float = EVERY_S,
        clock: Callable[[], float] = time.time,
        pin: Callable[[list[str]], None] | None = None,
    ):
        """``pin``: keeps the traces an answer cites readable (chaoslab.local.tracestore.TraceStore.pin)."""
        self.store = store
        self.diagnose = diagnose
        self.every_s = every_s
        self.clock = clock
        self.pin = pin
        self._last: dict[str, tuple[str, str]] = {}
        self._streak: dict[str, tuple[tuple[str, str] | None, int, dict | None]] = {}
        self._wake = threading.Event()

    def wake(self) -> None:
        """Look now rather than at the next tick (an incident was just opened in this process)."""
        self._wake.set()

    def tick(self) -> dict | None:
        """One look: the answer written, or None (no open incident, past the bar, not held for
        ``HELD_LOOKS`` looks yet, nothing new)."""
        incident = IncidentLog(self.store).current()
        now = self.clock()
        if incident is None or now - incident.declared_at > ROOT_CAUSE_BAR_S:
            return None
        if incident.id not in self._last:
            given = answers(self.store, incident.id)
            if given:
                self._last[incident.id] = (given[-1]["service"], given[-1]["kind"])
        top = self.diagnose(DEFAULT_SINCE_S).top
        said = (top.service, top.kind) if top is not None else None
        before, looks, first = self._streak.get(incident.id, (None, 0, None))
        if said != before:
            looks, first = 0, self._entry(incident.id, top, now)
        looks += 1
        self._streak[incident.id] = (said, looks, first)
        if first is None or looks != HELD_LOOKS or self._last.get(incident.id) == said:
            return None
        entry = {**first, "held_at": round(now, 3)}
        self.store.append(SHADOW, json.dumps(entry))
        self._last[incident.id] = said
        if self.pin is not None:
            self.pin(entry["traces"])
        return entry

    @staticmethod
    def _entry(incident_id: str, top, now: float) -> dict | None:
        """The answer as the first look of a streak gave it (None: no answer)."""
        if top is None:
            return None
        return {
            "ts": round(now, 3),
            "incident": incident_id,
            "service": top.service,
            "kind": top.kind,
            "confidence": top.confidence,
            "since_s": DEFAULT_SINCE_S,
            "evidence": top.evidence[:3],
            "traces": top.traces[:4],
        }

    def run(self, stopping: threading.Event) -> None:
        while not stopping.is_set():
            self._wake.wait(self.every_s)
            self._wake.clear()
            if stopping.is_set():
                return
            try:
                self.tick()
            except Exception:  # one missed look, never the daemon
                log.exception("shadow on-call: a look failed")
