"""JSON logs on stdout, one object per line, carrying the current trace and span ids.

A trainee can take a ``trace_id`` from a log line to ``chaoslab traces`` or
Jaeger and back. Structured fields go in ``extra={"fields": {...}}``.
"""

from __future__ import annotations

import atexit
import json
import logging
import sys
import threading
import time
from datetime import UTC, datetime
from queue import SimpleQueue

from opentelemetry import trace


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str, team: str):
        super().__init__()
        self.service = service
        self.team = team

    def format(self, record: logging.LogRecord) -> str:
        doc = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "service": self.service,
            "team": self.team,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        ctx = trace.get_current_span().get_span_context()
        if ctx.is_valid:
            doc["trace_id"] = format(ctx.trace_id, "032x")
            doc["span_id"] = format(ctx.span_id, "016x")
        fields = getattr(record, "fields", None)
        if fields:
            doc.update(fields)
        if record.exc_info:
            doc["exc"] = self.formatException(record.exc_info)
        return json.dumps(doc, default=str)


class AccessLog:
    """One JSON line per inbound request, shaped exactly like JsonFormatter's, written by a thread of
    its own: the request thread only queues a tuple (about a microsecond), and formatting and the
    write happen off the request path (the access log was once most of the hop's overhead).

    Lines go to the same stream, under the same lock, as the logging handler's; ``drain`` (also at
    exit) writes what is queued."""

    LOGGER = "chaoslab.http"

    def __init__(self, service: str, team: str, handler: logging.StreamHandler):
        self.service = service
        self.team = team
        self.handler = handler
        self._queue: SimpleQueue[tuple | None] = SimpleQueue()
        self._idle = threading.Event()
        self._idle.set()
        self._thread = threading.Thread(target=self._write_forever, name="access-log", daemon=True)
        self._thread.start()
        atexit.register(self.drain)

    def record(self, method: str, path: str, route: str, status: int, duration_ms: float, span_context=None) -> None:
        self._idle.clear()
        self._queue.put((time.time(), method, path, route, status, duration_ms, span_context))

    def drain(self, timeout_s: float = 2.0) -> None:
        """Wait until every queued line is written (at exit, and in tests that read the log)."""
        self._queue.put(None)
        self._idle.wait(timeout_s)

    def _format(self, entry: tuple) -> str:
        created, method, path, route, status, duration_ms, span_context = entry
        doc = {
            "ts": datetime.fromtimestamp(created, UTC).isoformat(timespec="milliseconds"),
            "level": "INFO",
            "service": self.service,
            "team": self.team,
            "logger": self.LOGGER,
            "msg": f"{method} {path} {status}",
        }
        if span_context is not None and span_context.is_valid:
            doc["trace_id"] = format(span_context.trace_id, "032x")
            doc["span_id"] = format(span_context.span_id, "016x")
        doc.update({"http.method": method, "http.route": route, "http.status": status, "duration_ms": duration_ms})
        return json.dumps(doc)

    def _write_forever(self) -> None:
        while True:
            entry = self._queue.get()
            lines = [] if entry is None else [self._format(entry)]
            while not self._queue.empty():  # write what has piled up in one go
                more = self._queue.get()
                if more is not None:
                    lines.append(self._format(more))
            if lines:
                self.handler.acquire()
                try:
                    self.handler.stream.write("\n".join(lines) + "\n")
                    self.handler.flush()
                except (OSError, ValueError):  # stdout closed at exit: nothing left to tell
                    pass
                finally:
                    self.handler.release()
            if self._queue.empty():
                self._idle.set()


_access_log: AccessLog | None = None


def access_log() -> AccessLog | None:
    """This process's access log, once configure_logging has run."""
    return _access_log


def configure_logging(service: str, team: str, level: str = "INFO") -> None:
    global _access_log
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter(service, team))
    _access_log = AccessLog(service, team, handler)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Libraries that log every retry at INFO drown the lab's own lines.
    for noisy in ("urllib3", "opentelemetry.exporter", "waitress.queue"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
