"""A production WSGI server (waitress) on its own thread, for the services and the lab daemon."""

from __future__ import annotations

import logging
import threading
import time

import waitress
from waitress import wasyncore

log = logging.getLogger(__name__)


class HttpServer:
    """A waitress server on its own thread: production WSGI, a bounded handler pool, port 0 allowed."""

    def __init__(self, app, host: str, port: int, threads: int, name: str):
        # connection_limit above the handler pool so saturation queues requests (the deadlock
        # needs them to wait) instead of refusing connections.
        self._server = waitress.create_server(
            app,
            host=host,
            port=port,
            threads=threads,
            ident=name,
            connection_limit=max(100, threads * 8),
            channel_timeout=120,
            clear_untrusted_proxy_headers=True,
        )
        self.port = int(self._server.effective_port)  # waitress gives a str
        self.host = host
        self._thread = threading.Thread(target=self._server.run, name=f"http-{name}", daemon=True)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> HttpServer:
        self._thread.start()
        return self

    def stop(self, grace_s: float = 5.0) -> None:
        """Stop taking connections, give the requests being handled up to ``grace_s`` to finish and
        their responses time to leave, then close every connection. Sockets are closed by the
        server's own thread (through its trigger): closed from here, under its poll loop, each one
        floods the log with "Bad file descriptor"."""
        server = self._server
        if not self._thread.is_alive():
            server.close()
            return
        self._on_server_thread(lambda: wasyncore.dispatcher.close(server))  # the listener only
        server.task_dispatcher.shutdown(cancel_pending=True, timeout=grace_s)
        deadline = time.monotonic() + 1.0
        while time.monotonic() < deadline and any(
            getattr(c, "total_outbufs_len", 0) for c in list(server._map.values())
        ):
            time.sleep(0.01)  # the last responses are still being written by the server's thread
        self._on_server_thread(lambda: wasyncore.close_all(server._map, ignore_all=True))
        self._thread.join(timeout=grace_s)

    def _on_server_thread(self, thunk) -> None:
        """Run ``thunk`` on the server's thread, woken through its trigger pipe. If the pipe is
        already gone (waitress closes it after an error on it, for one), the loop can no longer be
        woken: run it here instead, so that a stop always stops."""
        try:
            self._server.trigger.pull_trigger(thunk)
        except OSError as error:
            log.warning("%s: its wake-up pipe is gone (%s); closing from the stopping thread", self.url, error)
            with self._server.trigger.lock:
                self._server.trigger.thunks.clear()
            thunk()
