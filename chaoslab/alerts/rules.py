"""Alert rules as Prometheus knows them, and the rule file the chart ships, generated from the definition.

A ``Rule`` is one Prometheus alerting rule: PromQL text, a ``for:`` window, the ``severity`` and
``owner`` labels and the annotations. chaoslab/alerts/definitions.py produces them; this module turns
them into Prometheus's rule file format (``render``; chaoslab/alerts/chartfiles.py writes the chart's
copy), and chaoslab/alerts/evaluator.py evaluates the very same objects on the local lab.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import yaml

from chaoslab.alerts import promql, templates
from chaoslab.alerts.tiers import tier

ROOT = Path(__file__).resolve().parents[2]
RUNBOOKS = ROOT / "docs" / "runbooks"
RUNBOOK_PREFIX = "docs/runbooks/"
"""How a rule's runbook_url starts: a path relative to the repository. The chart can put a base URL in
front (``observability.prometheus.runbookBaseUrl``); the local lab prints the file."""


@dataclass(frozen=True)
class Rule:
    alert: str
    expr: str
    for_s: float
    severity: str
    owner: str
    runbook: str
    """File name (without .md) of the runbook under docs/runbooks/."""
    summary: str
    description: str
    group: str
    labels: dict[str, str] = field(default_factory=dict)
    """Further static labels (e.g. ``slo``)."""
    headline: str = ""
    """What is wrong in a few plain words, no figures ("Checkouts fail"), a template of the alert's labels:
    the title of an incident the alert opens (chaoslab.alerts.definitions.headline). The lab's own, not a
    Prometheus annotation: the summary keeps the figures for the alert itself."""

    def __post_init__(self):
        tier(self.severity)  # raises for an unknown severity
        for text in (self.summary, self.description, self.headline):
            templates.check(text)

    @cached_property
    def ast(self):
        return promql.parse(self.expr)

    @property
    def runbook_url(self) -> str:
        return f"{RUNBOOK_PREFIX}{self.runbook}.md"

    @property
    def all_labels(self) -> dict[str, str]:
        return {"severity": self.severity, "owner": self.owner, **self.labels}

    @property
    def annotations(self) -> dict[str, str]:
        return {"summary": self.summary, "description": self.description, "runbook_url": self.runbook_url}

    def prometheus(self) -> dict:
        doc: dict = {"alert": self.alert, "expr": self.expr.strip() + "\n"}
        if self.for_s:
            doc["for"] = duration(self.for_s)
        doc["labels"] = self.all_labels
        doc["annotations"] = self.annotations
        return doc


def duration(seconds: float) -> str:
    """Seconds as a Prometheus duration: 30s, 2m, 1m30s."""
    whole = int(seconds)
    if whole != seconds or whole < 0:
        raise ValueError(f"durations are whole seconds, not {seconds}")
    minutes, rest = divmod(whole, 60)
    return (f"{minutes}m" if minutes else "") + (f"{rest}s" if rest or not minutes else "")


class Dumper(yaml.SafeDumper):
    pass


def _str(dumper: yaml.SafeDumper, value: str):
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


Dumper.add_representer(str, _str)

HEADER = """\
# chaoslab alert rules: GENERATED from chaoslab/alerts/definitions.py by `make docs`; do not edit.
# Severity P1 (page all hands) to P4 (awareness); every alert names its owner team and links its runbook.
# The lab daemon evaluates these same rules on the local lab; promtool unit tests:
# tests/kubernetes/alerts_test.yaml.
"""


def render(rules: list[Rule]) -> str:
    groups: dict[str, list[dict]] = {}
    for rule in rules:
        groups.setdefault(rule.group, []).append(rule.prometheus())
    document = {"groups": [{"name": name, "rules": docs} for name, docs in groups.items()]}
    return HEADER + yaml.dump(document, Dumper=Dumper, sort_keys=False, width=200, allow_unicode=True)
