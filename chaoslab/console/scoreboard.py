"""Scores as the instructor reads them: one team's in its panel, every team's ranked on the cohort page.

The figures are chaoslab.incident.score's (TTD, TTRC, TTM, TTVF from the impact's start, penalty
minutes, the stage reached, the shadow on-call's time); this module only lays them out. Ranking is the
score module's: a verified fix first by effective time, then a named root cause, then detection.
"""

from __future__ import annotations

from dataclasses import fields

from chaoslab.console.render import esc
from chaoslab.incident.score import Score
from chaoslab.incident.score import ranked as rank
from chaoslab.timefmt import duration

TIMES = (("ttd_s", "TTD"), ("ttrc_s", "TTRC"), ("ttm_s", "TTM"), ("ttvf_s", "TTVF"))
_FIELDS = {f.name for f in fields(Score)}


def _time(seconds: float | None) -> str:
    return "–" if seconds is None else duration(seconds)


def _effective(score: dict) -> str:
    minutes = score.get("effective_min")
    return "–" if minutes is None else f"{minutes:.1f} min"


def _penalties(score: dict) -> str:
    counts = (
        ("wrong_root_causes", "wrong root cause"),
        ("hints", "hint"),
        ("overdue_updates", "overdue update"),
    )
    said = [f"{score[key]} {name}{'s' if score[key] != 1 else ''}" for key, name in counts if score.get(key)]
    missed = len([v for v in (score.get("triage") or {}).values() if v != "right"])
    if missed:
        said.append(f"{missed} triage question{'s' if missed != 1 else ''} not right")
    return ", ".join(said) or "none"


def team_score(score: dict | None) -> str:
    """One team's score for its instructor panel."""
    if score is None:
        return '<p class="muted">No incident yet: the score starts with the first one.</p>'
    head = (
        f"<p><b>{esc(score.get('incident', ''))}</b> {esc(score.get('severity', ''))} · {esc(score.get('state', ''))}"
        f" · stage <b>{esc(score.get('stage', ''))}</b></p>"
    )
    if not score.get("graded"):
        head += '<p class="muted">Not graded: no drill\'s answer key covers this incident.</p>'
    times = "".join(f"<th>{label}</th>" for _, label in TIMES) + "<th>effective</th><th>shadow TTRC</th>"
    cells = "".join(f"<td>{_time(score.get(key))}</td>" for key, _ in TIMES)
    cells += f"<td>{_effective(score)}</td><td>{_time(score.get('shadow_ttrc_s'))}</td>"
    return (
        f'{head}<table class="mini score"><tr>{times}</tr><tr>{cells}</tr></table>'
        f'<p class="muted">Penalties: {esc(_penalties(score))}</p>'
    )


def ranked(scores: dict[str, dict | None]) -> list[tuple[str, dict | None]]:
    """Teams in the ranking's order (chaoslab.incident.score.ranked); a team with no incident comes last."""
    known = [Score(**({k: v for k, v in s.items() if k in _FIELDS} | {"team": t})) for t, s in scores.items() if s]
    return [(s.team, scores[s.team]) for s in rank(known)] + [(t, None) for t in sorted(scores) if not scores[t]]


def board(scores: dict[str, dict | None]) -> str:
    """Every team's score, ranked, as one table (the cohort page)."""
    head = (
        "<tr><th>#</th><th>team</th><th>incident</th><th>stage</th>"
        + "".join(f"<th>{label}</th>" for _, label in TIMES)
        + "<th>effective</th><th>penalties</th><th>shadow TTRC</th></tr>"
    )
    rows = []
    for place, (team, score) in enumerate(ranked(scores), start=1):
        if score is None:
            rows.append(
                f'<tr class="team" data-team="{esc(team)}"><td></td><td>{esc(team)}</td>'
                f'<td colspan="{len(TIMES) + 5}" class="muted">no incident yet</td></tr>'
            )
            continue
        rows.append(
            f'<tr class="team" data-team="{esc(team)}"><td>{place}</td><td><b>{esc(team)}</b></td>'
            f"<td>{esc(score.get('incident', ''))} {esc(score.get('severity', ''))} {esc(score.get('state', ''))}</td>"
            f"<td>{esc(score.get('stage', ''))}</td>"
            + "".join(f"<td>{_time(score.get(key))}</td>" for key, _ in TIMES)
            + f"<td>{_effective(score)}</td><td>{esc(_penalties(score))}</td>"
            f"<td>{_time(score.get('shadow_ttrc_s'))}</td></tr>"
        )
    return f'<table class="mini board">{head}{"".join(rows)}</table>'
