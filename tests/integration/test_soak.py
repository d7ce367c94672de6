"""The soak in CI, a minute of random drills under load with retries on a lab of its
own, then the books over the whole database: nothing lost, doubled or mischarged, every fault gone by
itself. `make soak` runs the long one."""

from __future__ import annotations

from concurrent import futures

import pytest

from chaoslab.chaos.soak import CLAIMS
from support import module_lab, poll_until

pytestmark = pytest.mark.disruptive

lab = module_lab("soak-lab")


def test_a_minute_of_random_drills_loses_no_money_and_leaves_no_fault(lab):
    with futures.ThreadPoolExecutor(1) as pool:
        first = pool.submit(lab.cli, "soak", "--minutes", "1", "--seed", "14", check=False, timeout=600)
        poll_until(lambda: (lab.state_dir / CLAIMS).exists() or first.done(), "the soak to claim the lab", timeout=60)
        second = lab.cli("soak", "--minutes", "1", check=False)  # two soaks at once: the second is refused
        result = first.result()
    assert second.returncode != 0 and "another soak has had this lab" in second.stderr, second
    out = result.stdout
    print(out)  # the figures, with -s
    assert result.returncode == 0, out + result.stderr
    drills = [line for line in out.splitlines() if "fault(s), TTL" in line]
    assert len(drills) >= 2, out  # the soak really churned
    assert " 0 mischarged; books balance" in out and "every fault expired" in out, out
    attempts = next(line for line in out.splitlines() if line.startswith("checkout attempts"))
    assert int(attempts.split()[2]) > 50, attempts  # under real load


def test_the_soaks_traffic_is_on_a_leash(tmp_path):
    """A soak killed by SIGKILL never reaches the `finally` that stops its Locust: the load it starts has
    a run time (chaos.soak.LOAD_LEASH_S past its own), after which Locust writes its reports and exits
    by itself. A real Locust, with a 3 s leash, against a port nobody listens on."""
    from chaoslab.backend import LoadProfile
    from chaoslab.local import load as background
    from chaoslab.local.load import LocalLoad
    from chaoslab.local.ports import free_port
    from chaoslab.local.statedir import StateDir
    from support import poll_until

    state = StateDir.at(tmp_path / "lab")
    LocalLoad(state).start(LoadProfile(users=1, spawn_rate=1), "test", f"http://127.0.0.1:{free_port()}", run_time_s=3)
    try:
        assert background.current(state) is not None, "it runs"
        poll_until(lambda: background.current(state) is None, "Locust to stop by itself at its run time", timeout=30)
    finally:
        background.stop(state)
