"""The incident commands on a state directory with no lab running: the record works without one (a
report can come in while the lab is down), nothing is graded without a drill, bad input exits 2."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from chaoslab.cli import cli


@pytest.fixture
def run(tmp_path):
    def invoke(*args: str, stdin: str | None = None):
        return CliRunner().invoke(cli, ["--state-dir", str(tmp_path), *args], input=stdin)

    return invoke


def test_an_incident_from_a_report_to_an_unverified_resolution(run):
    opened = run("incident", "open", "checkout spins forever", "--severity", "P0", "--report", "my cart hangs")
    assert opened.exit_code == 0 and "INC-1 opened: P1" in opened.output
    assert run("incident", "open", "another", "--severity", "P3").exit_code == 1  # one open at a time
    assert run("incident", "update", "ack").exit_code == 1  # announce an acknowledgment once there is one
    assert "commander dana" in run("incident", "ack", "--commander", "dana").output
    assert "not resolved yet" in run("incident", "update", "resolved").output
    assert run("incident", "ack").exit_code == 1  # once
    noted = run("incident", "note", "the pool is full", "--hypothesis", "--link", "4bf92f3577b34da6a3ce929d0e0e4736")
    assert "INC-1 hypothesis" in noted.output
    assert run("incident", "note", "x", "--link", "two words").exit_code == 2
    update = run("incident", "update", "status", "--say", "rolling back pricing")
    assert "What we know: current hypothesis: the pool is full." in update.output and update.output.rstrip().endswith(
        "rolling back pricing"
    )
    asked = run("triage", stdin="CheckoutHang\n5m ago\n\nnone\norders\n")
    graded = [line.split()[0] for line in asked.output.splitlines() if "recorded, not graded" in line]
    assert asked.exit_code == 0 and graded == ["WHAT", "WHEN", "CHANGE", "OWNER"]  # SCOPE was skipped
    assert "not graded" in asked.output  # no drill ran: nothing to grade against
    said = run("incident", "rootcause", "--service", "service-c", "--kind", "deadlock")
    assert said.exit_code == 0 and "recorded, not graded: no drill was running" in said.output
    assert "resolved, unverified" in run("incident", "resolve", "--unverified").output
    review = json.loads(run("incident", "pir", "--json").output)
    assert review["state"] == "resolved, unverified" and review["impact"]["basis"].startswith("not measured")
    assert any(item["type"] == "mitigate" for item in review["action_items"])  # prove the fix
    listing = run("incident", "list").output
    assert "INC-1" in listing and "resolved, unverified" in listing
    scored = json.loads(run("score", "--json").output)[0]
    assert scored["graded"] is False and scored["tta_s"] is not None and scored["triage_answered"] == 4


@pytest.mark.parametrize(
    "args,message",
    [
        (("incident", "open", "x", "--severity", "P9"), "unknown severity 'P9'"),
        (("incident", "rootcause", "--service", "nope", "--kind", "deadlock"), "--service 'nope'"),
        (("incident", "rootcause", "--service", "payment", "--kind", "gremlins"), "--kind 'gremlins'"),
        (("triage", "--owner", "nobody"), "not a team"),
        (("triage", "--when", "lunchtime"), "is not a time"),
        (("incident", "resolve", "--duration", "0"), "--duration must be more than 0"),
    ],
)
def test_bad_input_exits_2_with_one_line(run, args, message):
    run("incident", "open", "something is off")
    result = run(*args)
    assert result.exit_code == 2 and message in result.output, result.output
    assert len(result.output.strip().splitlines()) == 1


def test_with_nothing_open_the_commands_say_how_to_start(run):
    result = run("incident", "ack")
    assert result.exit_code == 1 and "incident open TITLE" in result.output


def test_a_multi_line_update_shows_as_lines_in_the_timeline_never_a_literal_newline(run):
    """Before, `incident show` printed a status update as one line with a literal \\n in it."""
    run("incident", "open", "checkout is slow", "--severity", "P2")
    run("incident", "ack")
    run("incident", "update", "status", "--say", "rolling back")
    shown = run("incident", "show").output
    assert "\\n" not in shown
    row = next(line for line in shown.splitlines() if "status_update" in line)
    indent = len(row) - len(row.lstrip())
    assert "Impact:" in shown and any(
        line.strip().startswith("Impact:") and len(line) - len(line.lstrip()) > indent for line in shown.splitlines()
    )


def test_three_people_in_three_roles_are_on_the_record_the_show_and_the_review(run):
    run("incident", "open", "checkout spins", "--severity", "P1")
    assert "commander Ana" in run("incident", "ack", "--commander", "Ana").output
    assert "INC-1 comms: Bea" in run("incident", "role", "assign", "comms", "Bea").output
    run("incident", "role", "assign", "scribe", "Cy")
    handed = run("incident", "role", "assign", "commander", "Dee")  # a hand-off
    assert handed.exit_code == 0 and "INC-1 commander: Dee" in handed.output
    shown = run("incident", "show").output
    assert "commander Dee" in shown and "roles: comms Bea, scribe Cy" in shown, shown
    assert "incident commander: Dee (was Ana)" in shown
    listed = run("incident", "role", "list").output
    assert "ops        -" in listed and "comms      Bea" in listed, listed
    review = json.loads(run("incident", "pir", "--json").output)
    assert review["commander"] == "Dee" and review["roles"] == {"commander": "Dee", "comms": "Bea", "scribe": "Cy"}
    assert {"Bea", "Cy", "Dee"} <= set(review["responders"])
    assert "Roles: comms Bea · scribe Cy" in run("incident", "pir").output
    refused = run("incident", "role", "assign", "chef", "Ed")
    assert refused.exit_code == 2 and "'chef'" in refused.output
    assert run("incident", "role", "assign", "ops", "   ").exit_code == 2  # a name is needed


def test_score_history_lists_the_drills_in_order_with_mtta_mttr_and_mean_ttrc(run):
    assert "no incidents yet" in run("score", "--history").output
    for title in ("first", "second"):
        run("incident", "open", title, "--severity", "P2")
        run("incident", "ack")
        run("incident", "resolve", "--unverified")
    history = json.loads(run("score", "--history", "--json").output)
    assert [d["incident"] for d in history["drills"]] == ["INC-1", "INC-2"]
    assert all(d["tta_s"] is not None and d["ttr_s"] is not None for d in history["drills"])
    assert history["means"]["tta"]["n"] == 2 and history["means"]["ttr"]["n"] == 2
    assert history["means"]["ttrc"] == {"mean_s": None, "n": 0}  # no root cause was named
    shown = run("score", "--history").output
    assert "INC-2" in shown and "MTTA" in shown and "over 2" in shown and "mean TTRC - over 0" in shown, shown


def test_a_false_positive_and_a_duplicate_stay_on_the_record_and_out_of_the_scores(run):
    run("incident", "open", "checkout slow", "--severity", "P2")
    run("incident", "resolve", "--unverified")
    run("incident", "open", "the verify paged", "--severity", "P2")
    marked = run("incident", "mark", "false-positive", "--reason", "the verify's own load paged")
    assert marked.exit_code == 0 and "INC-2 closed as false positive" in marked.output, marked.output
    run("incident", "open", "again checkout", "--severity", "P2")
    assert run("incident", "mark", "duplicate", "--reason", "same").exit_code == 2  # of which?
    assert run("incident", "mark", "duplicate", "--of", "INC-3", "--reason", "same").exit_code == 2  # not itself
    assert run("incident", "mark", "duplicate", "--of", "INC-9", "--reason", "same").exit_code == 1  # no such
    assert "duplicate of INC-1" in run("incident", "mark", "duplicate", "--of", "INC-1", "--reason", "same").output
    shown = run("incident", "show", "INC-2").output
    assert "false positive" in shown and "closed as a false positive: the verify's own load paged" in shown
    scored = run("score")
    assert "INC-2: closed as false positive, not scored" in scored.output
    assert "INC-3: closed as duplicate of INC-1, not scored" in scored.output
    assert [s["incident"] for s in json.loads(run("score", "--json").output)] == ["INC-1"]
    assert [d["incident"] for d in json.loads(run("score", "--history", "--json").output)["drills"]] == ["INC-1"]
    assert run("incident", "mark", "false-positive", "--id", "INC-1", "--reason", "x").exit_code == 1  # resolved


def test_action_items_from_the_review_are_tracked_owned_and_carried_to_the_next_drill(run):
    run("incident", "open", "checkout spins", "--severity", "P2")
    run("incident", "ack", "--commander", "Ana")
    run("incident", "resolve", "--unverified")
    taken = run("actions", "add", "--from-pir")
    assert taken.exit_code == 0 and "from INC-1's review" in taken.output, taken.output
    items = json.loads(run("actions", "list", "--json").output)
    assert items and all(i["status"] == "open" and i["incident"] == "INC-1" for i in items)
    assert "Ana" in {i["owner"] for i in items}  # "the incident commander" is the person who was
    assert "0 action item(s)" in run("actions", "add", "--from-pir").output  # taken once
    mine = run("actions", "add", "alert on the outbox backlog", "--owner", "Bea", "--due", "2026-12-31")
    assert mine.exit_code == 0 and "owner Bea" in mine.output
    first = items[0]["id"]
    assert run("actions", "done", first).exit_code == 0
    assert first not in run("actions", "list").output and first in run("actions", "list", "--all").output
    again = run("actions", "done", first)
    assert again.exit_code == 1 and "done already" in again.output
    assert run("actions", "add", "x", "--owner", "Bea", "--due", "friday").exit_code == 2
    assert run("actions", "add", "x").exit_code == 2  # an owner is needed
    assert run("actions", "add", "x", "--owner", "Bea", "--from-pir").exit_code == 2


def test_triage_answered_twice_is_one_row_per_question_in_the_timeline(run):
    run("incident", "open", "checkout slow", "--severity", "P2")
    run("triage", "--owner", "orders", "--change", "none")
    run("triage", "--owner", "payments")
    shown = run("incident", "show").output
    owner_rows = [line for line in shown.splitlines() if "triage_answer" in line and "OWNER" in line]
    assert len(owner_rows) == 1 and "OWNER: orders" in owner_rows[0] and "(then: payments)" in owner_rows[0], shown
    every = json.loads(run("incident", "show", "--json").output)["timeline"]
    assert len([e for e in every if e["kind"] == "triage_answer"]) == 3  # the record keeps every answer


def test_a_key_moment_is_marked_in_the_timeline_and_listed_in_the_review(run):
    run("incident", "open", "checkout slow", "--severity", "P2")
    run("incident", "note", "rolled back pricing: p95 back under 500 ms", "--key")
    run("incident", "note", "ordinary note")
    assert "note #1 (key)" in run("incident", "show").output
    review = json.loads(run("incident", "pir", "--json").output)
    assert [m["text"] for m in review["key_moments"]] == ["rolled back pricing: p95 back under 500 ms"]
    assert "## Key moments" in run("incident", "pir").output


def test_a_wrong_note_is_corrected_not_erased(run):
    """Append-only: the correction names the note it replaces; both stay, the old one marked, and what the
    team holds now (its hypothesis in a status update, its key moments) is the correction."""
    run("incident", "open", "checkout slow", "--severity", "P2")
    assert "INC-1 hypothesis #1" in run("incident", "note", "the database is slow", "--hypothesis", "--key").output
    run("incident", "note", "ordinary note")
    fixed = run("incident", "note", "pricing is slow, not the database", "--corrects", "1")
    assert fixed.exit_code == 0 and "INC-1 hypothesis #3" in fixed.output  # a hypothesis stays one
    shown = run("incident", "show").output
    assert "the database is slow (corrected by #3)" in shown and "(corrects #1) pricing is slow" in shown
    assert "current hypothesis: pricing is slow" in run("incident", "update", "status").output
    review = json.loads(run("incident", "pir", "--json").output)
    assert [m["text"] for m in review["key_moments"]] == ["pricing is slow, not the database"]
    assert "the database is slow (corrected by #3)" in {row["text"] for row in review["timeline"]}
    again = run("incident", "note", "twice", "--corrects", "1")
    assert again.exit_code == 1 and "already corrected by #3" in again.output
    missing = run("incident", "note", "nothing there", "--corrects", "9")
    assert missing.exit_code == 2 and "no note #9" in missing.output
