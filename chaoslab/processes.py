"""Waiting for processes that another process started: a zombie has ended, since only its parent can
reap it. psutil's wait (and wait_procs) wait out their whole timeout on one."""

from __future__ import annotations

import time

import psutil


def ended(proc: psutil.Process) -> bool:
    try:
        return proc.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def running(processes: list[psutil.Process], timeout_s: float) -> list[psutil.Process]:
    """Those of ``processes`` still running after up to ``timeout_s`` (returns as soon as none is)."""
    deadline = time.monotonic() + timeout_s
    while True:
        left = [proc for proc in processes if not ended(proc)]
        if not left or time.monotonic() >= deadline:
            return left
        time.sleep(0.05)
