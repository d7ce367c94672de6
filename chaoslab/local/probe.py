"""Read-only probes of the local lab, for checks (chaos/checks.py): metrics, readiness, restarts, data."""

from __future__ import annotations

import urllib.error
import urllib.request

import psycopg

from chaoslab.local.client import LabClient
from chaoslab.local.statedir import StateDir


class LocalProbe:
    sources = frozenset({"load", "metrics", "lab", "data", "books"})

    def __init__(self, state: StateDir):
        self.client = LabClient(state)
        self.status = self.client.status()

    def _process(self, name: str, fresh: bool = False) -> dict:
        if fresh:
            self.status = self.client.status()
        return next(p for p in self.status["processes"] if p["name"] == name)

    def scrape(self, service: str) -> str:
        with urllib.request.urlopen(self._process(service)["url"] + "/metrics", timeout=5) as response:
            return response.read().decode()

    def ready(self, service: str) -> bool:
        try:
            with urllib.request.urlopen(self._process(service)["url"] + "/health/ready", timeout=3) as response:
                return response.status == 200
        except (urllib.error.URLError, OSError):
            return False

    def restarts(self, service: str) -> int:
        return self._process(service, fresh=True)["restarts"]

    def query(self, sql: str, params: tuple = ()) -> list[tuple]:
        with psycopg.connect(self._process("postgres")["url"], connect_timeout=3) as conn:
            return conn.execute(sql, params).fetchall()
