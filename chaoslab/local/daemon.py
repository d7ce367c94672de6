"""The lab daemon: owns every process of a local lab, receives its traces, answers the CLI.

Started by ``chaoslab up`` in its own session (``python -m chaoslab.local.daemon``);
stopped by SIGTERM from ``chaoslab down``. It holds an exclusive flock on
``lab.lock`` for its whole life, so a second lab in the same state directory
is refused, and it removes the lock and ``lab.json`` on the way out.
"""

from __future__ import annotations

import argparse
import fcntl
import gzip
import hmac
import http.client
import json
import logging
import os
import signal
import sys
import threading
import time
from pathlib import Path

import psycopg
import redis
from flask import Flask, Response, jsonify, request

from chaoslab import __version__
from chaoslab.alerts.api import blueprint
from chaoslab.alerts.definitions import RULES
from chaoslab.alerts.local import LocalAlerts
from chaoslab.alerts.scrape import Target
from chaoslab.alerts.synthetic import SyntheticProber
from chaoslab.chaos.journal import FileStore
from chaoslab.console.recording import Recorder
from chaoslab.console.replays import Replays
from chaoslab.console.web import MAX_STREAMS
from chaoslab.incident.alerting import on_evaluator_event
from chaoslab.incident.impact import snapshot
from chaoslab.incident.relay import relay
from chaoslab.local.console import mount as mount_console
from chaoslab.local.console import service_graph
from chaoslab.local.diagnosis import mount as mount_diagnosis
from chaoslab.local.embedded import EmbeddedPostgres, EmbeddedRedis
from chaoslab.local.ports import allocate
from chaoslab.local.probe import LocalProbe
from chaoslab.local.registry import mark
from chaoslab.local.statedir import StateDir
from chaoslab.local.supervisor import Spec, Supervisor
from chaoslab.local.tracestore import TraceStore, decode
from chaoslab.services.common.migrations import apply, ensure_database
from chaoslab.settings import (
    ALL_GROUPS,
    SERVICE_SETTINGS,
    Alerts,
    Common,
    Local,
    Paging,
    Prober,
    describe,
    env_name,
    load,
)
from chaoslab.topology import COMPONENTS, DEPENDENCIES, FRONT_DOOR, PROBER, peer_address
from chaoslab.wsgi import HttpServer

log = logging.getLogger("chaoslab.labd")
API_THREADS = 8
"""Handler threads for the daemon's own API (traces in, commands, the console's pages and panels)."""
LOCK_HELD = 3


def preferred_ports() -> dict[str, int]:
    ports = {d.name: d.port for d in DEPENDENCIES if not d.inside_labd}
    for c in COMPONENTS:
        for port_name, port in c.ports.items():
            ports[f"{c.name}.{port_name}"] = port
    return ports


def service_env(
    ports: dict[str, int], database_url: str, redis_url: str, token: str = "", agent_state_dir: str = ""
) -> dict[str, dict[str, str]]:
    """Each service's environment: its ports, its peers' addresses, its datastores, its telemetry,
    and its fault agent's token and state directory."""
    common = {
        env_name(Common, "database_url"): database_url,
        env_name(Common, "redis_url"): redis_url,
        env_name(Common, "bind_host"): "127.0.0.1",
        env_name(Common, "agent_token"): token,
        env_name(Common, "agent_state_dir"): agent_state_dir,
        env_name(Common, "inflight_spans"): "true",
        "PYTHONUNBUFFERED": "1",
        "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{ports['labd']}",
        "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
        "OTEL_BSP_SCHEDULE_DELAY": os.environ.get("OTEL_BSP_SCHEDULE_DELAY", "200"),
    }
    envs = {}
    for c in COMPONENTS:
        group = SERVICE_SETTINGS[c.name]
        env = {**common, "OTEL_SERVICE_NAME": c.name}
        for port_name in c.ports:
            env[env_name(group, f"{port_name}_port")] = str(ports[f"{c.name}.{port_name}"])
        for setting_name, (peer, port_name) in c.peers.items():
            env[env_name(group, setting_name)] = peer_address(port_name, "127.0.0.1", ports[f"{peer}.{port_name}"])
        envs[c.name] = env
    return envs


def settings_in_effect(envs: dict[str, dict[str, str]], state_dir: str) -> dict[str, str]:
    """Every documented variable as the lab's processes see it (this daemon's environment, then what
    it set for them), the agents' token masked: what `chaoslab config` prints for a running lab."""
    seen = {**os.environ, **{k: v for env in envs.values() for k, v in env.items()}}
    seen[env_name(Local, "state_dir")] = state_dir
    variables = {}
    for group in ALL_GROUPS:
        for variable, _, _ in describe(group):
            if variable in seen:
                variables[variable] = seen[variable]
    if variables.get(env_name(Common, "agent_token")):
        variables[env_name(Common, "agent_token")] = "(set; in the state directory's token file)"
    return variables


def http_ready(url: str) -> None:
    host, port = url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=1.5)
    try:
        conn.request("GET", "/health/ready")
        response = conn.getresponse()
        body = response.read(2000).decode(errors="replace")
    except OSError as exc:
        raise RuntimeError(f"no answer on {url} ({type(exc).__name__})") from None
    finally:
        conn.close()
    if response.status != 200:
        raise RuntimeError(f"/health/ready {response.status}: {_failing_checks(body)}")


def _failing_checks(body: str) -> str:
    try:
        checks = json.loads(body).get("checks", {})
    except ValueError:
        return body[:200]
    return (
        "; ".join(
            f"{name} {c['status']}: {c.get('reason', '')}" for name, c in checks.items() if c.get("status") != "ok"
        )
        or body[:200]
    )


def postgres_ready(url: str) -> None:
    with psycopg.connect(url, connect_timeout=1, dbname="postgres") as conn:
        conn.execute("SELECT 1")


def redis_ready(url: str) -> None:
    client = redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1)
    try:
        client.ping()
    finally:
        client.close()


class Lab:
    def __init__(self, state: StateDir, settings: Local):
        self.state = state
        self.settings = settings
        self.token = state.token()
        self.ports = allocate(preferred_ports(), settings.ports)
        self.graph = service_graph()
        self.traces = TraceStore(listed=self.graph.exemplars)
        self.migrations = "pending"
        self.started_at = time.time()
        self.stopping = threading.Event()
        self.postgres = EmbeddedPostgres(state.pgdata, self.ports["postgres"])
        self.redis = EmbeddedRedis(state.redis_dir, self.ports["redis"])
        self.supervisor = Supervisor(self._specs(), on_change=self.persist)
        self.prober = local_prober(self.ports, self.envs)
        self.alerts = local_alerts(
            self.supervisor, load(Common).team, load(Alerts).interval_s, state, self.prober, self.api_url
        )

    def _specs(self) -> list[Spec]:
        pg, rd = self.postgres, self.redis
        specs = [
            Spec(
                "postgres",
                "dependency",
                pg.command(),
                self.state.log("postgres"),
                readiness=lambda: postgres_ready(pg.url),
                ports={"tcp": pg.port},
                url=pg.url,
                stop_signal=pg.stop_signal,
                user=pg.user,
                prepare=pg.prepare,
                env=mark(self.state, "postgres"),
            ),
            Spec(
                "redis",
                "dependency",
                rd.command(),
                self.state.log("redis"),
                readiness=lambda: redis_ready(rd.url),
                ports={"tcp": rd.port},
                url=rd.url,
                prepare=rd.prepare,
                env=mark(self.state, "redis"),
            ),
        ]
        envs = self.envs = service_env(self.ports, pg.url, rd.url, self.token, str(self.state.agents))
        for c in COMPONENTS:
            url = f"http://127.0.0.1:{self.ports[c.name + '.http']}"
            specs.append(
                Spec(
                    c.name,
                    "service",
                    [sys.executable, "-m", "chaoslab", "serve", c.name],
                    self.state.log(c.name),
                    readiness=lambda url=url: http_ready(url),
                    env={**envs[c.name], **mark(self.state, c.name)},
                    ports={p: self.ports[f"{c.name}.{p}"] for p in c.ports},
                    url=url,
                )
            )
        return specs

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['labd']}"

    def info(self) -> dict:
        return {
            "pid": os.getpid(),
            "pgid": os.getpgid(0),
            "version": __version__,
            "state_dir": str(self.state.root),
            "started_at": self.started_at,
            "api": self.api_url,
            "ports": self.ports,
            "migrations": self.migrations,
            "pids": self.supervisor.pids(),
        }

    def persist(self) -> None:
        self.state.write_info(self.info())

    def migrate_when_ready(self) -> None:
        """Create the database and apply migrations as soon as PostgreSQL answers."""
        while not self.stopping.is_set():
            try:
                postgres_ready(self.postgres.url)
            except Exception:
                self.stopping.wait(0.1)
                continue
            try:
                ensure_database(self.postgres.url)
                applied = apply(self.postgres.url, say=log.info)
                self.migrations = f"applied {len(applied)} new" if applied else "up to date"
            except Exception as exc:
                self.migrations = f"failed: {str(exc).strip().splitlines()[0]}"
                log.error("migrations %s", self.migrations)
            self.persist()
            return

    def run(self) -> int:
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: self.stopping.set())
        threads = API_THREADS + MAX_STREAMS  # the console's streams hold theirs; traces and commands keep 8
        server = HttpServer(create_api(self), "127.0.0.1", self.ports["labd"], threads, "labd").start()
        self.persist()
        log.info("lab daemon %d serving %s for %s", os.getpid(), self.api_url, self.state.root)
        self.supervisor.start_all()
        threading.Thread(target=self.supervisor.watch_readiness, args=(self.stopping,), daemon=True).start()
        threading.Thread(target=self.migrate_when_ready, daemon=True).start()
        threading.Thread(target=self.alerts.run, args=(self.stopping,), name="alerts", daemon=True).start()
        threading.Thread(target=self.prober.run, args=(self.stopping,), name="prober", daemon=True).start()
        recorder = Recorder(self.console_source, self.state.recordings, load(Common).team)
        recording = threading.Thread(target=recorder.run, args=(self.stopping,), name="recorder", daemon=True)
        recording.start()
        paging = load(Paging).loopback_only()
        if paging.webhook or paging.status_webhook:
            store, team = FileStore(self.state.root), self.state.root.name
            threading.Thread(
                target=relay, args=(store, team, paging, self.stopping, "lab"), name="pages-out", daemon=True
            ).start()
        while not self.stopping.wait(0.2):
            self.supervisor.tick()
        log.info("stopping the lab")
        recording.join(timeout=5)  # the recording's end is written before the services go
        self.supervisor.shutdown()
        server.stop()
        return 0


def local_prober(ports: dict[str, int], envs: dict[str, dict[str, str]]):
    """The synthetic prober of the front door (chaoslab/alerts/synthetic.py), run inside this daemon: its
    settings from the environment of `chaoslab up`, the front door's address from the ports in use (also
    recorded in ``envs``, so `chaoslab config` shows it)."""
    front_door = peer_address("http", "127.0.0.1", ports[f"{FRONT_DOOR}.http"])
    envs[PROBER.name] = {env_name(Prober, "front_door_url"): front_door}
    return SyntheticProber.from_settings(load(Prober, front_door_url=front_door))


def local_alerts(supervisor: Supervisor, team: str, interval_s: float, state: StateDir, prober=None, url: str = ""):
    """The daemon's alert evaluation, scraping the services the supervisor runs (chaoslab/alerts/local.py)
    and reading ``prober``'s results, which ``url`` (the daemon's) names as the instance; a page opens or
    joins the lab's incident (chaoslab/incident/alerting.py)."""
    services = [proc for proc in supervisor.procs.values() if proc.spec.kind == "service"]
    started: set[str] = set()  # scraped from its first ready on, so a lab still starting pages nobody

    def targets() -> list[Target]:
        started.update(proc.spec.name for proc in services if proc.ready)
        found = [Target(proc.spec.name, proc.spec.url, team) for proc in services if proc.spec.name in started]
        if prober is not None and FRONT_DOOR in started:  # it probes the front door: from its first ready on
            found.append(Target(PROBER.name, url, team, read=prober.exposition))
        return found

    def page(event: dict) -> None:
        on_evaluator_event(FileStore(state.root), event, lambda: snapshot(LocalProbe(state)))

    alerts = LocalAlerts(targets, RULES, interval_s, prober=prober)
    alerts.subscribe(page)
    return alerts


def create_api(lab: Lab) -> Flask:
    app = Flask("labd")
    app.json.sort_keys = False
    app.register_blueprint(blueprint(lab.alerts))

    def authorised() -> bool:
        supplied = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        return hmac.compare_digest(supplied.encode(), lab.token.encode())

    @app.post("/v1/traces")
    def receive_traces():
        body = request.get_data()
        if request.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        try:
            spans = decode(body)
        except Exception as exc:  # a malformed export is the exporter's problem: answer 400, keep running
            return jsonify(error="bad_request", message=f"not an OTLP protobuf trace export: {exc}"), 400
        lab.traces.add(spans)
        try:
            lab.graph.add(spans)
        except Exception:  # the console's graph must never cost the exporter its spans
            log.exception("service graph: a batch of %d spans was not counted", len(spans))
        try:
            lab.diagnosis.add(spans)
        except Exception:  # nor the diagnosis
            log.exception("diagnosis: a batch of %d spans was not recorded", len(spans))
        return Response(b"", mimetype="application/x-protobuf")

    @app.get("/api/traces")
    def traces():
        try:
            last = int(request.args.get("last", "5"))
        except ValueError:
            return jsonify(error="bad_request", message="last must be an integer"), 400
        return jsonify(
            traces=lab.traces.recent(last, request.args.get("service"), request.args.get("trace_id")),
            received_spans=lab.traces.received,
        )

    @app.get("/api/status")
    def status():
        return jsonify(lab=lab.info(), processes=lab.supervisor.snapshot())

    @app.get("/api/config")
    def config():
        return jsonify(variables=settings_in_effect(lab.envs, str(lab.state.root)))

    @app.post("/api/processes/<name>/<action>")
    def control(name: str, action: str):
        if not authorised():
            return jsonify(error="unauthorised", message="missing or wrong lab token"), 401
        if name not in lab.supervisor.procs:
            return jsonify(
                error="not_found", message=f"no process {name!r}; known: {', '.join(lab.supervisor.procs)}"
            ), 404
        actions = {"stop": lab.supervisor.stop, "start": lab.supervisor.start, "restart": lab.supervisor.restart}
        if action not in actions:
            return jsonify(error="bad_request", message=f"action must be one of {', '.join(actions)}"), 400
        return jsonify(actions[action](name))

    lab.console_source = mount_console(app, lab)
    app.wsgi_app = Replays(app.wsgi_app, lab.state.recordings, lambda: lab.token)
    lab.diagnosis = mount_diagnosis(app, lab, authorised)
    return app


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="chaoslab local lab daemon (started by `chaoslab up`)")
    parser.add_argument("--state-dir", required=True, type=Path)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stdout, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    state = StateDir.at(args.state_dir)
    state.ensure()
    lock = open(state.lock, "a+")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        log.error("another lab daemon holds %s", state.lock)
        return LOCK_HELD
    try:
        return Lab(state, load(Local)).run()
    finally:
        state.info.unlink(missing_ok=True)
        state.lock.unlink(missing_ok=True)
        fcntl.flock(lock, fcntl.LOCK_UN)
        lock.close()


if __name__ == "__main__":
    sys.exit(main())
