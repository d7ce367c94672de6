"""A drill's recording on disk and read back at any moment (chaoslab.console.bundle, .replay): what a
frame keeps, what the replay answers at a clock, the clock itself, and one file to pass around."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import zipfile

import pytest
import requests

from chaoslab.cli.replay import position
from chaoslab.console.bundle import ANSWER, FRAMES, META, BadBundle, Writer, add, export, load, seal
from chaoslab.console.replay import Replay, ReplayClock, control, marks
from chaoslab.errors import BadInput
from chaoslab.servicegraph import Graph

T0 = 1_800_000_000.0


def graph(at: float, health: str) -> dict:
    edge = {
        "source": "service-c",
        "target": "service-a",
        "connection": "request",
        "requests": 3,
        "errors": 0,
        "unanswered": 0,
        "in_flight": 2,
        "open_unanswered": 2,
        "oldest_open_ms": 4000.0,
        "rate": 0.05,
        "error_share": 0.4,
        "p50_ms": 10.0,
        "p95_ms": 20.0,
        "p99_ms": 30.0,
        "server_p95_ms": 5.0,
        "new": True,
        "health": health,
    }
    return Graph.from_dict({"window_s": 60, "at": at, "nodes": [], "edges": [edge]}).to_dict()


def ref(trace_id: str, at: float, error: bool = False, duration_ms: float = 12.0, open_: bool = False) -> dict:
    return {
        "trace_id": trace_id,
        "source": "service-b",
        "target": "service-c",
        "ended_at": at,
        "duration_ms": duration_ms,
        "error": error,
        "unanswered": False,
        "open": open_,
    }


@pytest.fixture
def recorded(tmp_path):
    """Ninety seconds of a drill: healthy, then the cycle fails at +30 s; an incident from +40 s."""
    writer = Writer(
        tmp_path / "20300101-000000-red", {"where": "team red's local lab", "team": "red", "started_at": T0}
    )
    incident = {
        "id": "INC-1",
        "resolved_at": None,
        "timeline": [
            {"ts": T0 + 40, "kind": "alert_fired", "text": "CheckoutErrors fired", "source": "alert"},
            {"ts": T0 + 70, "kind": "note", "text": "the cycle is back", "source": "team"},
        ],
    }
    for step in range(0, 91, 2):
        t = T0 + step
        values = {
            "graph": graph(t, "failed" if step >= 30 else "healthy"),
            "processes": {"service-a": "ready"},
            "incident": incident if step >= 40 else None,
            "alerts": {"alerts": [{"alert": "CheckoutErrors", "state": "firing"}] if step >= 40 else []},
            "metrics": [{"values": {"checkouts:ok": float(step)}, "silent": []}] if step % 10 == 0 else [],
            "traces": [ref(f"{step:032x}", t, error=step >= 30)] if step % 10 == 0 else [],
            "open": [ref("f" * 32, t, open_=True, duration_ms=3000)] if 30 <= step <= 50 else [],
            "changes": [{"ts": T0 - 600, "service": "service-c", "id": "chg-1"}] if step == 0 else [],
        }
        writer.frame(t, values)
        if step == 0 or step == 30:
            writer.answer(t, {"faults": [{"kind": "deadlock"}] if step else [], "scenario": {"id": "deadlock"}})
    writer.trace("0" * 30 + "1e", [{"span_id": "a", "name": "checkout"}])
    writer.close(T0 + 90)
    return writer.folder


def test_a_state_stream_is_written_only_when_it_changes(recorded):
    lines = [json.loads(line) for line in (recorded / FRAMES).read_text().splitlines()]
    assert sum("processes" in line for line in lines) == 1, "the same processes are written once"
    assert sum("incident" in line for line in lines) == 2, "None, then the open incident"
    assert sum("graph" in line for line in lines) == len(lines), "the graph's time moves every frame"
    assert sum("metrics" in line for line in lines) == 10, "an event stream only when it has items"


def test_the_replay_answers_what_was_true_at_its_clock(recorded):
    played = Replay(load(recorded))
    source = played.source
    played.clock.seek(T0 + 20)
    assert [e.health for e in source.graph(60).edges] == ["healthy"]
    assert source.incident() is None
    assert source.scenario() == {"id": "deadlock"} and source.faults() == []
    played.clock.seek(T0 + 45)
    assert [e.health for e in source.graph(60).edges] == ["failed"]
    assert [e["text"] for e in source.incident()["timeline"]] == ["CheckoutErrors fired"], "not the note to come"
    assert source.faults() == [{"kind": "deadlock"}]
    refs = source.traces_through(60, source="service-b", target="service-c")
    assert [r.trace_id for r in refs["failed"]] == [f"{40:032x}", f"{30:032x}"], "newest first, none after +45"
    assert [r.duration_ms for r in refs["open"]] == [3000]
    played.clock.seek(T0 + 60)
    assert source.traces_through(60, node="service-c")["open"] == [], "nothing open is written after +50"
    assert source.traces_through(30, node="service-c")["slow"] == [], "the healthy calls are over 30 s old"
    assert [c["id"] for c in source.changes(T0 - 3600)] == ["chg-1"], "the deploy before the drill is kept"
    assert source.trace("0" * 30 + "1e") == [{"span_id": "a", "name": "checkout"}]
    assert source.notices(None) == (0, []), "a replay pages nobody"


def test_the_business_figures_replay_from_the_recorded_scrapes(recorded):
    played = Replay(load(recorded))
    played.clock.seek(T0 + 50)
    played.history.refresh(lambda: pytest.fail("a replay scrapes nothing"))
    overall, series, _ = played.history.window(60)
    assert overall.checkouts == 50.0 and len(series) == 5


def test_marks_are_the_timeline_and_the_alerts_fired_while_no_incident_was_open(tmp_path, recorded):
    found = marks(load(recorded))
    assert [(m["t"] - T0, m["kind"]) for m in found] == [(0, "start"), (40, "alert_fired"), (70, "note")]
    assert "deploy" not in {m["kind"] for m in found}, "the deploy was before the recording"


def test_a_note_the_last_frame_read_after_its_slot_still_has_its_mark(tmp_path):
    """A frame is read during its 2 s slot: the last frame of a recording being written can hold a note
    dated after the frame's own time, and a replay opened then must still offer that note's mark."""
    writer = Writer(
        tmp_path / "20300101-000000-red", {"where": "team red's local lab", "team": "red", "started_at": T0}
    )
    note = {"ts": T0 + 2.3, "kind": "note", "text": "a cycle", "source": "team"}
    writer.frame(T0, {"graph": graph(T0, "healthy"), "incident": None})
    writer.frame(T0 + 2, {"graph": graph(T0 + 2, "failed"), "incident": {"id": "INC-1", "timeline": [note]}})
    found = marks(load(writer.folder))
    assert [(m["kind"], m["t"] - T0, m["at"] - T0) for m in found][-1] == ("note", 2, pytest.approx(2.3))


def test_the_clock_plays_at_its_speed_stops_at_the_end_and_plays_again_from_the_start():
    ticks = [0.0]
    clock = ReplayClock(T0, T0 + 600, monotonic=lambda: ticks[0])
    clock.play(10)
    ticks[0] = 3.0
    assert clock.now() == T0 + 30
    clock.pause()
    ticks[0] = 100.0
    assert clock.now() == T0 + 30, "paused"
    clock.play(60)
    ticks[0] = 200.0
    assert clock.now() == T0 + 600 and not clock.playing, "stopped at the end"
    clock.play()
    assert clock.now() == T0 and clock.speed == 60
    clock.seek(T0 - 50)
    assert clock.now() == T0, "a seek stays within the recording"


def test_a_bad_control_says_what_is_wrong():
    clock = ReplayClock(T0, T0 + 60)
    for asked, expected in (
        ({"action": "rewind"}, "action must be play, pause or seek"),
        ({"action": "seek"}, "seek needs t"),
        ({"action": "seek", "t": T0 + 3600}, "t must be within the recording"),
        ({"action": "play", "speed": 7}, "speed must be one of 1, 10, 60"),
        ({"action": "play", "speed": "fast"}, "speed must be one of 1, 10, 60"),
    ):
        with pytest.raises(ValueError, match=expected):
            control(clock, asked)


def test_a_recording_cut_short_replays_to_its_last_whole_line(tmp_path):
    writer = Writer(tmp_path / "cut", {"where": "x", "team": "red", "started_at": T0})
    writer.frame(T0 + 2, {"processes": {"a": "ready"}})
    writer.frame(T0 + 4, {"processes": {"a": "stopped"}})
    with open(tmp_path / "cut" / FRAMES, "a") as f:
        f.write('{"t": 1800000006, "processes": {"a": "re')  # the daemon was killed mid-line
    bundle = load(tmp_path / "cut")
    assert bundle.meta["ended_at"] is None and bundle.end == T0 + 4
    assert bundle.state("processes", T0 + 5) == {"a": "stopped"}


def test_an_export_is_one_file_with_or_without_the_answer_key(tmp_path, recorded):
    full, bare = tmp_path / "full.zip", tmp_path / "bare.zip"
    export(recorded, full)
    export(recorded, bare, answers=False)
    assert ANSWER in zipfile.ZipFile(full).namelist() and ANSWER not in zipfile.ZipFile(bare).namelist()
    assert load(full).has_answers and not load(bare).has_answers
    assert Replay(load(bare)).source.scenario() is None
    added = add(full, tmp_path / "recordings")
    assert added.name == "full.zip" and load(added).end == T0 + 90
    with pytest.raises(BadBundle, match="named full is there already"):
        add(full, tmp_path / "recordings")


def test_a_finished_recording_is_sealed_into_one_smaller_file(recorded):
    before = load(recorded).state("graph", T0 + 45)
    raw = sum(f.stat().st_size for f in recorded.iterdir())
    sealed = seal(recorded)
    assert not recorded.exists() and sealed.name == "20300101-000000-red.zip"
    assert sealed.stat().st_size < raw / 3
    assert load(sealed).state("graph", T0 + 45) == before


def test_what_is_not_a_recording_is_refused_with_a_reason(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(BadBundle, match="neither a recording's folder nor an exported recording"):
        load(tmp_path / "notes.txt")
    with pytest.raises(BadBundle, match="chaoslab recordings list"):
        load(tmp_path / "missing")
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / META).write_text(json.dumps({"format": 99, "started_at": T0}))
    with pytest.raises(BadBundle, match="this chaoslab replays format 1"):
        load(tmp_path / "old")
    assert issubclass(BadBundle, BadInput), "a bad file exits 2"


def test_a_replay_starts_where_it_is_asked():
    assert position("+01:30", T0, T0 + 600) == T0 + 90
    assert position(time.strftime("%H:%M:%S", time.localtime(T0 + 45)), T0, T0 + 600) == T0 + 45, "as reviews print it"
    with pytest.raises(BadInput, match="the recording runs from"):
        position("+20:00", T0, T0 + 600)
    for malformed in ("soon", "25:00", "10:61", "+01:75"):
        with pytest.raises(BadInput, match="give \\+MM:SS"):
            position(malformed, T0, T0 + 600)


def test_chaoslab_replay_serves_an_exported_file_where_it_is_asked_to_start(tmp_path, recorded):
    """The command as a debrief runs it: a file handed over without its answer key, opened 45 s in."""
    exported = tmp_path / "for-trainees.zip"
    export(recorded, exported, answers=False)
    served = subprocess.Popen(
        [sys.executable, "-m", "chaoslab", "--state-dir", str(tmp_path / "lab")]
        + ["replay", str(exported), "--no-open", "--at", "+00:45"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        said = [served.stdout.readline() for _ in range(3)]
        address = next(line.split(" ", 1)[1].strip() for line in said if line.startswith("console: "))
        assert "instructor: this export has no answer key\n" in said, said
        state = requests.get(address + "replay", timeout=10).json()
        assert state["now"] == T0 + 45 and [m["kind"] for m in state["marks"]] == ["start", "alert_fired", "note"]
        graph = requests.get(address + "api/graph", params={"window": 60}, timeout=10).json()
        assert [e["health"] for e in graph["edges"]] == ["failed"]
        refused = requests.post(address + "replay", json={"action": "seek", "t": "soon"}, timeout=10)
        assert refused.status_code == 400 and "seek needs t" in refused.json()["message"]
    finally:
        served.terminate()
        served.wait(timeout=10)


def test_chaoslab_replay_names_what_is_missing(tmp_path):
    missing = subprocess.run(
        [sys.executable, "-m", "chaoslab", "--state-dir", str(tmp_path / "lab"), "replay", "--no-open"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert missing.returncode == 2 and "the lab has recorded no drill yet" in missing.stderr


def test_a_recording_a_killed_daemon_left_open_is_sealed_at_the_next_start(tmp_path):
    from chaoslab.console.recording import Recorder

    writer = Writer(tmp_path / "20300101-000000-red", {"where": "x", "team": "red", "started_at": T0})
    writer.frame(T0 + 2, {"processes": {"a": "ready"}})  # and the daemon was killed: never closed
    (tmp_path / "20300101-000500-red").mkdir()  # killed before it wrote anything
    Recorder(None, tmp_path, "red").seal_leftovers()
    sealed = load(tmp_path / "20300101-000000-red.zip")
    assert sealed.meta["ended_at"] is None and sealed.end == T0 + 2
    assert (tmp_path / "20300101-000500-red").is_dir(), "nothing to replay: left as it was, and said"


def test_a_damaged_recording_is_refused_with_a_reason_not_a_traceback(tmp_path, recorded):
    (recorded / FRAMES).write_text('{"t": 1, "traces": 7}\n')  # an event stream that is not a list
    with pytest.raises(BadBundle, match="is damaged"):
        load(recorded)
    (recorded / FRAMES).write_bytes(b"\xff\xfe not text")
    with pytest.raises(BadBundle, match="is damaged"):
        load(recorded)


def test_an_incident_a_gameday_left_open_ends_its_recording_with_the_gameday(tmp_path):
    """Over a real journal store: the incident declared during the GameDay keeps it recording until
    `gameday end` writes its end, and no longer; one opened after the end records as any other."""
    from chaoslab.chaos.journal import FileStore
    from chaoslab.console.recording import drill_running
    from chaoslab.incident.gameday import GAMEDAY
    from chaoslab.incident.record import IncidentLog
    from chaoslab.local.console import LocalSource
    from chaoslab.local.statedir import StateDir
    from chaoslab.local.tracestore import TraceStore
    from chaoslab.servicegraph import from_spans

    state = StateDir.at(tmp_path / "red")
    store = FileStore(state.root)
    source = LocalSource(state, TraceStore(), from_spans([], now=time.time()), list)
    began = time.time() - 600
    store.write(GAMEDAY, json.dumps({"name": "day", "started_at": began, "ends_at": began + 3600}))
    log = IncidentLog(store, "ana")
    log.declare("checkout is slow", "P2", "alerting", ts=began + 30)
    assert drill_running(source), "the team's incident is open and the GameDay runs"

    store.write(
        GAMEDAY, json.dumps({"name": "day", "started_at": began, "ends_at": began + 3600, "ended_at": began + 60})
    )
    assert not drill_running(source), "the GameDay ended with the incident open: its recording ends"

    log.declare("orders fail", "P1", "alerting", ts=time.time())
    assert drill_running(source), "an incident opened after the GameDay is recorded as any other"
