"""The local runner's promises: one lab per state directory, dead processes reported, nothing left behind."""

from __future__ import annotations

import os
import signal

import pytest

from support import alive, poll_until, start_lab

pytestmark = pytest.mark.disruptive


def test_lab_lifecycle(tmp_path):
    lab = start_lab(tmp_path / "lab")
    try:
        second = lab.cli("up", check=False)
        assert second.returncode == 1
        assert "already running" in second.stderr

        victim = lab.process("service-b")
        os.kill(victim["pid"], signal.SIGKILL)
        report = poll_until(
            lambda: (lambda r: r if "signal SIGKILL" in r.stdout else None)(lab.cli("status", check=False)),
            "status to report the killed service",
        )
        assert report.returncode == 1
        line = next(line for line in report.stdout.splitlines() if line.startswith("service-b"))
        assert "exited with signal SIGKILL" in line
        lab.wait_ready()
        assert lab.process("service-b")["restarts"] == 1

        assert lab.cli("logs", "nonsense", check=False).returncode == 2
        assert "starting service-b" in lab.cli("logs", "service-b", "-n", "500").stdout
        lab.refresh()
        pids = lab.all_pids()
        assert len(pids) >= 9
    finally:
        lab.cli("down")
    assert [pid for pid in pids if alive(pid)] == []
    assert not (lab.state_dir / "lab.lock").exists() and not (lab.state_dir / "lab.json").exists()
    after = lab.cli("status", check=False)
    assert after.returncode == 1 and "no lab is running" in after.stderr


def test_down_cleans_up_after_a_crashed_daemon(tmp_path):
    lab = start_lab(tmp_path / "lab")
    pids = lab.all_pids()
    os.kill(lab.status["lab"]["pid"], signal.SIGKILL)
    poll_until(lambda: not alive(lab.status["lab"]["pid"]), "the daemon to die")
    blocked = lab.cli("up", check=False)
    assert blocked.returncode == 1 and "run `chaoslab down` first" in blocked.stderr
    lab.cli("down")
    assert [pid for pid in pids if alive(pid)] == []
