"""Replays served: one recording on a port of its own (`chaoslab replay`), or every recording of a lab
beside the live console that recorded them.

``create_app`` is the console over one recording (chaoslab.console.replay), at /console/ as live.
``Replays`` wraps a host's WSGI app: ``/replay/`` lists the recordings (newest first) and
``/replay/<name>/console/`` replays one, each with one clock for everybody watching it; the host's
own paths are untouched. The instructor's view of a replay takes the host's token, as live.
"""

from __future__ import annotations

import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import ClassVar

from flask import Flask, redirect

from chaoslab.console import PREFIX
from chaoslab.console.bundle import BadBundle, listed, load
from chaoslab.console.render import esc
from chaoslab.console.replay import Replay
from chaoslab.console.web import create_blueprint

ROOT = "/replay"
KEPT = 2
"""Replays kept open at once in one process, whoever's: each holds its recording in memory, about
2 MiB a minute of drill (the platform console's memory limit allows for two half-hour drills)."""
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


def create_app(played: Replay, token: Callable[[], str]) -> Flask:
    """The console over one recording, at /console/ (and / sends there)."""
    app = Flask("chaoslab-replay")
    app.register_blueprint(create_blueprint(played.source, token, played), url_prefix=PREFIX)
    app.add_url_rule("/", "index", lambda: redirect(f"{PREFIX}/"))
    return app


class Replays:
    """WSGI middleware: the recordings in ``recordings`` under /replay/, the rest to ``app``."""

    _open: ClassVar[OrderedDict[Path, Flask]] = OrderedDict()
    """The replays open in this process (every team's on the platform console), the least recent first."""
    _lock = threading.Lock()

    def __init__(self, app, recordings: Path, token: Callable[[], str], root: str = ROOT):
        """``root``: where the recordings are listed on the host (a team's, on the platform console)."""
        self.app = app
        self.recordings = recordings
        self.token = token
        self.root = root

    def __call__(self, environ, start_response):
        path, root = environ.get("PATH_INFO", ""), self.root
        if path != root and not path.startswith(root + "/"):
            return self.app(environ, start_response)
        here = environ.get("SCRIPT_NAME", "") + root
        if path == root:
            start_response("308 Permanent Redirect", [("Location", here + "/"), ("Content-Length", "0")])
            return [b""]
        name, _, rest = path[len(root) + 1 :].partition("/")
        if not name:
            return _html(start_response, "200 OK", self._index(), here)
        found = self._find(name)
        if found is None:
            return _html(start_response, "404 Not Found", f"<p>No recording {esc(name)}.</p>", here)
        try:
            app = self._app(found)
        except BadBundle as exc:
            return _html(start_response, "422 Unprocessable Entity", f"<p>{esc(exc)}</p>", here)
        inner = dict(environ, SCRIPT_NAME=f"{here}/{name}", PATH_INFO="/" + rest)
        return app(inner, start_response)

    def _find(self, name: str) -> Path | None:
        if not _NAME.match(name):
            return None
        for candidate in (self.recordings / f"{name}.zip", self.recordings / name):
            if candidate.exists():
                return candidate
        return None

    def _app(self, path: Path) -> Flask:
        """The replay of ``path``, made on first use. A recording still being written is replayed as far
        as it went then; once sealed (its zip) it is opened again, whole."""
        with self._lock:
            if path in self._open:
                self._open.move_to_end(path)
                return self._open[path]
        app = create_app(Replay(load(path)), self.token)
        with self._lock:
            self._open.pop(path.with_suffix(""), None)  # its folder's replay, now that it is sealed
            self._open[path] = app
            while len(self._open) > KEPT:
                self._open.popitem(last=False)
        return app

    def _index(self) -> str:
        rows = []
        for path in reversed(listed(self.recordings)):
            name = path.name.removesuffix(".zip")
            try:
                bundle = load(path)
            except BadBundle as exc:
                rows.append(f"<li>{esc(name)}: <span class='muted'>{esc(exc)}</span></li>")
                continue
            started = time.strftime("%Y-%m-%d %H:%M", time.localtime(bundle.start))
            minutes = (bundle.end - bundle.start) / 60
            state = "" if bundle.meta.get("ended_at") else " · recording"
            rows.append(
                f'<li><a href="{esc(name)}{PREFIX}/">{esc(started)}</a> {minutes:.1f} min{state} '
                f'<span class="muted">{esc(name)}</span> · <a href="{esc(name)}{PREFIX}/instructor">instructor</a></li>'
            )
        listing = (
            f"<ul>{''.join(rows)}</ul>" if rows else "<p>No drill recorded yet: each is recorded while it runs.</p>"
        )
        return (
            "<h1>Recordings</h1><p>Every drill of this lab, recorded while it ran. Open one to replay the console "
            "with a time slider; the timeline's entries are marks to jump to.</p>"
            f"{listing}"
        )


def _html(start_response, status: str, body: str, here: str):
    """A page of the recordings' own (``here``: where /replay is on the host), styled like the console."""
    host = here.removesuffix(ROOT)
    page = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><link rel="icon" href="data:,">'
        f'<title>chaoslab recordings</title><link rel="stylesheet" href="{esc(host)}{PREFIX}/static/console.css">'
        f'</head><body><header><h1>chaoslab console</h1><a href="{esc(host)}{PREFIX}/" class="switch">the live '
        f'console</a><a href="{esc(here)}/" class="switch">recordings</a></header>'
        f"<main class='single'><section class='panel'>{body}</section></main></body></html>"
    ).encode()
    start_response(status, [("Content-Type", "text/html; charset=utf-8"), ("Content-Length", str(len(page)))])
    return [page]
