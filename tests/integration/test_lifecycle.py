"""A service's start and stop as Kubernetes sees them: started before the schema migrations (a fresh
install), and stopped with SIGTERM while its collector does not answer (a team profile whose
collector is gone)."""

from __future__ import annotations

import dataclasses
import os
import signal
import socket
import subprocess
import sys
import uuid

import psycopg
import requests

from chaoslab.local.ports import free_port
from chaoslab.services.common.migrations import apply, ensure_database
from chaoslab.services.service_a import app as service_a
from chaoslab.services.service_a import outbox
from chaoslab.settings import Common, ServiceA, load
from support import poll_until


def fresh_database(postgres_url: str) -> str:
    """An empty database on the test server: what service-a meets when it starts before `chaoslab migrate`."""
    url = psycopg.conninfo.make_conninfo(postgres_url, dbname=f"fresh_{uuid.uuid4().hex[:8]}")
    ensure_database(url)
    return url


def test_service_a_started_before_the_migrations_waits_for_them_unready_and_alive(postgres_url, redis_url):
    url = fresh_database(postgres_url)
    app = service_a.create_app(
        dataclasses.replace(load(ServiceA, {}), outbox_poll_interval_s=0.02),
        load(Common, {}, database_url=url, redis_url=redis_url, access_log=False),
    )
    client = app.test_client()
    try:
        failed_before = outbox.ROUNDS_FAILED._value.get()
        poll_until(
            lambda: outbox.ROUNDS_FAILED._value.get() >= failed_before + 3,
            "three outbox rounds to fail on the missing schema",
            timeout=30,
        )
        live = client.get("/health/live")
        assert live.status_code == 200, live.json  # the relay thread is still there: no restart
        ready = client.get("/health/ready")
        assert ready.status_code == 503 and "not migrated" in ready.json["checks"]["postgres"]["reason"]

        apply(url)
        poll_until(lambda: client.get("/health/ready").status_code == 200, "service-a ready once migrated", timeout=30)
        failed_after = outbox.ROUNDS_FAILED._value.get()
        poll_until(lambda: outbox.BACKLOG._value.get() == 0, "the relay to measure the (empty) backlog", timeout=10)
        assert client.get("/health/live").status_code == 200
        assert outbox.ROUNDS_FAILED._value.get() <= failed_after + 1, "the relay keeps failing after the migrations"
    finally:
        app.extensions["chaoslab.stop"]()


def test_sigterm_goes_unready_first_then_exits_promptly_and_cleanly_with_the_collector_hanging(tmp_path):
    # A collector that accepts connections and never answers: each span export waits its full timeout.
    collector = socket.socket()
    collector.bind(("127.0.0.1", 0))
    collector.listen(16)
    port = free_port()
    env = {
        **os.environ,
        "GATEWAY_HTTP_PORT": str(port),
        "GATEWAY_ADMIN_PORT": str(free_port()),
        "CHAOSLAB_AGENT_TOKEN": "",
        "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{collector.getsockname()[1]}",
        "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
        "OTEL_EXPORTER_OTLP_TIMEOUT": "60",
        "CHAOSLAB_SHUTDOWN_DRAIN_S": "1",
        "CHAOSLAB_SHUTDOWN_FLUSH_S": "1",
    }
    log = tmp_path / "gateway.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "chaoslab", "serve", "gateway"], env=env, stdout=out, stderr=subprocess.STDOUT
        )
    url = f"http://127.0.0.1:{port}"
    session = requests.Session()  # keeps its connection open across the shutdown, as a load balancer does
    try:
        poll_until(
            lambda: session.get(f"{url}/health/ready", timeout=2).status_code == 200, "gateway ready", timeout=30
        )
        for _ in range(5):
            session.get(f"{url}/no-such-route", timeout=2)  # traced requests: spans waiting to be exported
        proc.send_signal(signal.SIGTERM)
        unready = poll_until(
            lambda: (r := session.get(f"{url}/health/ready", timeout=2)).status_code == 503 and r.json(),
            "readiness to fail while the gateway still answers",
            timeout=10,
            interval=0.02,
        )
        assert unready["checks"]["shutdown"]["reason"] == "shutting down"
        poll_until(lambda: proc.poll() is not None, "the gateway to exit although its collector hangs", timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(10)
        collector.close()
    text = log.read_text()
    assert proc.returncode == 0, text[-2000:]
    assert "Bad file descriptor" not in text and "Traceback" not in text, text[-2000:]
    assert "spans were not sent within 1s; dropped" in text
