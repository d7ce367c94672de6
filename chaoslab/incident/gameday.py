"""A GameDay: one drill for a whole room at once, and the day's results gathered in one archive.

``start`` starts the drill on every team's lab at once, each team's a few seconds after the one before
(``CHAOSLAB_DRILL_STAGGER_S``: the teams' traffic does not load a shared node in lockstep), and writes the
GameDay into each team's record (``gameday.json``: its name, start, time limit and teams; never the drill,
which a mystery keeps from the team). ``status`` reads every team's drill and incident; ``extend`` gives
every drill more time (its faults expire later, its traffic runs on); ``pause`` is a break for the room
(every drill's clock stands still: scores and deadlines leave the break out, the teams' moves wait for
its end, and the faults and traffic live as much longer), ``resume`` ends it early; ``reveal`` names a
mystery for everyone; ``end`` stops every drill (which reveals it), grades every incident declared during the
GameDay, and writes the archive: the ranked scoreboard, each team's scores and review drafts, and the
drill recordings the instructor's machine can read (the local lab's; on Kubernetes the platform console
keeps each team's and the archive says where to replay them).

Each team is played on its own: one team's failure (a drill already running, a namespace out of reach)
is reported in its row and never stops the others.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from chaoslab.chaos.journal import SCENARIO, change_note
from chaoslab.chaos.scenarios import get
from chaoslab.errors import ChaoslabError, Refused
from chaoslab.incident import drills
from chaoslab.incident.desk import Desk
from chaoslab.incident.mystery import draw, reveal
from chaoslab.incident.review import markdown
from chaoslab.incident.score import ranked, table
from chaoslab.timefmt import clock, duration

GAMEDAY = "gameday.json"
"""The GameDay a team plays, in its record (the store every target keeps)."""


@dataclass
class Team:
    """One team of the room: its name and its lab (a chaoslab.backend.Backend)."""

    name: str
    lab: object
    recordings: Callable[[float, Path], list[Path]] | None = None
    """Writes the team's recordings that reach past a time into a folder, one zip each (the local lab's,
    read from here); None where they stay on the platform console (Kubernetes)."""


@dataclass
class Outcome:
    """What happened to one team in one step: ``ok``, and what to say."""

    team: str
    ok: bool
    said: list[str] = field(default_factory=list)


def choose(teams: list[str], scenario_id: str | None, mystery: bool, seed: int | None, each: bool, difficulty):
    """The drill each team plays: the one named, the same seeded mystery for all, or (``each``) one
    mystery per team drawn from ``seed`` on (team i from seed + i). Returns {team: (scenario, seed)}."""
    if scenario_id:
        return {team: (get(scenario_id), seed) for team in teams}
    if each:
        base = seed if seed is not None else int(time.time())
        return {team: (draw(difficulty, base + i), base + i) for i, team in enumerate(teams)}
    base = seed if seed is not None else int(time.time())
    chosen = draw(difficulty, base)
    return {team: (chosen, base) for team in teams}


def _each(teams: list[Team], step: Callable[[int, Team], Outcome]) -> list[Outcome]:
    """``step`` on every team at once (threads: a drill's start waits on its lab for seconds), in order."""
    found: list[Outcome | None] = [None] * len(teams)

    def run(index: int, team: Team) -> None:
        try:
            found[index] = step(index, team)
        except ChaoslabError as exc:
            found[index] = Outcome(team.name, False, [str(exc)])
        except Exception as exc:  # one team's trouble is its row, never the room's
            found[index] = Outcome(team.name, False, [f"{type(exc).__name__}: {exc}"])

    threads = [threading.Thread(target=run, args=(i, t), name=f"gameday-{t.name}") for i, t in enumerate(teams)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return [outcome for outcome in found if outcome is not None]


def start(
    name: str,
    teams: list[Team],
    plan: dict,
    ttl_s: float | None,
    mystery: bool,
    stagger_s: float,
    say: Callable[[str], None],
) -> list[Outcome]:
    """Start each team's drill of ``plan`` (``choose``), team i after ``i * stagger_s`` seconds."""
    started_at = time.time()
    longest = max(ttl_s or scenario.duration_s for scenario, _ in plan.values())
    record = {
        "name": name,
        "started_at": started_at,
        "ends_at": started_at + longest + stagger_s * len(teams),
        "teams": [t.name for t in teams],
    }
    lock = threading.Lock()

    def tell(team: str, line: str) -> None:
        with lock:
            say(f"[{team}] {line}")

    def one(index: int, team: Team) -> Outcome:
        time.sleep(index * stagger_s)  # the stagger itself: each team's traffic a little after the last's
        scenario, seed = plan[team.name]
        started = drills.start(
            team.lab, scenario, ttl_s, mystery, True, f"gameday:{name}", lambda line: tell(team.name, line), seed
        )
        team.lab.store().write(GAMEDAY, json.dumps(record))
        said = [f"drill started ({'a mystery' if mystery else scenario.id}), {started.faults} fault(s)"]
        return Outcome(team.name, True, said + [f"warning: {w}" for w in started.warnings or []])

    return _each(teams, one)


def record_of(team: Team) -> dict | None:
    """The GameDay the team plays or played (``start``'s record), or None."""
    return record_in(team.lab.store())


def record_in(store) -> dict | None:
    """The GameDay record in a team's store (a chaos.journal.Store), or None."""
    try:
        found = json.loads(store.read(GAMEDAY) or "null")
    except ValueError:
        return None
    return found if isinstance(found, dict) else None


def _incidents(team: Team, since: float):
    desk = Desk(team.lab)
    return desk, [i for i in desk.incidents() if i.declared_at >= since and i.disposition is None]


def status(teams: list[Team]) -> list[dict]:
    """Each team's row: its drill (and how long it has left), its incident and the stage it reached."""
    rows = []
    now = time.time()
    for team in teams:
        row: dict = {"team": team.name}
        try:
            record = record_of(team)
            note = json.loads(team.lab.store().read(SCENARIO) or "null")
            if note and (record is None or note["started_at"] >= record["started_at"] - 1):
                left = note["expires_at"] - now
                row["drill"] = f"{duration(left)} left" if left > 0 else "ended by its time limit"
            else:
                row["drill"] = "none"
            desk, played = _incidents(team, record["started_at"] if record else now)
            if played:
                scored = desk.score_of(played[-1], reveal=True)
                row.update(incident=played[-1].id, state=played[-1].state, stage=scored.stage)
            else:
                row.update(incident="-", state="-", stage="not paged yet" if row["drill"] != "none" else "-")
        except ChaoslabError as exc:
            row["trouble"] = str(exc)
        rows.append(row)
    return rows


def extend(teams: list[Team], by_s: float) -> list[Outcome]:
    """Give every team's drill ``by_s`` more seconds (its faults, its traffic and the GameDay's clock)."""
    return _longer(
        teams,
        lambda lab, by: drills.extend(lab, by_s, by),
        lambda record, note: record.update(extended_s=record.get("extended_s", 0) + by_s),
        lambda note: f"drill extended by {duration(by_s)}: {duration(note['expires_at'] - time.time())} left",
    )


def pause(teams: list[Team], for_s: float) -> list[Outcome]:
    """A break of ``for_s`` seconds for every team (chaoslab.incident.drills.pause), on the GameDay's clock too."""
    return _longer(
        teams,
        lambda lab, by: drills.pause(lab, for_s, by),
        lambda record, note: record.update(break_until=note["break_until"]),
        lambda note: f"on a break until {clock(note['break_until'])}: the drill's clock stands still",
    )


def _longer(teams: list[Team], act, mark, said) -> list[Outcome]:
    """``act(lab, started_by)`` gives every team's drill more time (chaoslab.incident.drills: extend or
    pause; it returns the drill's note and warnings); the GameDay's record moves its time limit with it
    and takes ``mark(record, note)``; ``said(note)`` is the team's line."""

    def one(_index: int, team: Team) -> Outcome:
        record = _playing(team)
        note, warnings = act(team.lab, f"gameday:{record['name']}")

        def later(current: dict) -> None:
            current["ends_at"] = max(current["ends_at"], note["expires_at"])
            mark(current, note)

        change_note(team.lab.store(), GAMEDAY, later)  # an `end` at the same moment keeps its mark
        return Outcome(team.name, True, [said(note)] + [f"warning: {w}" for w in warnings])

    return _each(teams, one)


def resume(teams: list[Team]) -> list[Outcome]:
    """End every team's break now: the drills keep the break's unused time."""

    def one(_index: int, team: Team) -> Outcome:
        _playing(team)
        unused = team.lab.controller().resume()
        now = time.time()
        change_note(team.lab.store(), GAMEDAY, lambda current: current.update(break_until=now))
        return Outcome(team.name, True, [f"the break is over; the drill keeps its {duration(unused)} unused"])

    return _each(teams, one)


def _playing(team: Team) -> dict:
    """The GameDay record of a team playing one; Refused otherwise."""
    record = record_of(team)
    if record is None or "ended_at" in record:
        raise Refused("this team plays no GameDay (`chaoslab gameday start` begins one)")
    return record


def reveal_all(teams: list[Team], actor: str) -> list[Outcome]:
    """Name each team's mystery for everyone (its reviews show the truth)."""

    def one(_index: int, team: Team) -> Outcome:
        note = reveal(team.lab.store(), actor)
        return Outcome(team.name, True, [f"the drill was {note['id']}"])

    return _each(teams, one)


def end(teams: list[Team], archive: Path) -> tuple[list, list[Outcome]]:
    """Stop every team's drill, grade its incidents and write ``archive``; returns (the ranked scores,
    each team's outcome)."""
    scores: list = []
    results: dict[str, dict] = {}
    lock = threading.Lock()

    def one(_index: int, team: Team) -> Outcome:
        record = record_of(team)
        if record is None:
            raise Refused("this team plays no GameDay (`chaoslab gameday start` begins one)")
        said = []
        try:
            running, warning = drills.stop(team.lab)
            said.append(f"drill {running['id']} stopped")
            if warning:
                said.append(f"warning: {warning}")
        except Refused as exc:
            said.append(f"no drill to stop ({exc})")
        desk, played = _incidents(team, record["started_at"])
        graded = []
        for incident in played:
            scored = desk.score_of(incident, reveal=True)
            scored.team = team.name
            graded.append((incident, scored, markdown(desk.review(incident, reveal=True))))
        change_note(team.lab.store(), GAMEDAY, lambda current: current.update(ended_at=time.time()))
        with lock:
            scores.extend(s for _, s, _ in graded)
            results[team.name] = {"graded": graded, "since": record["started_at"]}
        if not played:
            said.append("no incident was declared")
        return Outcome(team.name, True, said)

    outcomes = _each(teams, one)
    board = ranked(scores)
    _write(archive, board, results, teams)
    return board, outcomes


def _write(archive: Path, board: list, results: dict[str, dict], teams: list[Team]) -> None:
    """One zip: ``scoreboard.txt`` and ``.json``, each team's ``TEAM/INCIDENT-review.md`` and ``TEAM/recordings/*``,
    and a ``README.md`` saying what is in it and where the rest is."""
    lines = ["# GameDay archive", ""]
    partial = archive.with_name(archive.name + ".partial")
    with tempfile.TemporaryDirectory() as scratch, zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as out:
        out.writestr("scoreboard.json", json.dumps([s.to_json() for s in board], indent=2))
        out.writestr("scoreboard.txt", "\n".join(table(board)) + "\n")
        for team in teams:
            result = results.get(team.name)
            if result is None:
                lines.append(f"- {team.name}: nothing gathered (see the command's output)")
                continue
            lines.append(f"- {team.name}: {len(result['graded'])} incident(s) graded")
            for incident, _, review in result["graded"]:
                out.writestr(f"{team.name}/{incident.id}-review.md", review)
            if team.recordings is not None:
                folder = Path(scratch, team.name)
                folder.mkdir()
                for path in team.recordings(result["since"], folder):
                    out.write(path, f"{team.name}/recordings/{path.name}")
                    lines.append(f"  - {team.name}/recordings/{path.name}: `chaoslab replay FILE` opens it, unzipped")
            else:
                lines.append(
                    f"  - its drill recordings stay on the platform console: /teams/{team.name}/replay/ "
                    "(`chaoslab replay` opens an exported one)"
                )
        out.writestr("README.md", "\n".join(lines) + "\n")
    os.replace(partial, archive)
