"""A throwaway local lab for one benchmark run: its own state directory, random ports, always torn down."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path


class BenchLab:
    def __init__(self, prefix: str, **env: str):
        self.state = Path(tempfile.mkdtemp(prefix=f"{prefix}-")) / "lab"
        self.env = {**os.environ, "CHAOSLAB_PORTS": "random", **env}

    def cli(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "chaoslab", "--state-dir", str(self.state), *args],
            env=self.env,
            capture_output=True,
            text=True,
            check=True,
        )

    def timed(self, *args: str) -> float:
        """Seconds from starting ``chaoslab ARGS`` to its return."""
        started = time.perf_counter()
        self.cli(*args)
        return time.perf_counter() - started

    def status(self) -> dict:
        return json.loads(self.cli("status", "--json").stdout)

    def url(self, name: str) -> str:
        from chaoslab.local.client import url_of

        return url_of(self.status(), name)

    def __enter__(self) -> BenchLab:
        return self

    def __exit__(self, *_exc) -> None:
        subprocess.run(
            [sys.executable, "-m", "chaoslab", "--state-dir", str(self.state), "down"],
            env=self.env,
            capture_output=True,
        )
        shutil.rmtree(self.state.parent, ignore_errors=True)
