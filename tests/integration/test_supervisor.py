"""The local supervisor's process states, on real child processes whose readiness the test decides."""

from __future__ import annotations

import sys
import threading

import pytest

from chaoslab.local.supervisor import Spec, Supervisor
from support import poll_until


class Readiness:
    """A readiness check the test turns on and off: raises with a reason while not ready."""

    def __init__(self) -> None:
        self.ready = False

    def __call__(self) -> None:
        if not self.ready:
            raise RuntimeError("waiting for redis")


@pytest.fixture
def supervised(tmp_path):
    """One long-running child process under a supervisor checking its readiness, with a start budget
    short enough for a test."""

    def start(start_budget_s: float) -> tuple[Supervisor, Readiness]:
        readiness = Readiness()
        spec = Spec(
            "worker",
            "service",
            [sys.executable, "-c", "import time; time.sleep(120)"],
            tmp_path / "worker.log",
            readiness=readiness,
        )
        supervisor = Supervisor([spec], start_budget_s=start_budget_s)
        supervisor.start_all()
        threading.Thread(target=supervisor.watch_readiness, args=(stop,), daemon=True).start()
        started.append(supervisor)
        return supervisor, readiness

    stop = threading.Event()
    started: list[Supervisor] = []
    yield start
    stop.set()
    for supervisor in started:
        supervisor.shutdown()


def state(supervisor: Supervisor) -> dict:
    return supervisor.snapshot()[0]


def test_a_process_never_ready_past_its_start_budget_is_unready_not_starting(supervised):
    supervisor, _ = supervised(start_budget_s=0.5)
    seen = poll_until(
        lambda: (lambda s: s if s["state"] == "unready" else None)(state(supervisor)),
        "the never-ready worker to turn unready once its start budget is spent",
    )
    assert seen["reason"] == "waiting for redis" and seen["pid"] is not None


def test_within_its_start_budget_a_process_not_yet_ready_is_starting(supervised):
    supervisor, readiness = supervised(start_budget_s=3600)
    poll_until(lambda: state(supervisor)["reason"] == "waiting for redis", "the first readiness check")
    assert state(supervisor)["state"] == "starting"
    readiness.ready = True
    poll_until(lambda: state(supervisor)["state"] == "ready", "the worker to be ready")


def test_a_process_that_was_ready_once_is_unready_when_it_stops_being_ready(supervised):
    supervisor, readiness = supervised(start_budget_s=3600)
    readiness.ready = True
    poll_until(lambda: state(supervisor)["state"] == "ready", "the worker to be ready")
    readiness.ready = False
    seen = poll_until(
        lambda: (lambda s: s if s["state"] != "ready" else None)(state(supervisor)),
        "the worker to stop being ready",
        timeout=10,
    )
    assert seen["state"] == "unready" and seen["reason"] == "waiting for redis"
