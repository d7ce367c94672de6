"""Helpers for tests that drive real processes: polling with a deadline, a local lab handle, and a webhook
receiver."""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TypeVar

import psutil
import requests

T = TypeVar("T")


def poll_until(check: Callable[[], T], description: str, timeout: float = 20.0, interval: float = 0.1) -> T:
    """Call ``check`` until it returns something truthy; fail naming ``description`` and the last
    value or error seen. The only way tests here wait for anything."""
    deadline = time.monotonic() + timeout
    last: object = None
    while True:
        try:
            value = check()
            if value:
                return value
            last = value
        except Exception as exc:  # keep polling; report the last failure if time runs out
            last = exc
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g}s waiting for {description}; last: {last!r}")
        time.sleep(interval)


@dataclass
class Lab:
    """A real local lab started with ``chaoslab up`` in its own state directory."""

    state_dir: Path
    env: dict[str, str] = field(default_factory=dict)
    status: dict = field(default_factory=dict)

    def cli(
        self, *args: str, check: bool = True, timeout: float = 120, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess:
        """``chaoslab ARGS`` on this lab; ``env``: more of the caller's environment (an instructor's token)."""
        result = subprocess.run(
            [sys.executable, "-m", "chaoslab", "--state-dir", str(self.state_dir), *args],
            env={**os.environ, **self.env, **(env or {})},
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"chaoslab {' '.join(args)} exited {result.returncode}:\n{result.stdout}\n{result.stderr}"
            )
        return result

    def up(self) -> Lab:
        self.cli("up", timeout=180)
        self.refresh()
        return self

    def down(self) -> None:
        self.cli("down", check=False)

    def refresh(self) -> dict:
        self.status = json.loads(self.cli("status", "--json", check=False).stdout)
        return self.status

    def process(self, name: str) -> dict:
        return next(p for p in self.refresh()["processes"] if p["name"] == name)

    def url(self, name: str) -> str:
        from chaoslab.local.client import url_of

        return url_of(self.status, name)

    @property
    def database_url(self) -> str:
        return self.url("postgres")

    @property
    def redis_url(self) -> str:
        return self.url("redis")

    def all_pids(self) -> list[int]:
        """The daemon, every supervised process, and PostgreSQL's own children."""
        pids = [self.status["lab"]["pid"]]
        for proc in self.status["processes"]:
            if proc["pid"]:
                pids.append(proc["pid"])
                try:
                    pids.extend(child.pid for child in psutil.Process(proc["pid"]).children(recursive=True))
                except psutil.NoSuchProcess:
                    pass
        return pids

    def wait_ready(self, timeout: float = 60) -> None:
        poll_until(
            lambda: all(p["state"] == "ready" for p in self.refresh()["processes"]),
            "every process of the lab to be ready",
            timeout=timeout,
        )


def checkout(base_url: str, customer_id: int = 1, items=None, key: str | None = None, **kwargs) -> requests.Response:
    headers = {"Idempotency-Key": key} if key else {}
    return requests.post(
        f"{base_url}/checkout",
        json={"customer_id": customer_id, "items": items or [{"sku": "SKU-1001", "quantity": 1}]},
        headers=headers,
        timeout=30,
        **kwargs,
    )


ROOT = Path(__file__).resolve().parents[1]


@functools.cache
def tools_bin() -> Path:
    """Where `make tools` installs the tools: tools/common.sh says (CHAOSLAB_TOOLS_DIR moves it)."""
    out = subprocess.run(["sh", str(ROOT / "tools" / "common.sh")], capture_output=True, text=True, check=True)
    return Path(out.stdout.strip())


def tool(name: str) -> str | None:
    """A CLI tool from the tools cache (where `make tools` installs them) or from PATH."""
    import shutil

    local = tools_bin() / name
    return str(local) if local.exists() else shutil.which(name)


def alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def start_lab(path: Path, **env: str) -> Lab:
    lab = Lab(path, env={"CHAOSLAB_PORTS": "random", **env})
    try:
        return lab.up()
    except BaseException:
        lab.down()
        raise


def stop_lab(lab: Lab) -> None:
    pids = lab.all_pids() if lab.status else []
    lab.down()
    leftovers = [pid for pid in pids if alive(pid)]
    assert not leftovers, f"chaoslab down left processes running: {leftovers}"


def module_lab(name: str, **env: str):
    """A pytest fixture: a lab of the test module's own (breaking it spares the shared one)."""
    import pytest

    @pytest.fixture(scope="module")
    def lab(tmp_path_factory):
        started = start_lab(tmp_path_factory.mktemp(name), **env)
        yield started
        stop_lab(started)

    return lab


def reset_around():
    """An autouse pytest fixture: every fault, deploy, drill and background load gone before and after a
    test. It calls what `chaoslab reset` and `chaoslab load stop` call, in this process: the tests drive
    the lab through the real command, and the cleaning between them need not start an interpreter five
    times a test."""
    import pytest

    from chaoslab.incident import drills
    from chaoslab.local.backend import LocalBackend

    def cleaned(lab) -> None:
        local = LocalBackend(lab.state_dir, "test")
        drills.reset(local)  # the faults, the deploys, the drill and the traffic it started
        local.load().stop()  # load started by hand

    @pytest.fixture(autouse=True)
    def clean(lab):
        cleaned(lab)
        yield
        cleaned(lab)

    return clean


class WebhookReceiver:
    """A real HTTP receiver of JSON webhooks on 127.0.0.1 (a random free port): keeps every POST as
    (arrival time, body) in ``got`` and answers each with the next status of ``answers``, then 200;
    while ``held`` is clear it keeps each answer back (a receiver that hangs)."""

    def __init__(self):
        self.got: list[tuple[float, dict]] = []
        self.answers: list[int] = []
        self.held = threading.Event()
        self.held.set()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                receiver.got.append((time.time(), body))
                receiver.held.wait(timeout=30)
                self.send_response(receiver.answers.pop(0) if receiver.answers else 200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def bodies(self) -> list[dict]:
        return [body for _, body in self.got]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
