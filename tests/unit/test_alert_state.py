"""Alert state over time (pending → firing → resolved, with the transition log an incident reads), the
bounded history, scraping into it, and the template functions the summaries use."""

from __future__ import annotations

import pytest

from chaoslab.alerts import templates
from chaoslab.alerts.evaluator import RESOLVED_RETENTION_MS, Evaluator
from chaoslab.alerts.history import History
from chaoslab.alerts.local import LocalAlerts
from chaoslab.alerts.promql import key
from chaoslab.alerts.rules import Rule
from chaoslab.alerts.scrape import ExpositionError, Scraper, Target, parse_exposition


def depth_rule(for_s: float = 30) -> Rule:
    return Rule(
        "QueueTooDeep",
        'sum by (team) (queue_depth{service="worker"}) > 50',
        for_s,
        "P2",
        "fulfilment",
        "worker-and-queue",
        "{{ $value }} waiting (team {{ $labels.team }})",
        "the worker is behind",
        group="test",
    )


def feed(history: History, t: int, depth: float) -> None:
    history.append({"__name__": "queue_depth", "service": "worker", "team": "red"}, t * 1000, depth)


def test_an_alert_goes_pending_then_firing_after_its_for_window_then_resolves():
    history, evaluator = History(600_000), Evaluator([depth_rule(for_s=30)])
    states = {}
    for t, depth in [(0, 0), (5, 60), (10, 70), (20, 80), (35, 90), (40, 10), (45, 5)]:
        feed(history, t, depth)
        evaluator.evaluate(history, t * 1000)
        states[t] = [(a.state, a.value) for a in evaluator.alerts()]
    assert states[0] == []
    assert states[5] == [("pending", 60)]
    assert states[20] == [("pending", 80)], "20 s of a 30 s window"
    assert states[35] == [("firing", 90)]
    assert states[40] == [("resolved", 90)]
    alert = evaluator.alerts()[0]
    assert (alert.active_at, alert.fired_at, alert.resolved_at) == (5, 35, 40)
    assert alert.labels == {"team": "red", "severity": "P2", "owner": "fulfilment"}
    assert alert.summary == "90 waiting (team red)" and alert.runbook_url == "docs/runbooks/worker-and-queue.md"
    events = evaluator.events()
    assert [(e.kind, e.ts, e.value) for e in events] == [
        ("alert_pending", 5, 60),
        ("alert_fired", 35, 90),
        ("alert_resolved", 40, 90),
    ]
    assert [e.seq for e in evaluator.events(since=events[0].seq)] == [events[1].seq, events[2].seq]
    assert len({e.fingerprint for e in events}) == 1 and events[0].fingerprint == alert.fingerprint
    evaluator.evaluate(history, 40_000 + RESOLVED_RETENTION_MS + 5_000)
    assert evaluator.alerts() == [], "a resolved alert is listed for 15 minutes, then forgotten"


def test_a_pending_alert_that_clears_never_fires_and_a_zero_window_fires_at_once():
    history, evaluator = History(600_000), Evaluator([depth_rule(for_s=30), depth_rule(for_s=0)])
    for t, depth in [(0, 60), (10, 60), (15, 0)]:
        feed(history, t, depth)
        evaluator.evaluate(history, t * 1000)
    kinds = [(e.kind, e.ts) for e in evaluator.events()]
    assert kinds.count(("alert_fired", 0)) == 1, "for: 0 fires on the first evaluation"
    assert [k for k, _ in kinds].count("alert_fired") == 1, "the 30 s rule cleared while pending"


def test_a_rule_that_cannot_be_evaluated_is_reported_and_the_others_still_run():
    bad = Rule("Broken", "a / on(x) b", 0, "P3", "orders", "database", "s", "d", group="test")
    history, evaluator = History(600_000), Evaluator([bad, depth_rule(for_s=0)])
    history.append({"__name__": "a", "x": "1", "y": "1"}, 0, 1.0)
    history.append({"__name__": "a", "x": "1", "y": "2"}, 0, 1.0)
    history.append({"__name__": "b", "x": "1"}, 0, 1.0)
    feed(history, 0, 99)
    evaluator.evaluate(history, 0)
    assert "Broken" in evaluator.errors and "match" in evaluator.errors["Broken"]
    assert [a.alert for a in evaluator.alerts()] == ["QueueTooDeep"]


def test_history_keeps_only_wanted_series_for_the_retention_and_at_most_max_series():
    history = History(retention_ms=60_000, wanted=lambda labels: labels["__name__"] == "keep", max_series=2)
    assert history.append({"__name__": "drop"}, 0, 1.0) is None
    for t in range(0, 200_001, 5_000):
        history.append({"__name__": "keep", "n": "1"}, t, float(t))
    history.forget_before(200_000)
    (series,) = history.select([], 0, 10**9)
    assert series.points[0][0] >= 200_000 - 60_000 and series.points[-1] == (200_000, 200_000.0)
    history.append({"__name__": "keep", "n": "2"}, 0, 1.0)
    assert history.append({"__name__": "keep", "n": "3"}, 0, 1.0) is None, "full: new series are dropped"
    assert len(history) == 2
    history.forget_before(10**9)
    assert len(history) == 0


EXPOSITION = """# HELP queue_depth Fulfilment entries waiting.
# TYPE queue_depth gauge
queue_depth{service="worker",team="red"} 7.0
http_server_requests_total{route="/a\\"b",service="worker",status="200",team="red"} 3.0 1700000000000
process_cpu_seconds_total 1.5e+00
nan_gauge NaN
"""


def test_the_exposition_parser_reads_labels_escapes_timestamps_and_special_values():
    samples = list(parse_exposition(EXPOSITION))
    assert samples[0] == ({"__name__": "queue_depth", "service": "worker", "team": "red"}, 7.0)
    assert samples[1][0]["route"] == '/a"b' and samples[1][1] == 3.0
    assert samples[2] == ({"__name__": "process_cpu_seconds_total"}, 1.5)
    assert [labels["__name__"] for labels, _ in parse_exposition(EXPOSITION, {"queue_depth"})] == ["queue_depth"]
    with pytest.raises(ExpositionError, match="line 1"):
        list(parse_exposition("not a sample line at all {"))
    with pytest.raises(ExpositionError, match="malformed labels"):
        list(parse_exposition('x{a="1" b="2"} 1'))
    with pytest.raises(ExpositionError, match="malformed labels"):
        list(parse_exposition('x{a="1",a="2"} 1'))


def test_a_scrape_adds_target_labels_writes_up_and_marks_vanished_series_stale():
    history = History(600_000)
    scraper = Scraper(history, names={"queue_depth", "process_cpu_seconds_total"})
    target = Target("worker", "http://127.0.0.1:8085", "red")
    assert scraper.ingest(target, EXPOSITION, 1_000) is None
    up = history.select([_m("__name__", "up")], 0, 10_000)
    assert up[0].labels == {
        "__name__": "up",
        "job": "chaoslab",
        "instance": "127.0.0.1:8085",
        "service": "worker",
        "team": "red",
    }
    assert up[0].points == [(1_000, 1.0)]
    cpu = history.select([_m("__name__", "process_cpu_seconds_total")], 0, 10_000)
    assert cpu[0].labels["service"] == "worker", "the target's labels fill in what the exposition lacks"
    assert history.select([_m("__name__", "nan_gauge")], 0, 10_000) == [], "only the metrics the rules read"
    scraper.ingest(target, None, 6_000, "ConnectionRefusedError")
    (depth,) = history.select([_m("__name__", "queue_depth")], 0, 10_000)
    assert depth.points[0] == (1_000, 7.0) and depth.points[1][1] != depth.points[1][1], "a staleness marker"
    assert history.select([_m("__name__", "up")], 0, 10_000)[0].points[-1] == (6_000, 0.0)
    assert scraper.ingest(target, "garbage {", 11_000) is not None, "a malformed body is a failed scrape"
    scraper.close()


def _m(name: str, value: str):
    from chaoslab.alerts.promql import Matcher

    return Matcher(name, "=", value)


@pytest.mark.parametrize(
    "value, plain, human, percent, duration",
    [
        (0.0, "0", "0", "0%", "0s"),
        (1234567.0, "1.234567e+06", "1.235M", "1.235e+08%", "14d 6h 56m 7s"),
        (0.0042, "0.0042", "4.2m", "0.42%", "4.2ms"),
        (62.5, "62.5", "62.5", "6250%", "1m 2s"),
        (-3.0, "-3", "-3", "-300%", "-3s"),
        (float("nan"), "NaN", "NaN", "NaN%", "NaN"),
    ],
)
def test_template_functions_print_like_prometheus(value, plain, human, percent, duration):
    assert templates.go_float(value) == plain
    assert templates.humanize(value) == human
    assert templates.render("{{ $value | humanizePercentage }}", {}, value) == percent
    assert templates.humanize_duration(value) == duration


def test_templates_outside_the_supported_forms_are_refused():
    templates.check('{{ $labels.service }} {{ $value | printf "%.2f" }}')
    with pytest.raises(templates.TemplateError, match="not supported"):
        templates.check("{{ range $labels }}x{{ end }}")
    assert templates.render('{{$labels.missing}}|{{ $value | printf "%.1f" }}', {}, 2.25) == "|2.2"
    assert key({"b": "1", "a": "2"}) == (("a", "2"), ("b", "1"))


def test_every_listener_is_told_each_transition_in_subscription_order_even_after_one_fails():
    """LocalAlerts' subscription: the daemon's incident desk and the shadow on-call each subscribe; one
    listener raising does not keep the page from the next."""

    def unreachable() -> str:
        raise ConnectionError("refused")

    target = Target("service-b", "http://127.0.0.1:1", "red", read=unreachable)
    alerts = LocalAlerts(
        lambda: [target], [Rule("Down", "up == 0", 0, "P2", "orders", "database", "s", "d", group="t")]
    )
    told: list[tuple[str, str]] = []

    def desk(event: dict) -> None:
        told.append(("desk", event["kind"]))
        raise RuntimeError("the incident record could not be written")

    alerts.subscribe(desk)
    alerts.subscribe(lambda event: told.append(("shadow", event["kind"])))
    alerts.round()
    transitions = [
        ("desk", "alert_pending"),
        ("shadow", "alert_pending"),
        ("desk", "alert_fired"),
        ("shadow", "alert_fired"),
    ]
    assert told == transitions
    alerts.round()
    assert told == transitions  # still firing: no new transition, nobody told twice
