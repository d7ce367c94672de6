"""A drill's recording on disk: a folder while it records, then one zip file (to keep and to pass around).

The folder (format 1) holds, all appended as the drill runs, so a recording cut short by a killed
daemon still replays up to its last line:

- ``meta.json``: where and when it was recorded (``where``, ``team``, ``started_at``, ``ended_at``:
  None while recording), and the frame interval.
- ``frames.jsonl``: one line per frame, ``{"t": wall seconds, stream: value, ...}``. A *state* stream
  (the graph, processes, alerts, the incident, the status page, open calls) is written only when its
  value changed and holds until the next; an *event* stream (metrics scrapes, the change feed, edge
  history points, finished calls) holds the items new in that frame.
- ``traces.jsonl``: ``{"trace_id", "spans"}`` of the traces kept (chaoslab/console/recording.py says
  which).
- ``answer.jsonl``: the instructor's half, apart: ``{"t", "faults", "scenario", "score"}`` when it
  changed. An export without it (``--no-answers``) can be shown to anyone.

``seal`` zips a finished recording's folder into ``NAME.zip`` beside it (about a tenth of its size) and
removes the folder; ``export`` copies a recording to a file of its own, with or without the answer
key; ``add`` files an exported one with the lab's; ``load`` reads a folder or a zip into a ``Bundle``
that answers "what was true at time t".
"""

from __future__ import annotations

import bisect
import json
import os
import re
import shutil
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from chaoslab.errors import BadInput

FORMAT = 1
META, FRAMES, TRACES, ANSWER = "meta.json", "frames.jsonl", "traces.jsonl", "answer.jsonl"
STATE_STREAMS = ("graph", "graph300", "processes", "alerts", "incident", "status", "open")
EVENT_STREAMS = ("metrics", "changes", "history", "traces")
MEMBERS = (META, FRAMES, TRACES, ANSWER)
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


class BadBundle(BadInput):
    """Not a recording this version can replay: the message says what is wrong with it."""


class Writer:
    """Appends a recording to its folder; thread-unsafe (the recorder's one loop writes)."""

    def __init__(self, folder: Path, meta: dict):
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=False)
        self.meta = {"format": FORMAT, **meta, "ended_at": None}
        self._write_meta()
        self._frames = open(folder / FRAMES, "a", encoding="utf-8")
        self._traces = open(folder / TRACES, "a", encoding="utf-8")
        self._answer = open(folder / ANSWER, "a", encoding="utf-8")
        self._last: dict[str, str] = {}
        self.bytes = 0

    def frame(self, t: float, values: dict) -> None:
        """Write the state streams that changed since their last frame and the events given."""
        line: dict = {}
        for stream, value in values.items():
            if stream in EVENT_STREAMS:
                if value:
                    line[stream] = value
                continue
            if stream not in STATE_STREAMS:
                raise ValueError(f"unknown stream {stream!r}")
            encoded = json.dumps(value, sort_keys=True)
            if self._last.get(stream) != encoded:
                self._last[stream] = encoded
                line[stream] = value
        if line:
            self._append(self._frames, {"t": round(t, 3), **line})

    def trace(self, trace_id: str, spans: list[dict]) -> None:
        self._append(self._traces, {"trace_id": trace_id, "spans": spans})

    def answer(self, t: float, values: dict) -> None:
        encoded = json.dumps(values, sort_keys=True)
        if self._last.get("answer") != encoded:
            self._last["answer"] = encoded
            self._append(self._answer, {"t": round(t, 3), **values})

    def close(self, ended_at: float) -> None:
        for f in (self._frames, self._traces, self._answer):
            f.close()
        self.meta["ended_at"] = ended_at
        self._write_meta()

    def _append(self, f, item: dict) -> None:
        text = json.dumps(item, separators=(",", ":")) + "\n"
        f.write(text)
        f.flush()
        self.bytes += len(text)

    def _write_meta(self) -> None:
        partial = self.folder / (META + ".partial")
        partial.write_text(json.dumps(self.meta, indent=1))
        os.replace(partial, self.folder / META)


@dataclass
class Bundle:
    """A recording read back: what each stream said, and when."""

    meta: dict
    states: dict[str, tuple[list[float], list]] = field(default_factory=dict)
    events: dict[str, list[tuple[float, object]]] = field(default_factory=dict)
    traces: dict[str, list[dict]] = field(default_factory=dict)
    answers: tuple[list[float], list[dict]] = ([], [])

    @property
    def start(self) -> float:
        return self.meta["started_at"]

    @property
    def end(self) -> float:
        """When it ended, or its last frame for one cut short (or still recording)."""
        if self.meta.get("ended_at"):
            return self.meta["ended_at"]
        last = [times[-1] for times, _ in self.states.values() if times]
        last += [found[-1][0] for found in self.events.values() if found]
        return max(last, default=self.start)

    @property
    def has_answers(self) -> bool:
        return bool(self.answers[0])

    def state(self, stream: str, t: float):
        """A state stream's value at ``t``: the last one written at or before it (None before the first)."""
        times, values = self.states.get(stream, ([], []))
        at = bisect.bisect_right(times, t)
        return values[at - 1] if at else None

    def state_since(self, stream: str, t: float, max_age_s: float):
        """The value at ``t`` if it was written within ``max_age_s`` before it (a stream written every
        frame while it has something to say, such as the calls still open)."""
        times, values = self.states.get(stream, ([], []))
        at = bisect.bisect_right(times, t)
        return values[at - 1] if at and t - times[at - 1] <= max_age_s else None

    def between(self, stream: str, start: float, end: float) -> list[tuple[float, object]]:
        """An event stream's items written in (start, end]."""
        found = self.events.get(stream, [])
        times = [t for t, _ in found]
        return found[bisect.bisect_right(times, start) : bisect.bisect_right(times, end)]

    def answer(self, t: float) -> dict | None:
        times, values = self.answers
        at = bisect.bisect_right(times, t)
        return values[at - 1] if at else None


def load(path: Path) -> Bundle:
    """A recording from its folder or its exported zip; BadBundle says why it cannot be read."""
    try:
        return _load(path)
    except BadBundle:
        raise
    except (KeyError, TypeError, AttributeError, ValueError, zipfile.BadZipFile) as exc:
        raise BadBundle(f"{path} is damaged ({type(exc).__name__}: {exc}): not a recording this lab wrote") from None


def _load(path: Path) -> Bundle:
    if path.is_dir():
        read = _folder_reader(path)
    elif zipfile.is_zipfile(path):
        read = _zip_reader(path)
    elif path.exists():
        raise BadBundle(f"{path} is neither a recording's folder nor an exported recording (.zip)")
    else:
        raise BadBundle(f"no recording at {path}: `chaoslab recordings list` shows the lab's recordings")
    meta_text = read(META)
    if meta_text is None:
        raise BadBundle(f"{path} has no {META}: not a chaoslab recording")
    try:
        meta = json.loads(meta_text)
    except ValueError as exc:
        raise BadBundle(f"{path}: {META} is not JSON ({exc})") from None
    if meta.get("format") != FORMAT or "started_at" not in meta:
        raise BadBundle(f"{path}: recording format {meta.get('format')!r}; this chaoslab replays format {FORMAT}")
    bundle = Bundle(meta)
    states: dict[str, tuple[list[float], list]] = {s: ([], []) for s in STATE_STREAMS}
    events: dict[str, list[tuple[float, object]]] = {s: [] for s in EVENT_STREAMS}
    for line in _lines(read(FRAMES)):
        t = line.pop("t")
        for stream, value in line.items():
            if stream in states:
                states[stream][0].append(t)
                states[stream][1].append(value)
            elif stream in events:
                events[stream].extend((t, item) for item in value)
    bundle.states, bundle.events = states, events
    bundle.traces = {item["trace_id"]: item["spans"] for item in _lines(read(TRACES))}
    answers = _lines(read(ANSWER))
    bundle.answers = ([a.pop("t") for a in answers], answers)
    return bundle


def _lines(text: str | None) -> list[dict]:
    """JSON lines; a last line cut short (a daemon killed mid-write) is left out."""
    found = []
    for raw in (text or "").splitlines():
        try:
            found.append(json.loads(raw))
        except ValueError:
            continue
    return found


def _folder_reader(folder: Path):
    def read(name: str) -> str | None:
        try:
            return (folder / name).read_text(encoding="utf-8")
        except FileNotFoundError:
            return None

    return read


def _zip_reader(path: Path):
    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name).decode("utf-8") for name in archive.namelist() if name in MEMBERS}
    return members.get


def export(recording: Path, out: Path, answers: bool = True) -> int:
    """Write a recording (its folder or its zip) to ``out`` as one zip, without the answer key when
    ``answers`` is False; the file's size."""
    load(recording)  # refuses what would not replay before anything is written
    read = _folder_reader(recording) if recording.is_dir() else _zip_reader(recording)
    partial = out.with_name(out.name + ".partial")
    with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as archive:
        for name in MEMBERS:
            text = read(name)
            if text is not None and (answers or name != ANSWER):
                archive.writestr(name, text)
    os.replace(partial, out)
    return out.stat().st_size


def seal(folder: Path) -> Path:
    """A finished recording's folder as ``NAME.zip`` beside it; the folder is removed."""
    sealed = folder.with_name(folder.name + ".zip")
    export(folder, sealed)
    shutil.rmtree(folder)
    return sealed


def add(file: Path, recordings: Path) -> Path:
    """An exported recording filed with the lab's, under its file's name; the file made."""
    bundle = load(file)
    name = file.stem if _NAME.match(file.stem) else f"imported-{int(bundle.start)}"
    target = recordings / f"{name}.zip"
    if target.exists() or (recordings / name).exists():
        raise BadBundle(f"a recording named {name} is there already: rename the file to add it as another")
    recordings.mkdir(parents=True, exist_ok=True)
    export(file, target)
    return target


def size(recording: Path) -> int:
    if recording.is_dir():
        return sum(f.stat().st_size for f in recording.iterdir() if f.is_file())
    return recording.stat().st_size


def listed(recordings: Path) -> list[Path]:
    """The lab's recordings, oldest first (their names start with when they started): the sealed ones
    and those still recording (or cut short), as folders."""
    if not recordings.is_dir():
        return []
    found = [p for p in recordings.iterdir() if not p.name.startswith(".")]
    return sorted((p for p in found if p.is_dir() or p.suffix == ".zip"), key=lambda p: p.name)
