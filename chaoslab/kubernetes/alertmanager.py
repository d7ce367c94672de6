"""Alertmanager as a team's pager reads and writes it (its API, version 2): the team's alerts, silenced
and inhibited ones too (what the board records), and the team's silences, mirrored from its board.

A silence the pager writes always carries the team's own ``team`` matcher, so a team's silence can
hold back its own alerts only, on an Alertmanager the whole cohort shares; its comment starts with the
board's silence id, which is how the pager finds it again.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request

from chaoslab.errors import ChaoslabError
from chaoslab.kubernetes.prometheus import DIRECT
from chaoslab.timefmt import utc

CREATED_BY = "chaoslab"
"""``createdBy`` of the silences the pager mirrors: the ones it may expire."""


class AlertmanagerUnreachable(ChaoslabError):
    """Alertmanager did not answer, or refused: nothing is paged this time, the next sync catches up."""


def team_matcher(team: str) -> dict:
    """The matcher every silence the pager writes carries: ``team="<team>"``."""
    return {"name": "team", "value": team, "isRegex": False, "isEqual": True}


def am_matchers(matchers: list[list[str]], team: str) -> list[dict]:
    """The lab's matchers (chaoslab.alerts.matchers) as Alertmanager's, and the team's own besides: a
    silence a team wrote for another team (``team=blue``) then matches nothing, as on its board."""
    found = [
        {"name": name, "value": value, "isRegex": op == "=~", "isEqual": op != "!="} for name, op, value in matchers
    ]
    return [*found, team_matcher(team)]


class Alertmanager:
    def __init__(self, url: str, timeout_s: float = 5.0):
        self.url = url.rstrip("/")
        self.timeout_s = timeout_s

    def _call(self, method: str, path: str, body: dict | None = None):
        url = f"{self.url}/api/v2/{path}"
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
        try:
            with DIRECT.open(request, timeout=self.timeout_s) as answer:
                text = answer.read()
        except urllib.error.HTTPError as exc:
            said = exc.read().decode(errors="replace").strip()[:200]
            raise AlertmanagerUnreachable(f"Alertmanager refused {method} {url}: {exc.code} {said}") from None
        except (urllib.error.URLError, OSError) as exc:
            raise AlertmanagerUnreachable(f"Alertmanager at {url} did not answer: {exc}") from None
        try:
            return json.loads(text) if text.strip() else None
        except ValueError:
            raise AlertmanagerUnreachable(f"Alertmanager at {url} answered something that is not JSON") from None

    def alerts(self, team: str) -> list[dict]:
        """The team's alerts that have not ended: active, silenced and inhibited ones alike (each says
        which in ``status``)."""
        query = urllib.parse.urlencode({"filter": f'team="{team}"', "silenced": "true", "inhibited": "true"})
        found = self._call("GET", f"alerts?{query}")
        return [a for a in found or [] if isinstance(a, dict) and isinstance(a.get("labels"), dict)]

    def silences(self, team: str) -> list[dict]:
        """The pager's silences for this team that are active or pending."""
        found = self._call("GET", "silences") or []
        return [
            s
            for s in found
            if isinstance(s, dict)
            and s.get("createdBy") == CREATED_BY
            and (s.get("status") or {}).get("state") in ("active", "pending")
            and team_matcher(team) in (s.get("matchers") or [])
        ]

    def silence(self, matchers: list[dict], starts: float, ends: float, comment: str) -> str:
        body = {
            "matchers": matchers,
            "startsAt": utc(starts),
            "endsAt": utc(ends),
            "createdBy": CREATED_BY,
            "comment": comment,
        }
        return str((self._call("POST", "silences", body) or {}).get("silenceID", ""))

    def expire(self, silence_id: str) -> None:
        self._call("DELETE", f"silence/{urllib.parse.quote(silence_id)}")
