"""The lab's one state directory (default ``.chaoslab/``): data, logs, lock, token, lab.json."""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class StateDir:
    root: Path

    @classmethod
    def at(cls, path: str | os.PathLike) -> StateDir:
        return cls(Path(path).expanduser().resolve())

    @property
    def lock(self) -> Path:
        """Held (flock) by the running lab daemon; removed by ``down``."""
        return self.root / "lab.lock"

    @property
    def info(self) -> Path:
        """Ports, URLs and pids of the running lab, written by the daemon."""
        return self.root / "lab.json"

    @property
    def token_file(self) -> Path:
        return self.root / "token"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def pgdata(self) -> Path:
        return self.root / "postgres"

    @property
    def redis_dir(self) -> Path:
        return self.root / "redis"

    @property
    def recordings(self) -> Path:
        """Every drill's recording (chaoslab/console/recording.py), a folder each."""
        return self.root / "recordings"

    @property
    def agents(self) -> Path:
        """Each fault agent's active faults, so they outlive a restart of the service until their TTL."""
        return self.root / "agents"

    def log(self, name: str) -> Path:
        return self.logs / f"{name}.log"

    def ensure(self) -> None:
        for path in (self.root, self.logs, self.redis_dir):
            path.mkdir(parents=True, exist_ok=True)

    def read_info(self) -> dict | None:
        try:
            return json.loads(self.info.read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return None

    def write_info(self, info: dict) -> None:
        tmp = self.info.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(info, indent=2))
        tmp.replace(self.info)

    def token(self) -> str:
        """The lab's admin token (created once, mode 0600): mutating lab API calls need it."""
        try:
            return self.token_file.read_text().strip()
        except FileNotFoundError:
            pass
        value = secrets.token_urlsafe(24)
        fd = os.open(self.token_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(value + "\n")
        return value
