"""The console in a room, in a real browser against a real lab (a lab of its own, so the suite's workers
share the console's tests): a recorded drill replayed as the live page showed it, twelve tabs
streaming at once, and a figure on every business tile while a service hangs."""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path

import pytest
import requests

from chaoslab.console import headless
from consolekit import README_SCREENSHOT, edge, updated
from support import module_lab, poll_until

pytestmark = pytest.mark.disruptive  # it breaks its own lab with drills

lab = module_lab("console-room-lab")


@pytest.fixture(autouse=True)
def no_drill_left(lab):
    """A test that fails half-way must not leave its drill (or its incident) to break the next one."""
    yield
    lab.cli("scenario", "stop", check=False)
    lab.cli("reset", check=False)


def test_a_recorded_drill_replays_as_the_live_console_showed_it(lab, console, page, shots):
    """The deadlock, recorded while it runs: the replay at the moment the live graph was read shows the
    same edges in the same colours, the slider reaches every mark of the timeline, and the recording
    is listed and exported as one file that replays on its own."""
    from chaoslab.console.bundle import listed, load

    lab.cli("load", "stop")
    lab.cli("scenario", "start", "deadlock", "--ttl", "300")
    lab.cli("incident", "open", "Checkout hangs at the flash sale", "--severity", "P1", "--new")

    def shown(graph: dict) -> dict:
        return {(e["source"], e["target"]): e["health"] for e in graph["edges"] if e["requests"] or e["in_flight"]}

    def cycle_failed() -> dict | None:
        graph = requests.get(console + "api/graph", params={"window": 60}, timeout=20).json()
        return graph if shown(graph).get(("service-c", "service-a")) == "failed" else None

    live = poll_until(cycle_failed, "the deadlock's cycle failing on the live graph", timeout=60, interval=0.5)
    note = "service-c calls back into service-a: a cycle"
    lab.cli("incident", "note", note)
    recordings = lab.state_dir / "recordings"

    def written_past_the_note() -> Path | None:
        being_written = [p for p in listed(recordings) if p.is_dir()]
        if not being_written:
            return None
        incident = load(being_written[-1]).state("incident", float("inf")) or {}
        return being_written[-1] if any(e["text"] == note for e in incident.get("timeline", [])) else None

    folder = poll_until(written_past_the_note, "the note in the recording", timeout=30, interval=0.5)
    replay = console.replace("/console/", f"/replay/{folder.name}/console/")
    seek = requests.post(replay + "replay", json={"action": "seek", "t": live["at"]}, timeout=10)
    assert seek.status_code == 200, seek.text
    replayed = requests.get(replay + "api/graph", params={"window": 60}, timeout=20).json()

    assert replayed["at"] == live["at"], "the graph the live page read (one per 2 s slot), or the recorder missed it"
    assert shown(replayed) == shown(live)

    page.set_viewport_size({"width": 1280, "height": 720})
    page.goto(replay)
    page.wait_for_selector("#replay .mark")
    marks = page.locator("#replay .mark")
    kinds = [marks.nth(i).get_attribute("class") for i in range(marks.count())]
    assert any("kind-declared" in k for k in kinds) and any("kind-note" in k for k in kinds), kinds
    for i in range(marks.count()):  # by keyboard: marks a second apart share their pixels
        t = float(marks.nth(i).get_attribute("data-t"))
        marks.nth(i).focus()
        page.keyboard.press("Enter")
        page.wait_for_function(
            f"Math.abs(Number(document.getElementById('replay-slider').value) - {t}) < 1", timeout=10000
        )
    # The last mark may be a page that came after the note, with more behind it than the panel's latest
    # entries: the note is looked for at its own mark.
    own = page.locator(f'#replay .mark.kind-note[aria-label$="{note}"]')
    own.focus()
    page.keyboard.press("Enter")
    poll_until(lambda: note in page.inner_text("#panel-incident"), "the note, at its own mark", timeout=15)
    times = sorted({float(marks.nth(i).get_attribute("data-t")) for i in range(marks.count())})

    def at_mark(t: float) -> bool:
        return abs(float(page.get_attribute("#replay", "data-now") or 0) - t) < 1

    before = max(t for t in times if t < times[-1] - 0.5)  # marks closer than that are one moment
    page.keyboard.press("j")  # the projector's remote: the mark before
    poll_until(lambda: at_mark(before), "j: the mark before", timeout=10)
    page.keyboard.press("l")
    poll_until(lambda: at_mark(times[-1]), "l: the mark after", timeout=10)
    page.evaluate(
        "t => fetch('replay', {method: 'POST', headers: {'Content-Type': 'application/json'},"
        " body: JSON.stringify({action: 'seek', t: t})})",
        live["at"],
    )
    page.wait_for_selector(edge("service-c", "service-a") + ".h-failed", timeout=15000)
    page.screenshot(path=shots / "replay-deadlock.png")
    if os.environ.get("CHAOSLAB_README_SCREENSHOT"):
        page.screenshot(path=README_SCREENSHOT.with_name("console-replay.png"))
    assert page.problems == []
    lab.cli("incident", "resolve", "--unverified")
    lab.cli("scenario", "stop")

    listing = json.loads(lab.cli("recordings", "list", "--json").stdout)["recordings"]
    assert folder.name in [r["name"] for r in listing]
    exported = lab.state_dir / "for-trainees.zip"
    lab.cli("recordings", "export", folder.name, "-o", str(exported), "--no-answers")
    from_file = load(exported)
    assert not from_file.has_answers and from_file.state("graph", live["at"]) is not None


TILE_VALUE = re.compile(r'data-figure="(\w+)".*?class="tile-value">([^<]*)<', re.S)


@pytest.mark.parametrize("drill", ["deadlock", "upstream-failure"])
def test_the_business_tiles_show_a_figure_in_every_second_of_a_hung_service(lab, console, drill):
    """The drills where service-a or payment stops answering its /metrics, on a console open before the
    drill (as a room's is): sampled once a second for twenty seconds from the first silence, no tile
    shows "–" (each shows its stand-in, its last answer, or a standstill)."""

    def business() -> str:
        return requests.get(console + "panels", params={"view": "trainee", "window": 60}, timeout=20).json()["business"]

    def warm() -> bool:
        tiles = dict(TILE_VALUE.findall(business()))
        return bool(tiles) and "–" not in tiles.values()

    poll_until(warm, "every tile with a figure before the drill", timeout=60, interval=1)
    lab.cli("load", "stop")
    lab.cli("scenario", "start", drill, "--ttl", "300")

    poll_until(lambda: "No /metrics answer" in business(), f"a service silent in {drill}", timeout=90, interval=1)
    blanks, silent_seconds = [], 0
    for second in range(20):
        started = time.monotonic()
        shown = business()
        tiles = dict(TILE_VALUE.findall(shown))
        assert len(tiles) == 7, tiles
        silent_seconds += "No /metrics answer" in shown
        blanks += [(second, figure) for figure, value in tiles.items() if value.strip() in ("–", "")]
        time.sleep(max(0.0, 1.0 - (time.monotonic() - started)))  # a sample a second: the cadence, not a wait
    print(f"{drill}: {silent_seconds} of 20 samples with a service silent")
    assert not blanks, blanks
    lab.cli("scenario", "stop")


def test_a_dozen_consoles_stream_at_once_and_none_falls_back_to_polling(playwright, console):
    """A room: twelve tabs (three times the four streams a lab once allowed; bench/console_cost measures
    the daemon's cost of thirty), each in a browser context of its own (a browser opens at most six
    connections to one host per context, and a stream holds one), all live on their stream, none polling."""
    chromium = playwright.chromium.launch(executable_path=headless.chromium(), args=headless.FLAGS)
    try:
        tabs = []
        for _ in range(12):
            tab = chromium.new_context(viewport={"width": 900, "height": 600}).new_page()
            tab.goto(console)
            tabs.append(tab)
        for tab in tabs:
            updated(tab)
        first = [tab.inner_text("#live") for tab in tabs]
        for tab, before in zip(tabs, first, strict=True):  # and each takes the next update on its stream
            poll_until(lambda tab=tab, before=before: tab.inner_text("#live") != before, "a refresh", timeout=20)
        shown = [tab.inner_text("#live") for tab in tabs]
        assert all(text.startswith("live") for text in shown), shown
    finally:
        chromium.close()
