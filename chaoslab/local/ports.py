"""Loopback port choice: each component's documented port when it is free, else any free port."""

from __future__ import annotations

import os
import random
import socket
import tempfile
import time
from pathlib import Path

PICKED_FROM = 20000
"""Free ports are drawn at random from here up to the kernel's ephemeral range (see ``free_port``)."""
HELD_S = 600.0
"""How long a port handed out stays reserved for its taker, machine-wide (``reserve``)."""


def is_free(port: int, host: str = "127.0.0.1") -> bool:
    """Whether a server could listen on ``port`` now. The probe binds as the lab's servers do, with
    SO_REUSEADDR: connections a lab just stopped leave the port in TIME_WAIT for a minute, which keeps
    a plain bind out but not a server, so a quick ``down`` and ``up`` keeps the documented ports."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


def free_port(host: str = "127.0.0.1", avoid: set[int] | frozenset[int] = frozenset()) -> int:
    """A port free now, drawn at random below the kernel's ephemeral range. A port the kernel picks
    (bind to 0) comes from that range, where every outgoing connection on the machine also takes its
    local port: in the moment between choosing a port and the service binding it, a connection of
    another lab (or of this one) could take it and the service would crash-loop. Below the range only
    another listener can: each port handed out is reserved machine-wide for a while (``reserve``), so
    two labs starting together never get the same one (a CI run's drills and diagnosis labs did, once,
    and one of them could not start)."""
    low = ephemeral_range()[0]
    draw = random.SystemRandom()
    for _ in range(200):
        port = draw.randrange(PICKED_FROM, low) if low > PICKED_FROM + 1000 else 0
        if port and port not in avoid and is_free(port, host) and reserve(port):
            return port
    while True:  # an unusual ephemeral range: let the kernel choose
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind((host, 0))
            port = sock.getsockname()[1]
        if port not in avoid:
            return port


def reserve(port: int, now: float | None = None) -> bool:
    """Claim ``port`` for ``HELD_S`` among every chaoslab process of this user on the machine: a file per
    port, created exclusively (atomic across processes); a claim older than that is stale and taken
    over. False: someone else holds it, draw another."""
    folder = Path(tempfile.gettempdir()) / f"chaoslab-ports-{os.getuid()}"
    folder.mkdir(mode=0o700, exist_ok=True)
    claim = folder / str(port)
    now = time.time() if now is None else now
    try:
        os.close(os.open(claim, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
        return True
    except FileExistsError:
        pass
    try:
        if now - claim.stat().st_mtime < HELD_S:
            return False
        stale = claim.with_name(f"{port}.stale.{os.getpid()}.{random.SystemRandom().randrange(1 << 30)}")
        claim.rename(stale)  # only one process can move a given claim away
    except OSError:
        return False  # another process took it over first
    stale.unlink(missing_ok=True)
    return reserve(port, now)


def ephemeral_range() -> tuple[int, int]:
    """Where the kernel takes the local ports of outgoing connections (Linux's default if unknown)."""
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return 32768, 60999


def allocate(preferred: dict[str, int], mode: str) -> dict[str, int]:
    """Map each key to a port: ``preferred`` mode keeps the documented port when free; ``random``
    always draws one (``free_port``: parallel test labs). Ports stay distinct, and reserved."""
    chosen: dict[str, int] = {}
    for key, port in preferred.items():
        taken = set(chosen.values())
        if mode == "preferred" and port not in taken and is_free(port):
            chosen[key] = port
        else:
            chosen[key] = free_port(avoid=taken | set(preferred.values()))
    return chosen
