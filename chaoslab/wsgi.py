"""A production WSGI server (waitress) on its own thread, for the services and the lab daemon."""

from __future__ import annotations

import threading

import waitress


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
        self.port: int = self._server.effective_port
        self.host = host
        self._thread = threading.Thread(target=self._server.run, name=f"http-{name}", daemon=True)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> HttpServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.close()
        self._thread.join(timeout=5)
