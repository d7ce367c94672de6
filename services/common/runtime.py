"""What every service process does around its own logic: settings, logs, traces, clean shutdown.

Shutdown, on SIGTERM: readiness fails at once (the process still serves), for
``CHAOSLAB_SHUTDOWN_DRAIN_S`` while a load balancer takes it out of rotation; then each listener
stops taking connections and lets the requests it is handling finish; then the service releases
what it holds; then the last spans are flushed, for at most ``CHAOSLAB_SHUTDOWN_FLUSH_S``.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable
from typing import Any

from chaoslab.chaos.agent import FaultAgent
from chaoslab.chaos.agent_api import create_admin_app
from chaoslab.services.common.flags import Flags
from chaoslab.settings import Common, SettingsError, load
from chaoslab.telemetry.logs import configure_logging
from chaoslab.telemetry.metrics import describe_process
from chaoslab.telemetry.tracing import configure_tracing, shutdown_tracing
from chaoslab.wsgi import HttpServer

log = logging.getLogger("chaoslab.runtime")


class ServiceRuntime:
    """Owns a service process's lifecycle: it waits for SIGTERM or SIGINT, goes unready, then runs
    the registered cleanups in reverse order and flushes the last spans."""

    def __init__(self, name: str, common: Common | None = None):
        self.name = name
        self.common = common if common is not None else load(Common)
        configure_logging(name, self.common.team, self.common.log_level)
        self.tracer_provider = configure_tracing(name, self.common.team, self.common.inflight_spans)
        describe_process(name, self.common.team)
        self.stopping = threading.Event()
        self._cleanups: list[Callable[[], None]] = []

    def on_shutdown(self, cleanup: Callable[[], None]) -> None:
        self._cleanups.append(cleanup)

    def agent(self, settings: Any) -> FaultAgent:
        """This process's fault agent, with the service's runtime settings and, when a token is set,
        its admin API on ``settings.admin_port``."""
        flags = Flags(self.name, settings, self.common.team)
        agent = FaultAgent(self.name, flags, self.common.agent_state_dir or None)
        if not self.common.agent_token:
            log.warning("fault agent admin API is off: CHAOSLAB_AGENT_TOKEN is empty")
            return agent

        server = HttpServer(
            create_admin_app(agent, self.common.agent_token),
            self.common.bind_host,
            settings.admin_port,
            2,
            f"{self.name}-admin",
        ).start()
        self.on_shutdown(server.stop)
        return agent

    def serve_http(self, app, settings: Any) -> HttpServer:
        """Serve a service's Flask app on ``settings.http_port`` with its bounded handler pool; on
        shutdown stop taking requests first, then release what the app holds (``chaoslab.stop``)."""
        server = HttpServer(app, self.common.bind_host, settings.http_port, settings.handler_threads, self.name).start()
        if "chaoslab.health" in app.extensions:
            app.extensions["chaoslab.health"].unready_when(self.stopping)
        if "chaoslab.stop" in app.extensions:
            self.on_shutdown(app.extensions["chaoslab.stop"])
        self.on_shutdown(server.stop)
        return server

    def wait(self) -> None:
        """Block the main thread until asked to stop, then shut down."""
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: self.stopping.set())
        log.info("%s started", self.name)
        self.stopping.wait()
        self.shutdown()

    def shutdown(self) -> None:
        log.info("%s stopping", self.name)
        self.stopping.set()  # readiness fails from here on (Health.unready_when)
        if self.common.shutdown_drain_s:
            time.sleep(self.common.shutdown_drain_s)  # still serving, while traffic moves elsewhere
        for cleanup in reversed(self._cleanups):
            try:
                cleanup()
            except Exception:  # keep shutting down the rest
                log.exception("cleanup failed")
        if self.tracer_provider is not None and not shutdown_tracing(
            self.tracer_provider, self.common.shutdown_flush_s
        ):
            log.warning("the last spans were not sent within %gs; dropped", self.common.shutdown_flush_s)
        log.info("%s stopped", self.name)


def run(name: str, build: Callable[[ServiceRuntime], None]) -> int:
    """Entry point shared by every service's ``main``: bad settings exit 2 with one line."""
    try:
        runtime = ServiceRuntime(name)
        build(runtime)
    except SettingsError as exc:
        print(f"{name}: {exc}", flush=True)
        return 2
    runtime.wait()
    return 0
