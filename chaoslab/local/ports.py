"""Loopback port choice: each component's documented port when it is free, else any free port."""

from __future__ import annotations

import socket


def is_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


def free_port(host: str = "127.0.0.1", avoid: set[int] | frozenset[int] = frozenset()) -> int:
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind((host, 0))
            port = sock.getsockname()[1]
        if port not in avoid:
            return port


def allocate(preferred: dict[str, int], mode: str) -> dict[str, int]:
    """Map each key to a port: ``preferred`` mode keeps the documented port when free; ``random``
    always takes a kernel-chosen one (parallel test labs). Ports stay distinct."""
    chosen: dict[str, int] = {}
    for key, port in preferred.items():
        taken = set(chosen.values())
        if mode == "preferred" and port not in taken and is_free(port):
            chosen[key] = port
        else:
            chosen[key] = free_port(avoid=taken | set(preferred.values()))
    return chosen
