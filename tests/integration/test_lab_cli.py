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
        second = lab.cli("up")
        assert "a lab is already running" in second.stdout and lab.url("service-a") in second.stdout

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


def test_without_its_daemon_the_lab_can_still_be_reset_and_stopped(tmp_path):
    """The services outlive a killed lab daemon, faults and all; the CLI still reaches them."""
    lab = start_lab(tmp_path / "lab")
    pids = lab.all_pids()
    os.kill(lab.status["lab"]["pid"], signal.SIGKILL)
    poll_until(lambda: not alive(lab.status["lab"]["pid"]), "the daemon to die")
    lab.cli("fault", "add", "db_outage", "--service", "payment")
    assert "db_outage" in lab.cli("fault", "list").stdout
    status = lab.cli("status", check=False)
    assert status.returncode == 1 and "daemon" in status.stderr and "processes still" in status.stderr
    assert "removed 1 fault(s)" in lab.cli("reset").stdout
    assert "no active faults" in lab.cli("fault", "list").stdout
    blocked = lab.cli("up", check=False)
    assert blocked.returncode == 1 and f"chaoslab --state-dir {lab.state_dir} down` first" in blocked.stderr
    lab.cli("down")
    assert [pid for pid in pids if alive(pid)] == []


def test_a_locust_nobody_wrote_down_is_still_stopped(tmp_path):
    """Locust spawned by a start that died before registering its pid (here: spawned with the
    lab's mark and nothing else) is seen by load status and stopped by load stop and by down."""
    from chaoslab.backend import LoadProfile
    from chaoslab.loadtest.runner import LoadPlan, LocustRun
    from chaoslab.local.ports import free_port
    from chaoslab.local.registry import mark
    from chaoslab.local.statedir import StateDir

    lab = start_lab(tmp_path / "lab")
    state = StateDir.at(lab.state_dir)
    try:
        plan = LoadPlan(host=lab.url("service-a"), profile=LoadProfile(users=1))
        orphan = LocustRun(plan, free_port(), env=mark(state, "load")).start()
        assert lab.cli("load", "status").returncode == 0
        lab.cli("load", "stop")
        poll_until(lambda: not alive(orphan.process.pid), "load stop to end the unregistered Locust")
        second = LocustRun(plan, free_port(), env=mark(state, "load")).start()
    finally:
        lab.cli("down")
    assert not alive(second.process.pid)


def test_the_hints_the_cli_prints_can_be_pasted_as_they_are(tmp_path):
    """Run as `.venv/bin/chaoslab --state-dir lab up` (as make lab does, nothing activated, the lab in a
    directory of its own), the next steps it prints, and the ones the console shows, work pasted into a
    fresh shell in another directory whose PATH knows nothing of the virtual environment."""
    import shutil
    import subprocess
    import sys

    import requests

    program = shutil.which("chaoslab", path=os.path.dirname(sys.executable))
    fresh = {
        "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "HOME": str(tmp_path),
        "CHAOSLAB_PORTS": "random",
        "NO_PROXY": "127.0.0.1",
    }
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()

    def paste(hint: str) -> subprocess.CompletedProcess:
        return subprocess.run(["sh", "-c", hint], cwd=elsewhere, env=fresh, capture_output=True, text=True, timeout=120)

    up = subprocess.run(
        [program, "--state-dir", "lab", "up"], cwd=tmp_path, env=fresh, capture_output=True, text=True, timeout=180
    )
    try:
        assert up.returncode == 0, up.stderr
        line = next(line for line in up.stdout.splitlines() if line.startswith("status: "))
        hints = dict(part.split(": ", 1) for part in line.split("    "))
        assert hints["status"].endswith(f"chaoslab --state-dir {tmp_path / 'lab'} status"), hints
        status = paste(hints["status"])
        assert status.returncode == 0, status.stdout + status.stderr
        console = next(line.split()[1] for line in up.stdout.splitlines() if line.strip().startswith("console "))
        panels = requests.get(console + "panels", timeout=30).text
        assert f"--state-dir {tmp_path / 'lab'} incident open TITLE" in panels, panels
        stop = paste(hints["stop"])
        assert stop.returncode == 0 and "lab stopped" in stop.stdout, stop.stdout + stop.stderr
    finally:
        subprocess.run(
            [program, "--state-dir", "lab", "down"], cwd=tmp_path, env=fresh, capture_output=True, timeout=120
        )


def test_make_reads_the_state_directory_from_the_environment(tmp_path):
    """`make status` with CHAOSLAB_STATE_DIR set asks the lab there, as `chaoslab status` does, and the
    hint it prints names that directory."""
    import subprocess
    import sys

    from support import ROOT

    venv = os.path.dirname(os.path.dirname(sys.executable))
    result = subprocess.run(
        ["make", "--no-print-directory", "-C", str(ROOT), f"VENV={venv}", "-o", f"{venv}/.installed", "status"],
        env={**os.environ, "CHAOSLAB_STATE_DIR": str(tmp_path / "lab")},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert f"no lab is running in {tmp_path / 'lab'};" in result.stderr, result.stderr
    assert f"--state-dir {tmp_path / 'lab'} up`" in result.stderr, result.stderr


def test_restart_waits_until_ready_and_config_shows_the_running_values(tmp_path):
    """`restart` says when the process is ready again, and `config` shows what the running lab was started with."""
    lab = start_lab(tmp_path / "lab")
    try:
        restarted = lab.cli("restart", "service-b").stdout
        assert "service-b: ready in" in restarted
        assert lab.process("service-b")["state"] == "ready"
        config = lab.cli("config").stdout
        port = lab.status["lab"]["ports"]["service-a.http"]
        assert f"SERVICE_A_HTTP_PORT={port}" in config and f"CHAOSLAB_STATE_DIR={lab.state_dir}" in config
        assert "CHAOSLAB_AGENT_TOKEN=(set" in config
    finally:
        lab.cli("down")


def test_status_keeps_every_column_in_place_whatever_the_ports(tmp_path):
    """service-b and service-c have three ports each (five digits each on random ports): their rows
    keep the header's columns like every other row."""
    lab = start_lab(tmp_path / "lab")
    try:
        lines = lab.cli("status").stdout.splitlines()
        header = lines[1]
        state, ports, detail = (header.index(title) for title in ("STATE", "PORTS", "URL / REASON"))
        assert max(len(p["ports"]) for p in lab.status["processes"]) == 3
        for proc in lab.status["processes"]:
            row = next(line for line in lines if line.startswith(proc["name"] + " "))
            assert row[state:].startswith(proc["state"] + " "), (header, row)
            assert row[ports:].startswith(",".join(f"{k}:{v}" for k, v in proc["ports"].items()) + " "), (header, row)
            assert row[detail:] == proc["url"], (header, row)
    finally:
        lab.cli("down")
