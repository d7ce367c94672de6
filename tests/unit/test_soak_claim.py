"""One soak per lab: the claim rule of chaos.soak on a real FileStore (the local lab's store)."""

from __future__ import annotations

import socket
import subprocess
import sys
import time

import pytest

from chaoslab.chaos import soak
from chaoslab.chaos.journal import FileStore, Journal
from chaoslab.errors import Refused


def claims(tmp_path) -> Journal:
    return Journal(FileStore(tmp_path), soak.CLAIMS)


def test_the_first_live_claim_holds_and_a_second_is_refused_and_withdrawn(tmp_path):
    journal = claims(tmp_path)
    first = soak._claim(journal, until=time.time() + 60)
    with pytest.raises(Refused, match=r"another soak has had this lab for 0m0\ds .*wait for it, at most 0m5\ds more"):
        soak._claim(journal, until=time.time() + 60)
    *_, second, withdrawn = journal.entries()
    assert second["claim"] != first and (withdrawn["event"], withdrawn["claim"]) == ("released", second["claim"])


def test_a_released_an_expired_or_a_dead_claim_holds_nothing(tmp_path):
    journal = claims(tmp_path)
    journal.append("released", claim=soak._claim(journal, until=time.time() + 60))
    journal.append("claimed", ts=1.0, claim="old", until=time.time() - 1, pid=1)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    journal.append(
        "claimed", ts=2.0, claim="killed", until=time.time() + 60, host=socket.gethostname(), pid=int(dead.stdout)
    )
    assert soak._claim(journal, until=time.time() + 60)  # a soak killed with SIGKILL above holds nothing


def test_a_claim_a_moment_earlier_holds_even_from_another_machine(tmp_path):
    """Two soaks at once both append before either reads: each reads both, and the earlier holds for both.
    A claim from another machine (a team's namespace seen from two laptops) counts until its time is up."""
    journal = claims(tmp_path)
    journal.append("claimed", claim="b", until=time.time() + 60, host="elsewhere")  # the same millisecond, maybe
    with pytest.raises(Refused, match="on elsewhere"):
        soak._claim(journal, until=time.time() + 60)
