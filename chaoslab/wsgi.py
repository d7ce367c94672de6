"""A production WSGI server (waitress) on its own thread, for the services and the lab daemon."""

from __future__ import annotations

import errno
import logging
import os
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
        self._orders: list = []
        self._orders_lock = threading.Lock()
        self._thread = threading.Thread(target=self._serve, name=f"http-{name}", daemon=True)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> HttpServer:
        self._thread.start()
        return self

    def stop(self, grace_s: float = 5.0) -> None:
        """Stop taking connections, give the requests being handled up to ``grace_s`` to finish and
        their responses time to leave, then close every connection. Sockets are closed by the
        server's own thread, between two polls: closed from here, under its poll loop, each one
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
        if not self._thread.is_alive():
            self._carry_out_orders()  # a loop that ended before it got to them: nothing polls any more

    def _serve(self) -> None:
        """waitress's own loop (``wasyncore.loop``), which also carries out this server's orders between
        two polls: waitress's trigger pipe only wakes it sooner, so a stop never depends on that pipe."""
        server = self._server
        poll = wasyncore.poll2 if server.adj.asyncore_use_poll else wasyncore.poll
        while server._map:
            try:
                poll(server.adj.asyncore_loop_timeout, server._map)
            except OSError as error:
                if error.errno != errno.EBADF:
                    raise
                _forget_closed(server._map)  # a socket closed under the poll (its pipe, by waitress)
            self._carry_out_orders()

    def _carry_out_orders(self) -> None:
        with self._orders_lock:
            orders, self._orders = self._orders, []
        for order in orders:
            order()

    def _on_server_thread(self, thunk) -> None:
        """Have the server's thread run ``thunk`` after its current poll, woken through waitress's
        trigger pipe; if that pipe is gone the loop still runs it within a poll's timeout (a second)."""
        with self._orders_lock:
            self._orders.append(thunk)
        try:
            self._server.pull_trigger()
        except OSError as error:
            log.debug("%s: no wake-up through the trigger (%s); the next poll runs the stop", self.url, error)


def _forget_closed(channels: dict) -> None:
    """Drop from a poll map the channels whose file descriptor is closed (select() fails on any of them)."""
    for fd in list(channels):
        try:
            os.fstat(fd)
        except OSError:
            channels.pop(fd, None)
