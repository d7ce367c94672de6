"""Locust as a background process: started against a host, read live through its web UI's JSON.

The same runner serves ``chaoslab load`` (until stopped), ``chaoslab verify``
(for a set time) and the tests. Locust's web UI listens on 127.0.0.1 only.
"""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from chaoslab.backend import LoadProfile, TimedRun
from chaoslab.errors import Refused
from chaoslab.processes import running

LOCUSTFILE = Path(__file__).resolve().parent / "locustfile.py"


class LoadError(Refused):
    """Locust could not start or answer; the message says why."""


@dataclass
class LoadPlan:
    """One Locust run: where, which traffic, for how long, and where its reports go."""

    host: str
    profile: LoadProfile = field(default_factory=LoadProfile)
    run_time_s: float | None = None
    """None: until stopped."""
    report_dir: Path | None = None

    def command(self, web_port: int) -> list[str]:
        command = [
            sys.executable,
            "-m",
            "locust",
            "-f",
            str(LOCUSTFILE),
            "--host",
            self.host,
            "--autostart",
            "--web-host",
            "127.0.0.1",
            "--web-port",
            str(web_port),
            "-u",
            str(self.profile.users),
            "-r",
            str(self.profile.spawn_rate),
            "--shape",
            self.profile.shape,
            "--think-time",
            str(self.profile.think_time_s),
            "--journey",
            self.profile.journey,
            "--retries",
            str(self.profile.retries),
            "--loglevel",
            "WARNING",
            "--skip-log-setup",
        ]
        # --autoquit: once the run stops (its run time is up, or /stop was called) Locust writes its
        # reports and exits. Signals are no substitute: a background job may have SIGINT ignored.
        command += ["--autoquit", "1"]
        if self.run_time_s:
            command += ["--run-time", f"{int(self.run_time_s)}s"]
        if self.report_dir is not None:
            command += [
                "--csv",
                str(self.report_dir / "locust"),
                "--csv-full-history",
                "--html",
                str(self.report_dir / "report.html"),
            ]
        return command


class LocustRun:
    def __init__(self, plan: LoadPlan, web_port: int, log_path: Path | None = None, env: dict | None = None):
        """``web_port``: the loopback port of Locust's web UI (the caller picks a free one)."""
        self.plan = plan
        self.web_port = web_port
        self.env = env or {}
        """Added to Locust's environment: the lab's mark (chaoslab.local.registry), so it is never orphaned."""
        self.log_path = log_path
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.web_port}"

    def start(self, timeout_s: float = 30.0) -> LocustRun:
        if self.plan.report_dir is not None:
            self.plan.report_dir.mkdir(parents=True, exist_ok=True)
        out = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL
        self.process = subprocess.Popen(
            self.plan.command(self.web_port),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, **self.env},
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise LoadError(
                    f"locust exited with code {self.process.returncode} before its web UI came up"
                    + (f"; see {self.log_path}" if self.log_path else "")
                )
            try:
                self.stats()
                return self
            except LoadError:
                time.sleep(0.2)
        self.stop()
        raise LoadError(f"locust's web UI did not answer on {self.url} within {timeout_s:g}s")

    def _get(self, path: str, method: str = "GET") -> bytes:
        try:
            request = urllib.request.Request(self.url + path, method=method)
            with urllib.request.urlopen(request, timeout=5) as response:
                return response.read()
        except (urllib.error.URLError, OSError) as exc:
            raise LoadError(f"locust at {self.url} does not answer: {exc}") from None

    def stats(self) -> dict:
        return json.loads(self._get("/stats/requests"))

    def reset(self) -> None:
        self._get("/stats/reset", method="POST")

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def wait(self, timeout_s: float) -> int:
        assert self.process is not None
        return self.process.wait(timeout_s)

    def stop(self, grace_s: float = 15.0) -> None:
        """Stop the run through the web UI (Locust writes its reports and quits), then make sure."""
        if self.process is None:
            return
        stop_locust(self.process.pid, self.url, grace_s)
        self.process.wait(5)


def stop_locust(pid: int, web_url: str, grace_s: float = 15.0) -> None:
    """Ask Locust to stop (POST /stop; --autoquit makes it write reports and exit), wait, then SIGKILL its
    process group (it was started in a session of its own), so nothing of it is left running."""
    try:
        urllib.request.urlopen(urllib.request.Request(web_url + "/stop", method="POST"), timeout=5).read()
        running([psutil.Process(pid)], grace_s)
    except (urllib.error.URLError, OSError, psutil.NoSuchProcess):
        pass
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def run_for(
    plan: LoadPlan, web_port: int, log_path: Path, on_progress: Callable[[float, dict], None], env: dict | None = None
) -> TimedRun:
    """Run ``plan`` (its run_time_s is the duration) to the end, reporting live stats as it goes;
    returns the final figures from Locust's CSV. Raises LoadError if Locust fails."""
    run = LocustRun(plan, web_port, log_path=log_path, env=env).start()
    started = time.monotonic()
    try:
        while run.running:
            try:
                on_progress(time.monotonic() - started, run.stats())
            except LoadError:  # the web UI goes away as Locust quits; progress is best effort
                pass
            try:
                run.wait(2.0)
            except subprocess.TimeoutExpired:  # still running: report progress again
                continue
    finally:
        run.stop()
    return TimedRun(read_final_stats(plan.report_dir), str(plan.report_dir))


def read_final_stats(report_dir: Path) -> dict:
    """Locust's final per-request figures from its CSV, shaped like its /stats/requests JSON."""
    entries = []
    with open(report_dir / "locust_stats.csv", newline="") as handle:
        for row in csv.DictReader(handle):

            def number(key: str, row: dict = row) -> float | None:
                value = row.get(key, "")
                return float(value) if value not in ("", "N/A") else None

            entries.append(
                {
                    "name": row["Name"],
                    "num_requests": int(row["Request Count"]),
                    "num_failures": int(row["Failure Count"]),
                    "median_response_time": number("50%"),
                    "response_time_percentile_0.95": number("95%"),
                    "response_time_percentile_0.99": number("99%"),
                    "total_rps": number("Requests/s") or 0.0,
                }
            )
    return {"stats": entries}
