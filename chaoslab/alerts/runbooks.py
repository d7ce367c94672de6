"""Runbooks: one Markdown file per alert family under docs/runbooks/, linked from every alert."""

from __future__ import annotations

from pathlib import Path

from chaoslab.alerts.rules import RUNBOOKS, Rule
from chaoslab.errors import BadInput


class RunbookError(BadInput, LookupError):
    """No such alert or runbook; the message lists what there is."""


def find(name: str, rules: list[Rule]) -> tuple[str, Path]:
    """(the runbook's name, its file) for an alert name (any case) or a runbook name."""
    wanted = name.strip().lower()
    names = {rule.alert.lower(): rule.runbook for rule in rules}
    runbooks = {rule.runbook for rule in rules}
    runbook = names.get(wanted) or (wanted.removesuffix(".md") if wanted.removesuffix(".md") in runbooks else None)
    if runbook is None:
        alerts = ", ".join(sorted(dict.fromkeys(rule.alert for rule in rules)))
        raise RunbookError(f"no alert or runbook called {name!r}; alerts: {alerts}")
    path = RUNBOOKS / f"{runbook}.md"
    if not path.exists():
        raise RunbookError(
            f"runbook {runbook} is not at {path}: runbooks ship with the source tree (docs/runbooks/); "
            "install chaoslab from a checkout (`make lab`) to read them here"
        )
    return runbook, path
