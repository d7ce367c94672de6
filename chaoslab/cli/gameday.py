"""``chaoslab gameday``: one drill for a whole room at once (chaoslab/incident/gameday.py).

The teams are ``--teams red,blue`` or ``--all-teams`` (namespaces on the cluster); with neither, the lab
the command points at is a room of one (a rehearsal on a laptop). Every subcommand is the instructor's.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import click

from chaoslab import command
from chaoslab.backend import Options
from chaoslab.cli import cli
from chaoslab.cli.cohort import team_namespaces
from chaoslab.cli.common import backend, more_time, pass_options
from chaoslab.cli.common import scenario as load_scenario
from chaoslab.cli.instructor import authorise
from chaoslab.console.bundle import BadBundle, export, listed, load
from chaoslab.errors import BadInput, Refused
from chaoslab.escape import printable
from chaoslab.incident import gameday as room
from chaoslab.incident.score import table
from chaoslab.local.statedir import StateDir
from chaoslab.settings import Common, Drills
from chaoslab.settings import load as load_settings
from chaoslab.timefmt import clock, duration

_TEAM = re.compile(r"^[a-z0-9]([a-z0-9-]{0,38}[a-z0-9])?$")


def teams_options(fn):
    """``--teams red,blue`` or ``--all-teams``: the room (neither: the lab at hand)."""
    fn = click.option("--all-teams", is_flag=True, help="Every team namespace on the cluster.")(fn)
    return click.option("--teams", "names", default=None, help="Comma-separated team names, e.g. red,blue.")(fn)


def _local_recordings(options: Options):
    """The local lab's recordings that reach past ``since``, exported into ``into`` (one still being
    written, as far as it went)."""
    folder = StateDir.at(options.state_dir).recordings

    def gather(since: float, into: Path) -> list[Path]:
        found = []
        for path in listed(folder):
            try:
                if load(path).end < since:  # a recording that ended before the GameDay began
                    continue
                exported = into / (path.name.removesuffix(".zip") + ".zip")
                export(path, exported)
            except BadBundle:  # a damaged recording stays out of the archive; the day's results do not
                continue
            found.append(exported)
        return found

    return gather


def _room(options: Options, names: str | None, all_teams: bool) -> list[room.Team]:
    if names and all_teams:
        raise BadInput("give --teams or --all-teams, not both")
    if all_teams:
        found = [
            room.Team(ns.removeprefix("chaoslab-"), backend(options.for_namespace(ns)))
            for ns in team_namespaces(options)
        ]
        if not found:
            raise Refused('no team namespace on the cluster: `make teams TEAMS="red blue"` makes them')
        return found
    if names:
        listed_names = [n.strip() for n in names.split(",") if n.strip()]
        bad = [n for n in listed_names if not _TEAM.match(n)]
        if bad or not listed_names:
            raise BadInput(
                f"--teams takes team names (lowercase letters, digits and dashes) separated by commas, not {names!r}"
            )
        if len(set(listed_names)) != len(listed_names):
            raise BadInput(f"--teams names a team twice: {names!r}")
        return [room.Team(n, backend(options, n)) for n in listed_names]
    lab = backend(options)
    if options.target == "local":
        return [room.Team(load_settings(Common).team, lab, _local_recordings(options))]
    return [room.Team(options.namespace.removeprefix("chaoslab-"), lab)]


def _instructor(teams: list[room.Team], what: str) -> None:
    for team in teams:
        authorise(team.lab, what)


def _tell(outcomes: list[room.Outcome]) -> None:
    for outcome in outcomes:
        for line in outcome.said:
            click.echo(f"[{outcome.team}] {printable(line)}", err=not outcome.ok)


def _each_team(options: Options, names: str | None, all_teams: bool, what: str, step) -> None:
    """``step(teams)`` (the instructor's ``what``) for the room: every team's lines told, then exit 1
    when any team failed."""
    teams = _room(options, names, all_teams)
    _instructor(teams, what)
    outcomes = step(teams)
    _tell(outcomes)
    _refuse_failed(outcomes)


def _refuse_failed(outcomes: list[room.Outcome]) -> None:
    """Exit 1 (after every team was told) when any team failed."""
    failed = [o.team for o in outcomes if not o.ok]
    if failed:
        raise Refused(f"{len(failed)} of {len(outcomes)} team(s) failed: {', '.join(failed)} (their lines above)")


@cli.group()
def gameday() -> None:
    """A GameDay: the same drill for every team at once, and the day's results in one archive."""


@gameday.command("start")
@teams_options
@click.argument("scenario_id", required=False)
@click.option("--mystery", is_flag=True, help="Hide the drill from the teams; without SCENARIO_ID, draw one.")
@click.option("--seed", type=int, default=None, help="With --mystery: a repeatable draw.")
@click.option("--each", is_flag=True, help="With --mystery: a different draw per team (team i from SEED + i).")
@click.option("--difficulty", default=None, help="With --mystery: draw from intern, junior, senior or staff only.")
@click.option("--ttl", type=click.FloatRange(min=1), default=None, help="Seconds (default: the drill's own).")
@click.option("--name", default=None, help="The GameDay's name (default: gameday-YYYYMMDD-HHMM).")
@pass_options
def gameday_start(
    options: Options,
    names: str | None,
    all_teams: bool,
    scenario_id: str | None,
    mystery: bool,
    seed: int | None,
    each: bool,
    difficulty: str | None,
    ttl: float | None,
    name: str | None,
) -> None:
    """Start the drill for every team within seconds, each team's traffic a little after the last's."""
    if not mystery and (seed is not None or each or difficulty):
        raise BadInput("--seed, --each and --difficulty choose a mystery drill: add --mystery")
    if not mystery and not scenario_id:
        raise BadInput(f"name a drill (`{command('scenario list')}`), or draw a hidden one with --mystery")
    if scenario_id and each:
        raise BadInput("--each draws a drill per team: give no SCENARIO_ID with it")
    if scenario_id:
        load_scenario(scenario_id)  # an unknown one is refused before any team is touched
    teams = _room(options, names, all_teams)
    _instructor(teams, "gameday start")
    plan = room.choose([t.name for t in teams], scenario_id, mystery, seed, each, difficulty)
    title = name or time.strftime("gameday-%Y%m%d-%H%M")
    stagger = load_settings(Drills).stagger_s
    click.echo(
        f"{title}: starting {'a mystery drill' if mystery else scenario_id} for {len(teams)} team(s), "
        f"{stagger:g} s apart …"
    )
    outcomes = room.start(title, teams, plan, ttl, mystery, stagger, click.echo)
    _tell(outcomes)
    _refuse_failed(outcomes)
    click.echo(
        f"{title} running: `{command('gameday status')}` follows it, `{command('gameday end')}` closes it "
        "and writes the archive"
    )


@gameday.command("status")
@teams_options
@pass_options
def gameday_status(options: Options, names: str | None, all_teams: bool) -> None:
    """Every team's drill, incident and stage."""
    teams = _room(options, names, all_teams)
    _instructor(teams, "gameday status")
    records = [r for r in (room.record_of(t) for t in teams) if r]
    if records:
        first = min(records, key=lambda r: r["started_at"])
        if "ended_at" in first:
            click.echo(f"{first['name']}: ended after {duration(first['ended_at'] - first['started_at'])}")
        else:
            now = time.time()
            extended = f" (extended by {duration(first['extended_s'])})" if first.get("extended_s") else ""
            click.echo(
                f"{first['name']}: running for {duration(now - first['started_at'])}, "
                f"{duration(max(0, first['ends_at'] - now))} to its time limit{extended}"
            )
            if first.get("break_until", 0) > now:
                click.echo(
                    f"on a break until {clock(first['break_until'])} ({duration(first['break_until'] - now)} left)"
                )
    click.echo(f"{'TEAM':<10} {'DRILL':<24} {'INCIDENT':<9} {'STATE':<12} STAGE")
    for row in room.status(teams):
        if "trouble" in row:
            click.echo(f"{row['team']:<10} {printable(row['trouble'])}")
            continue
        click.echo(f"{row['team']:<10} {row['drill']:<24} {row['incident']:<9} {row['state']:<12} {row['stage']}")


@gameday.command("extend")
@teams_options
@click.option("--by", "by_text", required=True, help="How much more time: 90s, 10m, 1h.")
@pass_options
def gameday_extend(options: Options, names: str | None, all_teams: bool, by_text: str) -> None:
    """Give every team's drill more time: its faults expire later and its traffic runs on."""
    by_s = more_time(by_text)
    _each_team(options, names, all_teams, "gameday extend", lambda teams: room.extend(teams, by_s))


@gameday.command("pause")
@teams_options
@click.option("--for", "for_text", required=True, help="The break's length: 10m, 1h.")
@pass_options
def gameday_pause(options: Options, names: str | None, all_teams: bool, for_text: str) -> None:
    """A break for the room: every drill's clock stands still for its length (scores and deadlines leave
    it out, the teams' moves wait for its end), and its faults and traffic live as much longer."""
    for_s = more_time(for_text, "--for")
    _each_team(options, names, all_teams, "gameday pause", lambda teams: room.pause(teams, for_s))
    click.echo(f"the break ends by itself; `{command('gameday resume')}` ends it sooner")


@gameday.command("resume")
@teams_options
@pass_options
def gameday_resume(options: Options, names: str | None, all_teams: bool) -> None:
    """End the break now: the clock runs again, and the drills keep the break's unused time."""
    _each_team(options, names, all_teams, "gameday resume", room.resume)


@gameday.command("reveal")
@teams_options
@pass_options
def gameday_reveal(options: Options, names: str | None, all_teams: bool) -> None:
    """Name every team's mystery drill for everyone: their reviews show the truth."""
    _each_team(options, names, all_teams, "gameday reveal", lambda teams: room.reveal_all(teams, teams[0].lab.actor))


@gameday.command("end")
@teams_options
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None, help="The archive (NAME.zip)."
)
@pass_options
def gameday_end(options: Options, names: str | None, all_teams: bool, output: Path | None) -> None:
    """Stop every drill (naming it), grade the day's incidents, print the ranked scoreboard and write the
    archive: the scoreboard, each team's review drafts and its drill recordings."""
    teams = _room(options, names, all_teams)
    _instructor(teams, "gameday end")
    records = [r for r in (room.record_of(t) for t in teams) if r]
    if not records:
        raise Refused(f"no GameDay to end: `{command('gameday start')}` begins one")
    record = records[0]
    if all("ended_at" in r for r in records):
        raise Refused(f"{record['name']} has ended already (its archive was written then); `gameday start` begins one")
    archive = output or Path(f"{record['name']}.zip")
    board, outcomes = room.end(teams, archive)
    _tell(outcomes)
    for line in table(board) if board else [f"no incident was declared during {record['name']}"]:
        click.echo(line)
    click.echo(f"archive: {archive} (the scoreboard, {len(board)} incident review(s), the drill recordings)")
    _refuse_failed(outcomes)
