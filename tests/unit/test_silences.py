"""A team's silences, Alertmanager's way: matchers on the alert's labels, a window, who and why, ended
early by unsilence; a silenced page opens no incident and is kept on the silence's record."""

from __future__ import annotations

import json
import time

import pytest
from click.testing import CliRunner

from chaoslab.chaos.journal import FileStore
from chaoslab.cli import cli
from chaoslab.incident.alerting import AlertEvent, on_alert
from chaoslab.incident.record import IncidentLog
from chaoslab.incident.silence import Silences


@pytest.fixture
def run(tmp_path):
    def invoke(*args: str):
        return CliRunner().invoke(cli, ["--state-dir", str(tmp_path), *args])

    return invoke


def page(store, name="PaymentSuccessFastBurn", owner="payments"):
    return on_alert(store, AlertEvent(name, "P1", "fired", time.time(), owner=owner, labels={"team": "local"}))


def test_a_matching_page_is_silenced_and_kept_on_the_record_and_another_still_pages(run, tmp_path):
    made = run("alerts", "silence", "owner=payments", "alertname=~Payment.*", "--for", "10m", "--reason", "vendor work")
    assert made.exit_code == 0 and "silenced until" in made.output, made.output
    store = FileStore(tmp_path)
    assert page(store) is None  # silenced: no incident
    muted = [e for e in Silences(store).journal.entries() if e["event"] == "muted"]
    assert [m["alert"] for m in muted] == ["PaymentSuccessFastBurn"]
    opened = page(store, "CheckoutAvailabilityFastBurn", owner="orders")  # no matcher matches it
    assert opened is not None and opened.severity == "P1"


def test_a_silence_lists_with_who_and_why_and_unsilence_ends_it(run, tmp_path):
    run("alerts", "silence", "owner!=orders", "--for", "5m", "--reason", "noisy")
    (item,) = json.loads(run("alerts", "silences", "--json").output)
    assert item["matchers"] == [["owner", "!=", "orders"]] and item["reason"] == "noisy"
    assert item["id"] in run("alerts", "silences").output
    assert run("alerts", "unsilence", item["id"]).exit_code == 0
    assert "no silence in force" in run("alerts", "silences").output
    assert page(FileStore(tmp_path)) is not None  # pages again
    again = run("alerts", "unsilence", item["id"])
    assert again.exit_code == 1 and "no silence" in again.output


def test_a_silence_with_no_matcher_silences_every_page_and_outlives_a_drill_run(run, tmp_path):
    run("alerts", "silence", "--for", "1h", "--reason", "game day setup")
    store = FileStore(tmp_path)
    assert page(store) is None and page(store, "CheckoutAvailabilityFastBurn", owner="orders") is None
    assert IncidentLog(store).all() == []


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (("owner", "--reason", "x"), "write it as label=value"),
        (("alertname=~(", "--reason", "x"), "not a regular expression"),
        (("--for", "soon", "--reason", "x"), "--for 'soon'"),
        (("--for", "3d", "--reason", "x"), "between 1 s and 24 h"),
    ],
)
def test_a_bad_silence_is_one_line_exit_2_and_sets_nothing(run, args, said):
    result = run("alerts", "silence", *args)
    assert result.exit_code == 2 and said in result.output, result.output
    assert "no silence in force" in run("alerts", "silences").output
