"""Idempotent SQL migrations: numbered files applied once each, in order, under an advisory lock.

``chaoslab migrate`` runs them (the local runner does it on ``up``; on
Kubernetes a Helm hook Job does). Services never migrate; their readiness
waits until the schema is at ``LATEST``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import psycopg
from psycopg import sql

HERE = Path(__file__).resolve().parent
_LOCK_ID = 0x6368616F  # "chao": one migrator at a time across the cluster


def migrations() -> list[tuple[int, str, str]]:
    """(version, name, SQL) for every ``NNNN_name.sql`` here, in order."""
    found = []
    for path in sorted(HERE.glob("*.sql")):
        match = re.fullmatch(r"(\d{4})_(\w+)\.sql", path.name)
        if not match:
            raise ValueError(f"migration file {path.name} must be named NNNN_description.sql")
        found.append((int(match.group(1)), match.group(2), path.read_text()))
    return found


LATEST: int = max(v for v, _, _ in migrations())


def ensure_database(url: str) -> bool:
    """Create the URL's database if the server lacks it (embedded PostgreSQL starts with none)."""
    info = psycopg.conninfo.conninfo_to_dict(url)
    dbname = info.get("dbname", "postgres")
    admin = psycopg.conninfo.make_conninfo(url, dbname="postgres")
    with psycopg.connect(admin, autocommit=True, connect_timeout=5) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (dbname,)).fetchone():
            return False
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(dbname)))
        return True


def apply(url: str, say: Callable[[str], None] = lambda _: None) -> list[int]:
    """Apply pending migrations; returns the versions applied (empty when already current)."""
    applied_now: list[int] = []
    with psycopg.connect(url, autocommit=True, connect_timeout=5) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (_LOCK_ID,))
        try:
            conn.execute("""CREATE TABLE IF NOT EXISTS public.schema_migrations (
                                version int PRIMARY KEY, name text NOT NULL,
                                applied_at timestamptz NOT NULL DEFAULT now())""")
            done = {row[0] for row in conn.execute("SELECT version FROM public.schema_migrations")}
            for version, name, statements in migrations():
                if version in done:
                    continue
                with conn.transaction():
                    conn.execute(statements)
                    conn.execute(
                        "INSERT INTO public.schema_migrations (version, name) VALUES (%s, %s)", (version, name)
                    )
                say(f"applied migration {version:04d} {name}")
                applied_now.append(version)
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (_LOCK_ID,))
    return applied_now
