"""Waiting for a process another process started (chaoslab.processes): `load stop` and `down` end a
Locust or a service that a crashed CLI or daemon left behind, and a killed one that its parent has not
reaped yet is a zombie that psutil's own wait would wait on to its timeout."""

from __future__ import annotations

import subprocess
import sys

import psutil

from chaoslab.processes import ended, running
from support import poll_until


def test_a_killed_child_nobody_reaped_has_ended_and_a_live_one_is_still_running():
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        proc = psutil.Process(child.pid)
        assert running([proc], 0) == [proc] and not ended(proc)
        child.kill()  # not reaped: this test's process never waits on it until the end
        poll_until(lambda: proc.status() == psutil.STATUS_ZOMBIE, "the killed child to become a zombie")
        assert ended(proc) and running([proc], 0) == []
        assert psutil.pid_exists(child.pid), "a zombie's pid still exists: what psutil's wait polls"
    finally:
        child.kill()
        child.wait()
    assert ended(proc), "a reaped process is gone"
