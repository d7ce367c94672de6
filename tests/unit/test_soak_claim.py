"""One soak per lab: the claim rule of chaos.soak on a real FileStore (the local lab's store)."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time

import pytest

from chaoslab.chaos import soak
from chaoslab.chaos.journal import FileStore
from chaoslab.errors import Refused


def claims(store) -> list[dict]:
    return [json.loads(line) for line in store.read(soak.CLAIMS).splitlines()]


def test_the_first_live_claim_holds_and_a_second_is_refused_and_withdrawn(tmp_path):
    store = FileStore(tmp_path)
    first = soak._claim(store, until=time.time() + 60)
    with pytest.raises(Refused, match=r"another soak has had this lab for 0m0\ds .*wait for it, at most 0m5\ds more"):
        soak._claim(store, until=time.time() + 60)
    *_, second, withdrawn = claims(store)
    assert second["claim"] != first and withdrawn == {"released": second["claim"]}  # its own claim, not the holder's


def test_a_released_an_expired_or_a_dead_claim_holds_nothing(tmp_path):
    store = FileStore(tmp_path)
    released = soak._claim(store, until=time.time() + 60)
    store.append(soak.CLAIMS, json.dumps({"released": released}))
    store.append(soak.CLAIMS, json.dumps({"claim": "old", "ts": 1.0, "until": time.time() - 1, "pid": 1}))
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    gone = {"claim": "killed", "ts": 2.0, "until": time.time() + 60, "host": socket.gethostname()}
    store.append(soak.CLAIMS, json.dumps({**gone, "pid": int(dead.stdout)}))  # a soak killed with SIGKILL
    assert soak._claim(store, until=time.time() + 60)


def test_a_claim_a_moment_earlier_holds_even_from_another_machine(tmp_path):
    """Two soaks at once both append before either reads: each reads both, and the earlier holds for both.
    A claim from another machine (a team's namespace seen from two laptops) counts until its time is up."""
    store = FileStore(tmp_path)
    now = time.time()
    store.append(soak.CLAIMS, json.dumps({"claim": "b", "ts": now, "until": now + 60, "host": "elsewhere"}))
    with pytest.raises(Refused, match="on elsewhere"):
        soak._claim(store, until=now + 60)
