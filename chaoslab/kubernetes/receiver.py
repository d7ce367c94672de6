"""A team's pager on Kubernetes: Alertmanager's webhook receiver in the team's namespace, which puts the
team's alerts on its incident record and keeps Alertmanager's silences in step with the team's.

Alertmanager's notification is the doorbell, not the message: on each one (and every ``interval_s``
besides) the pager reads the team's alerts back from Alertmanager, silenced and inhibited ones too, and
folds them into the board (chaoslab.incident.pager), which applies the team's silences and the
inhibitions as the local lab does. So a notification that is lost, late or forged changes nothing
but when the pager looks, and an alert that ends while Alertmanager keeps it quiet still resolves.

Before it reads the alerts it mirrors the team's silences (``chaoslab alerts silence``, kept on the
board) into Alertmanager, so Alertmanager holds back the same alerts from every other receiver (the
cohort's webhook). After, it settles the record: an unacknowledged page escalates to the rota's next
level at its deadline even when nobody looks. With CHAOSLAB_PAGE_WEBHOOK (or the status page's) set,
it also sends the record's notices out as the lab daemon does locally (chaoslab.incident.relay).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from chaoslab.chaos.journal import Store
from chaoslab.errors import ChaoslabError
from chaoslab.incident.pager import fold
from chaoslab.incident.record import IncidentLog
from chaoslab.incident.relay import relay
from chaoslab.incident.silence import Silences
from chaoslab.kubernetes.alertmanager import Alertmanager, am_matchers
from chaoslab.settings import Paging

log = logging.getLogger("chaoslab.pager")

WEBHOOK_PATH = "/alerts"
MAX_BODY = 1 << 20
"""Alertmanager sends one group per notification: a cohort's worth of alerts is far below this."""


class Pager:
    """One team's pager: ``sync`` mirrors the silences and folds the alerts; ``ring`` asks for a sync now."""

    def __init__(
        self,
        store: Store,
        team: str,
        alertmanager: Alertmanager,
        interval_s: float = 10.0,
        paging: Paging | None = None,
    ):
        self.store = store
        self.paging = paging
        self.team = team
        self.alertmanager = alertmanager
        self.interval_s = interval_s
        self.doorbell = threading.Event()
        self.one_at_a_time = threading.Lock()
        self.last_ok: float | None = None
        self.last_error = ""
        self.notifications = 0

    def ring(self) -> None:
        self.notifications += 1
        self.doorbell.set()

    def mirror_silences(self, now: float) -> tuple[list[str], list[str]]:
        """Each silence the team has on its board in force in Alertmanager, each one ended there
        expired; returns the board ids added and expired."""
        wanted = {s["id"]: s for s in Silences(self.store).active(now) if s.get("id")}
        have = {str(s.get("comment", "")).split(" ", 1)[0]: s for s in self.alertmanager.silences(self.team)}
        added, expired = [], []
        for silence_id, silence in wanted.items():
            if silence_id in have:
                continue
            comment = f"{silence_id} {silence.get('actor', '')}: {silence.get('reason', '')}".strip()
            matchers = am_matchers(silence.get("matchers") or [], self.team)
            self.alertmanager.silence(matchers, now, float(silence["until"]), comment)
            added.append(silence_id)
        for silence_id, silence in have.items():
            if silence_id not in wanted:
                self.alertmanager.expire(str(silence["id"]))
                expired.append(silence_id)
        return added, expired

    def sync(self, now: float | None = None) -> list:
        """One look: silences first (so a silence set before an alert fires holds it back everywhere),
        then the team's alerts onto its record; returns the transitions recorded. One look at a time:
        two at once could each find the other's silence missing."""
        with self.one_at_a_time:
            return self._sync(time.time() if now is None else now)

    def _sync(self, now: float) -> list:
        try:
            added, expired = self.mirror_silences(now)
            for silence_id in added:
                log.info("silence %s set in Alertmanager", silence_id)
            for silence_id in expired:
                log.info("silence %s expired in Alertmanager", silence_id)
            firing = self.alertmanager.alerts(self.team)
            events = fold(self.store, self.team, firing, now=now)
            IncidentLog(self.store, "pager").settle(now)  # escalations on time, whoever looks
        except ChaoslabError as exc:
            self.last_error = str(exc)
            log.warning("pager: %s", exc)
            return []
        self.last_ok, self.last_error = now, ""
        for event in events:
            log.info("%s %s %s", event.tier, event.name, event.state)
        return events

    def run(self, stop: threading.Event) -> None:
        """Sync on every notification and every ``interval_s``, until ``stop``."""
        while not stop.is_set():
            try:
                self.sync()
            except Exception as exc:  # a look that fails unexpectedly must not end the pager's looking
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.exception("pager: the look failed")
            self.doorbell.wait(self.interval_s)
            self.doorbell.clear()

    def start(self, host: str, port: int) -> tuple[ThreadingHTTPServer, threading.Event]:
        """The sync loop (and the notices out, with a webhook) running until the event is set, and the
        webhook and health endpoints on ``host:port`` (0: any free port), not yet serving."""
        stop = threading.Event()
        threading.Thread(target=self.run, args=(stop,), name="pager-sync", daemon=True).start()
        if self.paging and (self.paging.webhook or self.paging.status_webhook):
            args = (self.store, self.team, self.paging, stop, "pager")
            threading.Thread(target=relay, args=args, name="pages-out", daemon=True).start()
        return server(self, host, port), stop

    def stop(self, http: ThreadingHTTPServer, stop: threading.Event) -> None:
        stop.set()
        self.doorbell.set()
        http.server_close()

    def serve(self, host: str, port: int) -> None:
        """All of it, until interrupted."""
        http, stop = self.start(host, port)
        log.info("pager for team %s on %s:%d, Alertmanager %s", self.team, host, port, self.alertmanager.url)
        try:
            http.serve_forever()
        finally:
            self.stop(http, stop)

    def health(self) -> tuple[int, dict]:
        """Ready once a sync has reached both Alertmanager and the board, and while the last one did."""
        body = {
            "team": self.team,
            "alertmanager": self.alertmanager.url,
            "last_sync": self.last_ok,
            "notifications": self.notifications,
        }
        if self.last_error or self.last_ok is None:
            return 503, body | {"error": self.last_error or "no sync yet"}
        return 200, body


def _handler(pager: Pager) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _answer(self, status: int, body: dict) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            if self.path == "/health/live":
                self._answer(200, {"status": "live"})
            elif self.path == "/health/ready":
                self._answer(*pager.health())
            else:
                self._answer(404, {"error": f"no {self.path}: POST Alertmanager's webhook to {WEBHOOK_PATH}"})

        def do_POST(self) -> None:
            if self.path != WEBHOOK_PATH:
                self._answer(404, {"error": f"no {self.path}: POST Alertmanager's webhook to {WEBHOOK_PATH}"})
                return
            try:
                length = int(self.headers.get("Content-Length") or 0)
            except ValueError:
                length = -1
            if not 0 < length <= MAX_BODY:
                self._answer(400, {"error": f"a webhook body of 1 byte to {MAX_BODY} bytes, with Content-Length"})
                return
            try:
                body = json.loads(self.rfile.read(length))
            except ValueError:
                self._answer(400, {"error": "the body is not JSON: send Alertmanager's webhook payload"})
                return
            if not isinstance(body, dict) or body.get("version") != "4" or not isinstance(body.get("alerts"), list):
                self._answer(400, {"error": 'not Alertmanager\'s webhook payload (version "4", with alerts)'})
                return
            pager.ring()
            self._answer(200, {"status": "ringing", "team": pager.team})

        def log_message(self, format: str, *args) -> None:
            log.debug("%s %s", self.address_string(), format % args)

    return Handler


def server(pager: Pager, host: str, port: int) -> ThreadingHTTPServer:
    """The webhook and health endpoints on ``host:port`` (0: any free port), not yet serving."""
    return ThreadingHTTPServer((host, port), _handler(pager))
