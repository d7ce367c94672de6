"""The scenario catalogue: one YAML file per drill under ``chaos/scenarios/``.

``load`` checks a file against ``scenario.schema.json`` and then every fault
against the fault vocabulary, every check against the check vocabulary and
every fix against the service's runtime settings, so a malformed scenario is
refused with one line naming the file and the field, before anything runs.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, replace
from pathlib import Path

import jsonschema
import yaml

from chaoslab import command
from chaoslab.backend import LoadProfile
from chaoslab.chaos.checks import Check, CheckError
from chaoslab.chaos.faults import KINDS, MAX_TTL_S, FaultSpecError, validate
from chaoslab.errors import BadInput
from chaoslab.settings import SERVICE_SETTINGS, SettingsError, coerce
from chaoslab.topology import SERVICE_NAMES

HERE = Path(__file__).resolve().parent
CATALOGUE = HERE / "scenarios"
STORIES = HERE / "stories.yaml"
SCHEMA = json.loads((HERE / "scenario.schema.json").read_text())
DIFFICULTIES = ("intern", "junior", "senior", "staff")
DEFAULT_DURATION_S = 900.0
DEFAULT_LOAD = LoadProfile(users=10, spawn_rate=10.0, think_time_s=0.5, journey="shop", shape="steady")
"""The traffic a drill runs with unless its file says otherwise: steady shoppers, enough for every
symptom to show in metrics and traces within seconds."""


class ScenarioError(BadInput):
    """An unknown or malformed scenario; the message says which and how to fix it."""


@dataclass(frozen=True)
class Fix:
    id: str
    summary: str
    service: str
    changes: dict


@dataclass(frozen=True)
class FeedEntry:
    """A deploy the change feed shows when the drill starts (the trigger, as a team would see it, or a decoy)."""

    service: str
    summary: str
    by: str
    ago_s: float = 0.0
    trigger: bool = False


@dataclass(frozen=True)
class Scenario:
    id: str
    title: str
    difficulty: str
    summary: str
    story: str
    duration_s: float
    faults: tuple[dict, ...]
    red_herrings: tuple[dict, ...]
    hints: tuple[str, ...]
    root_cause: dict
    fixes: tuple[Fix, ...]
    alert: str
    """The primary alert, which fires within 90 s of the drill's start."""
    symptom: tuple[Check, ...]
    slo: tuple[Check, ...]
    path: Path
    load: LoadProfile
    feed: tuple[FeedEntry, ...] = ()
    mystery_story: str = ""
    """The kind of story a mystery run is told with (chaos/stories.yaml, shared by several drills)."""
    accepted_alerts: tuple[str, ...] = ()
    """Paging alerts a right fix does not silence (it contains the failure, a third party stays down)."""
    accepted_books: tuple[str, ...] = ()
    """Reconciliation findings a right fix cannot clear while the fault lasts (verify waives them)."""

    @property
    def trigger(self) -> FeedEntry | None:
        """The change that set the drill off, as the feed shows it (None: no change did)."""
        return next((entry for entry in self.feed if entry.trigger), None)

    def fix(self, fix_id: str | None) -> Fix:
        if not self.fixes:
            raise ScenarioError(f"{self.id} has no fix to deploy: it is a diagnosis drill; stop it to recover")
        if fix_id is None:
            return self.fixes[0]
        for fix in self.fixes:
            if fix.id == fix_id:
                return fix
        raise ScenarioError(f"{self.id} has no fix {fix_id!r}; its fixes: {', '.join(f.id for f in self.fixes)}")


def load(path: Path) -> Scenario:
    name = path.name
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise ScenarioError(f"{name}: not valid YAML{where}: {getattr(exc, 'problem', exc)}") from None
    errors = sorted(jsonschema.Draft202012Validator(SCHEMA).iter_errors(raw), key=lambda e: list(e.absolute_path))
    if errors:
        first = errors[0]
        field = ".".join(str(p) for p in first.absolute_path) or "(top level)"
        raise ScenarioError(f"{name}: {field}: {first.message}")
    if raw["id"] != path.stem:
        raise ScenarioError(f"{name}: id {raw['id']!r} must match the file name {path.stem!r}")
    duration = float(raw.get("duration_s", DEFAULT_DURATION_S))
    for group in ("faults", "red_herrings"):
        for index, spec in enumerate(raw.get(group, [])):
            try:
                validate({**spec, "ttl_s": min(duration, MAX_TTL_S)})
            except FaultSpecError as exc:
                raise ScenarioError(f"{name}: {group}[{index}]: {exc}") from None
    cause = raw["root_cause"]
    if cause["service"] not in SERVICE_NAMES or cause["kind"] not in KINDS:
        raise ScenarioError(
            f"{name}: root_cause names service {cause['service']!r} and kind {cause['kind']!r}; "
            f"both must exist ({', '.join(SERVICE_NAMES)}; {', '.join(KINDS)})"
        )
    if raw["mystery_story"] not in stories():
        raise ScenarioError(
            f"{name}: mystery_story {raw['mystery_story']!r}: use one of {', '.join(stories())} (chaos/stories.yaml)"
        )
    fixes = []
    for index, fix in enumerate(raw["fixes"]):
        service = fix["deploy"]["service"]
        if service not in SERVICE_SETTINGS:
            raise ScenarioError(f"{name}: fixes[{index}].deploy.service={service!r}: no such service")
        for setting, value in fix["deploy"]["changes"].items():
            try:
                coerce(SERVICE_SETTINGS[service], setting, value)
            except SettingsError as exc:
                raise ScenarioError(f"{name}: fixes[{index}].deploy.changes: {exc}") from None
        fixes.append(Fix(fix["id"], fix["summary"], service, dict(fix["deploy"]["changes"])))
    feed = tuple(FeedEntry(**entry) for entry in raw.get("feed", []))
    for index, entry in enumerate(feed):
        if entry.service not in SERVICE_NAMES:
            raise ScenarioError(f"{name}: feed[{index}].service={entry.service!r}: no such service")
    if sum(entry.trigger for entry in feed) > 1:
        raise ScenarioError(f"{name}: feed: at most one entry is the trigger")
    if feed:
        changed = {s["service"] for s in (*raw["faults"], *raw.get("red_herrings", [])) if _changes_settings(s)}
        unlisted = changed - {entry.service for entry in feed}
        if unlisted:
            raise ScenarioError(
                f"{name}: feed: a fault changes settings on {', '.join(sorted(unlisted))}; give it a feed entry "
                "(the feed replaces the faults' own change-feed lines)"
            )
    checks = {}
    for group in ("symptom", "slo"):
        try:
            checks[group] = tuple(Check.parse(c, f"{group}[{i}]") for i, c in enumerate(raw[group]))
        except CheckError as exc:
            raise ScenarioError(f"{name}: {exc}") from None
    return Scenario(
        id=raw["id"],
        title=raw["title"],
        difficulty=raw["difficulty"],
        summary=raw["summary"],
        story=raw["story"].strip(),
        duration_s=duration,
        faults=tuple(raw["faults"]),
        red_herrings=tuple(raw.get("red_herrings", [])),
        hints=tuple(raw["hints"]),
        root_cause=cause,
        fixes=tuple(fixes),
        alert=raw["alert"],
        symptom=checks["symptom"],
        slo=checks["slo"],
        path=path,
        load=replace(DEFAULT_LOAD, **raw.get("load", {})),
        feed=feed,
        mystery_story=raw["mystery_story"],
        accepted_alerts=tuple(raw.get("accepted_alerts", [])),
        accepted_books=tuple(raw.get("accepted_books", [])),
    )


def stories(path: Path = STORIES) -> dict[str, tuple[str, ...]]:
    """The mystery stories by kind (chaos/stories.yaml)."""
    raw = yaml.safe_load(path.read_text())
    return {kind: tuple(" ".join(text.split()) for text in variants) for kind, variants in raw.items()}


def mystery_story(scenario: Scenario, chooser: random.Random) -> str:
    """A story for a mystery run of ``scenario``: one variant of its kind, drawn with ``chooser``."""
    return chooser.choice(stories()[scenario.mystery_story])


def _changes_settings(spec: dict) -> bool:
    return bool(validate({**spec, "ttl_s": 60}).flag_changes())


def catalogue(directory: Path = CATALOGUE) -> list[Scenario]:
    """Every scenario, easiest first."""
    found = [load(path) for path in sorted(directory.glob("*.yaml"))]
    return sorted(found, key=lambda s: (DIFFICULTIES.index(s.difficulty), s.id))


def ids(directory: Path = CATALOGUE) -> list[str]:
    return sorted(path.stem for path in directory.glob("*.yaml"))


def get(scenario_id: str, directory: Path = CATALOGUE) -> Scenario:
    path = directory / f"{scenario_id}.yaml"
    if not path.exists():
        raise ScenarioError(
            f"unknown scenario {scenario_id!r}; `{command('scenario list')}` shows the "
            f"{len(ids(directory))} there are ({', '.join(ids(directory))})"
        )
    return load(path)
