"""``chaoslab replay`` and ``chaoslab recordings``: the drills the lab recorded, for the debrief.

Every drill is recorded while it runs (chaoslab/console/recording.py) into the state directory's
``recordings/`` (one zip file each once it ended); ``replay`` serves the console over one of them with
a time slider, and ``recordings`` lists, exports and imports them (to show last week's best run).
"""

from __future__ import annotations

import json
import re
import secrets
import sys
import time
import webbrowser
from pathlib import Path

import click

from chaoslab.backend import Options
from chaoslab.cli import cli
from chaoslab.cli.common import pass_options
from chaoslab.console import PREFIX
from chaoslab.console.bundle import BadBundle, add, export, listed, load, size
from chaoslab.console.replay import Replay
from chaoslab.console.replays import create_app
from chaoslab.errors import BadInput
from chaoslab.incident.triage import parse_time
from chaoslab.local.statedir import StateDir
from chaoslab.timefmt import clock
from chaoslab.wsgi import HttpServer


def _recordings(options: Options) -> Path:
    return StateDir.at(options.state_dir).recordings


def _named(options: Options, name: str | None) -> Path:
    """A recording by its name in the lab's recordings, a recording's folder or file, or (None) the latest."""
    folder = _recordings(options)
    if name is None:
        found = listed(folder)
        if not found:
            raise BadInput("the lab has recorded no drill yet: start one (`chaoslab scenario start …`), or give a file")
        return found[-1]
    if "/" not in name:
        for candidate in (folder / name, folder / f"{name}.zip"):
            if candidate.exists():
                return candidate
    if Path(name).exists():
        return Path(name)
    raise BadInput(f"no recording {name!r}: `chaoslab recordings list` shows the lab's, or give an exported file")


_OFFSET = re.compile(r"\+(\d+):([0-5]\d)")


def moment(at: str, start: float, end: float) -> float:
    """``+MM:SS`` from the recording's start, or a time as triage's WHEN reads one (``HH:MM[:SS]`` on the
    day the recording ended, or the day before when that is later; an ISO time)."""
    offset = _OFFSET.fullmatch(at.strip())
    try:
        return start + int(offset[1]) * 60 + int(offset[2]) if offset else parse_time(at, now=end)
    except BadInput:
        raise BadInput(
            f"--at {at!r}: give +MM:SS from the start or HH:MM[:SS] (the time of day it was recorded)"
        ) from None


def position(at: str, start: float, end: float) -> float:
    """``moment``, refused when the recording does not cover it."""
    t = moment(at, start, end)
    if not start - 1 <= t <= end + 1:
        raise BadInput(f"--at {at}: the recording runs from {clock(start)} to {clock(end)}")
    return t


def _covering(options: Options, at: str):
    """The newest recording that covers ``at`` (a time of day as the review prints it)."""
    for path in reversed(listed(_recordings(options))):
        try:
            bundle = load(path)
            position(at, bundle.start, bundle.end)
        except (BadBundle, BadInput):
            continue
        return bundle
    raise BadInput(f"no recording covers {at}: `chaoslab recordings list` shows when each ran")


@cli.command()
@click.argument("recording", required=False)
@click.option("--port", type=click.IntRange(0, 65535), default=0, show_default=True, help="Port (0: any free one).")
@click.option("--at", "at", help="Start at +MM:SS from the recording's start, or at HH:MM[:SS].")
@click.option("--open/--no-open", "open_browser", default=True, show_default=True, help="Open it in a browser.")
@pass_options
def replay(options: Options, recording: str | None, port: int, at: str | None, open_browser: bool) -> None:
    """Serve the console over a recorded drill (default: the latest, or the one that covers --at),
    with a time slider and the timeline's marks, until Ctrl-C. RECORDING: a name from `chaoslab
    recordings list`, a recording's folder, or an exported .zip."""
    if at is not None:
        moment(at, 0, time.time())  # a malformed time is said as such, before any recording is read
    bundle = load(_named(options, recording)) if recording or at is None else _covering(options, at)
    played = Replay(bundle)
    if at is not None:
        played.clock.seek(position(at, bundle.start, bundle.end))
    token = secrets.token_urlsafe(24)
    server = HttpServer(create_app(played, lambda: token), "127.0.0.1", port, 16, "replay").start()
    address = f"{server.url}{PREFIX}/"
    length = (bundle.end - bundle.start) / 60
    click.echo(f"replaying {bundle.meta.get('where', '?')}: {length:.1f} min, {len(played.marks)} marks")
    click.echo(f"console: {address}")
    if bundle.has_answers:
        click.echo(f"instructor: {address}instructor?token={token}")
    else:
        click.echo("instructor: this export has no answer key")
    if open_browser and not webbrowser.open(address):
        click.echo("no browser found here; open the address yourself")
    sys.stdout.flush()
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        server.stop(grace_s=1)


@cli.group()
def recordings() -> None:
    """The drills the lab recorded: list, export (one file) and import them."""


@recordings.command(name="list")
@click.option("--json", "as_json", is_flag=True, help="One JSON document.")
@pass_options
def list_recordings(options: Options, as_json: bool) -> None:
    """Every recording: its name, when it started, how long it ran, its size."""
    found = []
    for path in listed(_recordings(options)):
        name = path.name.removesuffix(".zip")
        try:
            bundle = load(path)
        except BadBundle as exc:
            found.append({"name": name, "error": str(exc)})
            continue
        found.append(
            {
                "name": name,
                "where": bundle.meta.get("where"),
                "started_at": bundle.start,
                "minutes": round((bundle.end - bundle.start) / 60, 1),
                "bytes": size(path),
                "finished": bundle.meta.get("ended_at") is not None,
                "answer_key": bundle.has_answers,
            }
        )
    if as_json:
        click.echo(json.dumps({"recordings": found}, indent=1))
        return
    if not found:
        click.echo("no recordings yet: a drill is recorded while it runs (`chaoslab scenario start …`)")
        return
    for r in found:
        if "error" in r:
            click.echo(f"{r['name']:<32} unreadable: {r['error']}")
            continue
        started = time.strftime("%Y-%m-%d %H:%M", time.localtime(r["started_at"]))
        state = "" if r["finished"] else "  (recording, or cut short)"
        click.echo(f"{r['name']:<32} {started}  {r['minutes']:>5.1f} min  {r['bytes'] / 2**20:>6.2f} MiB{state}")


@recordings.command(name="export")
@click.argument("recording")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="The file (default: NAME.zip).")
@click.option("--no-answers", is_flag=True, help="Leave the answer key out (faults, scenario, score): for trainees.")
@pass_options
def export_recording(options: Options, recording: str, output: Path | None, no_answers: bool) -> None:
    """Write one recording as one file, to replay anywhere (`chaoslab replay FILE`)."""
    found = _named(options, recording)
    out = output or Path(f"{found.name.removesuffix('.zip')}.zip")
    if out.resolve() == found.resolve():
        raise BadInput(f"{out} is the recording itself: give another file with -o")
    size = export(found, out, answers=not no_answers)
    click.echo(f"{out}: {size / 2**20:.2f} MiB{' (no answer key)' if no_answers else ''}")


@recordings.command(name="import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@pass_options
def import_recording(options: Options, file: Path) -> None:
    """Add an exported recording to the lab's, under its file's name."""
    name = add(file, _recordings(options)).name.removesuffix(".zip")
    click.echo(f"imported as {name}: `chaoslab replay {name}`")
