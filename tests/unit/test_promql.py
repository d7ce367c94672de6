"""The lab's PromQL subset: what it refuses, and the semantics the promtool comparison cannot reach.

tests/kubernetes/test_alert_rules.py checks the evaluator against promtool on every rule; these tests
pin the parts of the language the rules do not exercise yet and every refusal."""

from __future__ import annotations

import math

import pytest

from chaoslab.alerts import promql
from chaoslab.alerts.history import History


def store(*series: tuple[dict, list[tuple[int, float]]]) -> History:
    history = History(retention_ms=3_600_000)
    for labels, points in series:
        for t, v in points:
            history.append(labels, t * 1000, v)
    return history


def run(expr: str, history: History, t: int):
    result = promql.evaluate(promql.parse(expr), history, t * 1000)
    if isinstance(result, float):
        return result
    return sorted((tuple(sorted(s.labels.items())), round(s.value, 9)) for s in result)


def counter(name: str, step: float, **labels) -> tuple[dict, list[tuple[int, float]]]:
    return {"__name__": name, **labels}, [(t, t / 5 * step) for t in range(0, 301, 5)]


@pytest.mark.parametrize(
    "expr, complaint",
    [
        ("a offset 5m", "offset"),
        ("rate(a[5m:1m])", "subquer"),
        ("a * on(x) group_left b", "group_left"),
        ("label_replace(a, 'x', 'y', 'z', '.*')", "not supported by the local evaluator"),
        ("rate(a)", "range vector"),
        ("abs(a[1m])", "instant vector"),
        ("a[5]", "unit"),
        ("a{b=c}", "quoted"),
        ('{b=""}', "metric name or a non-empty matcher"),
        ("sum by (a) (x) by (b)", "two grouping"),
        ("1 > 2", None),
        ("a +", "unexpected"),
        ('a{b=~"("}', "regular expression"),
        ("a[1y]", "years"),
        ("a and bool b", "bool only modifies comparisons"),
    ],
)
def test_refuses_what_it_cannot_evaluate_with_a_message_naming_it(expr, complaint):
    if complaint is None:  # parses, but two numbers cannot be compared without bool
        with pytest.raises(promql.PromQLError, match="need bool"):
            promql.evaluate(promql.parse(expr), store(), 0)
        return
    with pytest.raises(promql.PromQLError, match=complaint):
        promql.parse(expr)


def test_rate_extrapolates_like_prometheus_and_survives_a_counter_reset():
    labels = {"__name__": "c", "job": "x"}
    history = store((labels, [(0, 0), (5, 10), (10, 20), (15, 2), (20, 12)]))
    # 10+10 before the reset, 2+10 after: 32 over 20 s sampled, extrapolated to the 20 s window's edges
    assert run("increase(c[20s])", history, 20) == [((("job", "x"),), 32.0)]
    assert run("rate(c[20s])", history, 20) == [((("job", "x"),), 1.6)]
    assert run("resets(c[1m])", history, 20) == [((("job", "x"),), 1.0)]
    assert run("changes(c[1m])", history, 20) == [((("job", "x"),), 4.0)]


def test_a_range_needs_two_samples_and_an_instant_selector_stops_at_staleness():
    history = store(({"__name__": "g"}, [(0, 1.0)]))
    assert run("rate(g[1m])", history, 10) == []
    assert run("g", history, 10) == [((("__name__", "g"),), 1.0)]
    assert run("g", history, 301) == [], "older than the 5 minute lookback"
    history.mark_stale([promql.key({"__name__": "g"})], 20_000)
    assert run("g", history, 25) == []
    assert run("count_over_time(g[1m])", history, 25) == [((), 1.0)], "staleness markers are not samples"


def test_aggregation_keeps_only_the_grouping_labels_and_without_drops_the_named_ones():
    history = store(
        counter("r", 5, service="a", route="/x", team="red"),
        counter("r", 10, service="a", route="/y", team="red"),
        counter("r", 5, service="b", route="/x", team="blue"),
    )
    assert run("sum by (service, namespace) (rate(r[1m]))", history, 300) == [
        ((("service", "a"),), 3.0),
        ((("service", "b"),), 1.0),
    ]
    assert run("max without (route) (rate(r[1m]))", history, 300) == [
        ((("service", "a"), ("team", "red")), 2.0),
        ((("service", "b"), ("team", "blue")), 1.0),
    ]
    assert run("count(rate(r[1m]))", history, 300) == [((), 3.0)]


def test_vector_matching_on_and_ignoring_and_the_set_operators():
    history = store(
        ({"__name__": "err", "svc": "a", "code": "500"}, [(0, 1.0)]),
        ({"__name__": "all", "svc": "a"}, [(0, 4.0)]),
        ({"__name__": "all", "svc": "b"}, [(0, 8.0)]),
    )
    assert run("err / ignoring(code) all", history, 0) == [((("svc", "a"),), 0.25)]
    assert run("err / on(svc) all", history, 0) == [((("svc", "a"),), 0.25)]
    assert run("err / all", history, 0) == [], "code has no partner without on/ignoring"
    assert run("all and on(svc) err", history, 0) == [((("__name__", "all"), ("svc", "a")), 4.0)]
    assert run("all unless on(svc) err", history, 0) == [((("__name__", "all"), ("svc", "b")), 8.0)]
    assert len(run("all or err", history, 0)) == 3
    assert run("all > 5", history, 0) == [((("__name__", "all"), ("svc", "b")), 8.0)], "a filter keeps the name"
    assert run("all > bool 5", history, 0) == [((("svc", "a"),), 0.0), ((("svc", "b"),), 1.0)]
    assert run("10 < all", history, 0) == []
    assert run("-all + 1", history, 0) == [((("svc", "a"),), -3.0), ((("svc", "b"),), -7.0)]


def test_division_by_zero_is_a_number_not_an_exception():
    history = store(({"__name__": "z"}, [(0, 0.0)]), ({"__name__": "o"}, [(0, 1.0)]))
    assert math.isnan(run("z / z", history, 0)[0][1])
    assert run("o / z", history, 0)[0][1] == math.inf
    assert run("(z / z) > 0", history, 0) == [], "NaN compares false, so an idle service does not alert"


def test_histogram_quantile_interpolates_inside_the_bucket():
    buckets = [("0.1", 50), ("0.5", 90), ("1", 100), ("+Inf", 100)]
    history = store(*(({"__name__": "h_bucket", "le": le}, [(0, 0.0), (60, float(n))]) for le, n in buckets))
    value = run("histogram_quantile(0.9, rate(h_bucket[1m]))", history, 60)
    assert value == [((), 0.5)]
    assert run("histogram_quantile(0.95, rate(h_bucket[1m]))", history, 60) == [((), 0.75)]
    assert promql.bucket_quantile(0.5, [(math.inf, 0.0), (1.0, 0.0)]) != promql.bucket_quantile(0.5, [])
    assert math.isnan(promql.bucket_quantile(0.5, [(1.0, 3.0)])), "no +Inf bucket"


def test_deriv_is_the_least_squares_slope_per_second():
    history = store(({"__name__": "m"}, [(t, 1000 + 2.5 * t) for t in range(0, 61, 5)]))
    assert run("deriv(m[1m])", history, 60) == [((), 2.5)]
    flat = store(({"__name__": "m"}, [(0, 7.0), (5, 7.0)]))
    assert run("deriv(m[1m])", flat, 5) == [((), 0.0)]


def test_selectors_report_what_a_scraper_must_keep():
    node = promql.parse('sum(rate(a{x="1"}[5m])) / sum(rate(b[1m])) and c > 0')
    assert [s.name for s in promql.selectors(node)] == ["a", "b", "c"]
    assert promql.longest_range_ms(node) == 300_000
    assert promql.parse_duration("1m30s") == 90_000
