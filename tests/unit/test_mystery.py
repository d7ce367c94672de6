"""Mystery drills: the draw, and what every scenario shows a trainee (its story and its change feed)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from chaoslab.chaos import scenarios
from chaoslab.chaos.scenarios import ScenarioError
from chaoslab.errors import BadInput
from chaoslab.incident.mystery import draw


def test_a_seeded_draw_repeats_and_respects_the_difficulty():
    drills = scenarios.catalogue()
    assert draw("senior", seed=7, drills=drills).id == draw("senior", seed=7, drills=drills).id
    assert {draw("junior", seed=n, drills=drills).difficulty for n in range(20)} == {"junior"}
    assert len({draw(seed=n, drills=drills).id for n in range(40)}) > 3
    with pytest.raises(BadInput, match="intern, junior, senior, staff"):
        draw("wizard")


def words(text: str) -> str:
    return text.lower().replace("_", " ")


@pytest.mark.parametrize("scenario_id", scenarios.ids())
def test_what_a_trainee_sees_never_names_the_drill_or_its_faults(scenario_id):
    drill = scenarios.get(scenario_id)
    shown = words(" ".join([drill.story, *(f"{e.service} {e.summary} {e.by}" for e in drill.feed)]))
    assert drill.id.replace("-", " ") not in shown.replace("-", " ")
    for spec in (*drill.faults, *drill.red_herrings):
        assert not re.search(rf"\b{words(spec['kind'])}\b", shown), f"{scenario_id}: the story names {spec['kind']}"
    for spec in drill.faults:  # a fault that changes settings must show as a deploy a team would see
        from chaoslab.chaos.faults import validate

        if validate({**spec, "ttl_s": 60}).flag_changes():
            assert any(e.service == spec["service"] for e in drill.feed), f"{scenario_id}: no feed entry"


GOOD = (scenarios.CATALOGUE / "deadlock.yaml").read_text()


@pytest.mark.parametrize(
    "text,message",
    [
        (GOOD.replace("service: service-c, summary", "service: service-z, summary"), "feed[0].service='service-z'"),
        (
            GOOD.replace(
                "trigger: true}", "trigger: true}\n  - {service: service-a, summary: again, by: x1, trigger: true}"
            ),
            "at most one",
        ),
        (
            GOOD.split("feed:")[0] + "feed:\n  - {service: service-a, summary: decoy deploy, by: orders-ci}\n",
            "changes settings on service-c",
        ),
    ],
)
def test_a_malformed_feed_is_refused(tmp_path: Path, text, message):
    path = tmp_path / "deadlock.yaml"
    path.write_text(text)
    with pytest.raises(ScenarioError, match=re.escape(message)):
        scenarios.load(path)


def test_a_mystery_story_never_identifies_its_drill():
    """Before, a mystery showed the scenario's own story word for word: `scenario show ID` of each id found
    it. Now every kind of story serves several drills, has several variants, and repeats no catalogue text."""
    from chaoslab.incident.mystery import story

    drills = scenarios.catalogue()
    kinds = scenarios.stories()
    for kind, variants in kinds.items():
        served = [d.id for d in drills if d.mystery_story == kind]
        assert len(served) >= 2, f"the {kind} story tells which drill it is: only {served} use it"
        assert len(variants) >= 2, f"the {kind} story has one variant"
    shown = words(" ".join(f"{d.title} {d.story} {d.summary}" for d in drills))
    for drill in drills:
        told = story(drill, seed=7)
        assert told == story(drill, seed=7) and told in kinds[drill.mystery_story]  # the seed repeats it
        assert words(told) not in shown
        sentences = [s.strip() for s in words(told).split(".") if len(s.strip()) > 25]
        assert not any(s in shown for s in sentences), f"{drill.id}: its mystery story quotes a catalogue story"
        for spec in drill.faults:
            assert not re.search(rf"\b{words(spec['kind'])}\b", words(told)), f"{drill.id}: names {spec['kind']}"
