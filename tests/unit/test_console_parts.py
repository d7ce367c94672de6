"""The console's pieces without a browser: what a trainee may read, business figures from real
Prometheus expositions, the waterfall and the graph's SVG from span dicts (the browser tests are in
tests/integration/test_console.py)."""

from __future__ import annotations

import re

import pytest
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from chaoslab.console.business import MetricsHistory, figures, flatten, histogram_quantile
from chaoslab.console.layout import Layout
from chaoslab.console.panel import Context
from chaoslab.console.panels import panels
from chaoslab.console.panels.graph import svg
from chaoslab.console.traces import waterfall
from chaoslab.incident.mystery import redact, secret_words
from chaoslab.local.console import LocalSource
from chaoslab.local.statedir import StateDir
from chaoslab.local.tracestore import TraceStore
from chaoslab.servicegraph import from_spans

T0 = 1_800_000_000.0


def test_redact_hides_what_names_a_drill_and_no_plain_word():
    assert redact("loyalty_lookup=sync (config change (deadlock))") == "loyalty_lookup=sync (config change (…))"
    assert redact("fix async-lookup for latency-500ms") == "fix … for …"
    assert redact("verify of latency-500ms and bad_deploy") == "verify of … and …"
    assert redact("orders_query=n_plus_one on service-a") == "orders_query=n_plus_one on service-a"
    assert (
        redact("checkout error rate up; latency high; a deadlock?")
        == "checkout error rate up; latency high; a deadlock?"
    )
    assert {"latency-500ms", "db_outage", "fp-drift"} <= secret_words() and not {"error", "deadlock"} & secret_words()


class Shop:
    """The business metrics as the services define them, in a registry of their own."""

    def __init__(self):
        self.registry = CollectorRegistry()
        self.checkouts = Counter("checkouts", "", ["outcome"], registry=self.registry)
        self.duration = Histogram(
            "http_server_request_duration_seconds", "", ["method", "route"], registry=self.registry
        )
        self.statements = Histogram("http_server_db_statements", "", ["route"], registry=self.registry)
        self.drift = Gauge("ledger_drift_amount", "", ["currency"], registry=self.registry)
        self.queue = Gauge("queue_depth", "", registry=self.registry)

    def scrape(self) -> dict[str, float]:
        return flatten(generate_latest(self.registry).decode())


def test_figures_between_two_scrapes_are_what_happened_in_between():
    shop = Shop()
    shop.checkouts.labels("paid").inc(5)
    shop.duration.labels("POST", "/checkout").observe(0.04)
    shop.statements.labels("/orders").observe(2)
    before = shop.scrape()
    shop.checkouts.labels("paid").inc(9)
    shop.checkouts.labels("failed").inc(1)
    for _ in range(19):
        shop.duration.labels("POST", "/checkout").observe(0.04)
    shop.duration.labels("POST", "/checkout").observe(4.0)
    shop.duration.labels("GET", "/products").observe(9.0)  # another route: not checkout's p95
    for _ in range(4):
        shop.statements.labels("/orders").observe(21)
    shop.drift.labels("USD").set(0.03)
    shop.queue.set(7)
    result = figures(before, shop.scrape())
    assert result.checkouts == 10 and result.checkout_success == pytest.approx(0.9)
    assert result.checkout_p95_ms == pytest.approx(50, abs=5)
    assert result.statements_per_request == {"/orders": 21.0}
    assert result.ledger_drift == pytest.approx(0.03) and result.queue_depth == 7


def test_a_silent_service_s_tiles_show_what_still_measures_its_journey_and_say_so():
    """Before, the tiles went to "–" in the deadlock and upstream-failure, the moment the room needs them:
    service-a silent, checkouts come from the prober's checkout probes; payment silent, from service-a's
    calls to payment."""
    prober = 'probe_success{journey="checkout"} %s\nprobe_duration_seconds{journey="checkout"} %s\n'
    calls = 'outbound_requests_total{peer="payment",operation="charge",outcome="%s",service="service-a"} %s\n'
    history = MetricsHistory(every_s=5, clock=lambda: now[0])
    now = [T0]
    answers = [
        {"service-a": calls % ("ok", 10), "prober": prober % (1, 0.05)},  # both answer; payment is silent
        {"service-a": None, "prober": prober % (0, 3.0)},  # service-a hangs: the door's probes fail
        {"service-a": None, "prober": prober % (0, 3.0)},
        {"service-a": (calls % ("ok", 12)) + (calls % ("timeout", 6)), "prober": prober % (1, 0.06)},
    ]
    for step, scraped in enumerate(answers):
        now[0] = T0 + 5 * step
        history.refresh(lambda scraped=scraped: {"payment": None, **scraped})
    overall, series, silent = history.window(60)
    assert overall.checkout_success == pytest.approx(1 / 3) and overall.checkout_p95_ms == 3000.0
    assert overall.payment_success == pytest.approx(2 / 8)  # 2 ok of the 8 calls made in the window
    assert overall.measured_by == {
        "checkout_success": "the prober's checkouts",
        "checkout_p95_ms": "the prober's checkouts",
        "payment_success": "service-a's calls to payment",
    }
    assert series[0][1].checkout_success == 0.0 and silent == {"payment"}  # the prober is nobody's silence


def test_a_silent_service_s_levels_show_its_last_answer_and_a_standstill_says_none_happened():
    """service-a silent in the deadlock: its outbox backlog is its last answer, with when; payment
    answers but charged nothing: the tile says "no charges", not "–"."""
    from chaoslab.console.panels.business import _shown

    history = MetricsHistory(every_s=5, clock=lambda: now[0])
    now = [T0]
    paid = 'payment_processed_total{status="succeeded"} 40\n'
    answers = [
        {"service-a": "outbox_backlog 7\n", "payment": paid},
        {"service-a": None, "payment": paid},
        {"service-a": None, "payment": paid},
    ]
    for step, scraped in enumerate(answers):
        now[0] = T0 + 5 * step
        history.refresh(lambda scraped=scraped: scraped)
    overall, _, silent = history.window(60)
    assert silent == {"service-a"} and overall.outbox_backlog == 7.0
    assert overall.measured_by["outbox_backlog"].startswith("its last answer, at ")
    assert overall.payments == 0 and _shown("payment_success", overall.payment_success, overall) == "no charges"
    assert _shown("checkout_success", None, overall) == "–", "nobody counted checkouts: no figure at all"

    failed = 'payment_processed_total{status="succeeded"} 50\npayment_processed_total{status="failed"} 30\n'
    for step, scraped in enumerate([{"payment": failed}, {"payment": None}, {"payment": None}], start=3):
        now[0] = T0 + 5 * step
        history.refresh(lambda scraped=scraped: {"service-a": None, **scraped})
    overall, _, silent = history.window(60)
    assert silent == {"service-a", "payment"}, "both hang: payment success is its last answer"
    assert (
        overall.payment_success == pytest.approx(10 / 40)
        and "its last answer" in overall.measured_by["payment_success"]
    )


def test_a_counter_that_restarts_counts_from_zero():
    assert figures({"checkouts:paid": 50.0}, {"checkouts:paid": 3.0}).checkouts == 3


def test_histogram_quantile_interpolates_like_promql():
    assert histogram_quantile(0.5, {0.1: 50.0, 0.2: 100.0, float("inf"): 100.0}) == pytest.approx(0.1)
    assert histogram_quantile(0.95, {0.1: 0.0, 0.2: 100.0, float("inf"): 100.0}) == pytest.approx(0.195)
    assert histogram_quantile(0.95, {0.1: 0.0, float("inf"): 0.0}) is None


def test_history_scrapes_at_most_every_interval_and_names_silent_services():
    now = [T0]
    shop = Shop()
    calls = []

    def scrape():
        calls.append(now[0])
        shop.checkouts.labels("paid").inc()
        return {"service-a": generate_latest(shop.registry).decode(), "worker": None}

    history = MetricsHistory(every_s=5, clock=lambda: now[0])
    for step in range(12):
        now[0] = T0 + step
        history.refresh(scrape)
    assert len(calls) == 3  # at 0, 5 and 10 s
    overall, series, silent = history.window(60)
    assert overall.checkouts == 2 and len(series) == 2 and silent == {"worker"}


def span(service, name, start_ms, ms, parent=None, **extra):
    return {
        "trace_id": "ab" * 16,
        "span_id": f"{abs(hash((service, name, start_ms))) % 10**15:016x}",
        "parent_id": parent,
        "service": service,
        "name": name,
        "kind": extra.pop("kind", "server"),
        "start_ns": int(T0 * 1e9 + start_ms * 1e6),
        "end_ns": int(T0 * 1e9 + (start_ms + ms) * 1e6),
        "status": extra.pop("status", "unset"),
        "status_message": extra.pop("status_message", ""),
        "attributes": extra.pop("attributes", {}),
        "open": extra.pop("open", False),
    }


def test_a_waterfall_marks_the_open_root_and_escapes_what_spans_carry():
    root = span("service-a", "POST /checkout", 0, 6000, open=True)
    call = span(
        "service-a",
        "<b>Reserve</b>",
        5,
        5000,
        parent=root["span_id"],
        kind="client",
        status="error",
        status_message="Deadline <Exceeded>",
        attributes={"url.full": "http://x/<script>alert(1)</script>"},
    )
    html = str(waterfall("ab" * 16, [root, call]))
    assert 'class="span root open"' in html and "root still open" in html and "still open" in html
    assert "<script>" not in html and "&lt;script&gt;" in html and "&lt;b&gt;Reserve" in html
    assert 'class="span error"' in html and "Deadline &lt;Exceeded&gt;" in html


def test_a_missing_trace_says_it_is_no_longer_kept():
    assert "no longer kept" in str(waterfall("cd" * 16, None))


def local_source(tmp_path, graph) -> LocalSource:
    return LocalSource(StateDir.at(tmp_path), TraceStore(), graph, lambda: [{"name": "payment", "state": "ready"}])


def test_the_graph_svg_draws_every_node_and_escapes_peer_names(tmp_path):
    weird = span("payment", "call", 0, 20, kind="client", attributes={"peer.service": '"><script>x</script>'})
    graph = from_spans([weird], now=T0 + 5)
    ctx = Context(local_source(tmp_path, graph), 60, False, MetricsHistory(), Layout())
    drawn = str(svg(graph.snapshot(60), ctx, {}))
    assert "<script>" not in drawn and "&lt;script&gt;" in drawn
    for name in ("client", "service-a", "service-b", "service-c", "payment", "gateway", "worker", "postgres", "redis"):
        assert f'data-node="{name}"' in drawn


def test_trainees_never_get_the_instructors_panel(tmp_path):
    ids = {p.id for p in panels() if p.visible_to(False)}
    assert "instructor" not in ids and {"graph", "business", "changes"} <= ids
    assert "instructor" in {p.id for p in panels() if p.visible_to(True)}


def test_unknown_nodes_get_a_spot_of_their_own_and_keep_it():
    layout = Layout()
    first, second = layout.place("ledger-api"), layout.place("fraud-check")
    assert first != second and layout.place("ledger-api") == first
    assert layout.place("service-a") != first


def test_a_panel_that_fails_says_so_and_escapes_the_reason(tmp_path):
    from chaoslab.console.panel import Panel
    from chaoslab.console.web import render

    def broken(ctx):
        raise ValueError("<no> journal")

    html = str(render(Panel("broken", "Broken", broken), None))
    assert "This panel failed: ValueError: &lt;no&gt; journal" in html


# ---- the incident and the drill, as a trainee reads them -------------------------------------------
def incident_page(tmp_path) -> str:
    from chaoslab.console.web import render

    ctx = Context(local_source(tmp_path, from_spans([], now=T0)), 60, False, MetricsHistory(), Layout())
    return "".join(str(render(p, ctx)) for p in panels() if p.id in ("incident", "drill"))


def test_without_an_incident_the_panels_say_how_to_open_one(tmp_path):
    html = incident_page(tmp_path)
    assert "incident open TITLE" in html and "a P1 or P2 page opens one" in html
    assert "Which alert fired?" in html


def test_the_incident_panel_shows_the_record_escaped_with_its_overdue_update_and_graded_answers(tmp_path):
    import time

    from drillkit import play

    from chaoslab.chaos.journal import FileStore
    from chaoslab.incident.record import IncidentLog

    store = FileStore(StateDir.at(tmp_path).root)
    log = IncidentLog(store, "ana")
    found = log.declare("<b>checkout</b> is slow", "P2", "user-report", ts=time.time() - 3600)
    log.write(found, "note", "deadlock on service-c?")
    for question, given, correct in (("what", "CheckoutLatency", True), ("owner", "payments", False)):
        log.write(
            found,
            "triage_answer",
            f"{question.upper()}: {given}",
            {"question": question, "given": given, "correct": correct},
        )
    html = incident_page(tmp_path)
    assert "&lt;b&gt;checkout&lt;/b&gt; is slow" in html and "<b>checkout" not in html
    assert "deadlock on service-c?" in html, "outside a mystery the team's notes are shown as written"
    assert "Status update overdue since" in html, "a P2 wants a status update every 30 min"
    assert re.search(r'data-question="what">.*CheckoutLatency.*class="grade right"', html)
    assert re.search(r'data-question="owner">.*payments.*class="grade wrong"', html)
    assert "1/2 right for INC-1" in html

    play(store, "deadlock", time.time(), 600, mystery=True)
    log.write(found, "note", "verify of fix async-lookup for latency-500ms passed", source="lab")
    html = incident_page(tmp_path)
    assert "deadlock on service-c?" in html, "the team's own words are never rewritten"
    assert "verify of fix … for … passed" in html and "latency-500ms" not in html, "what the lab wrote is"


def test_the_incident_panel_shows_the_roles_and_the_team_s_open_action_items(tmp_path):
    from chaoslab.chaos.journal import FileStore
    from chaoslab.incident.actions import Actions
    from chaoslab.incident.record import IncidentLog

    store = FileStore(StateDir.at(tmp_path).root)
    log = IncidentLog(store, "ana")
    found = log.declare("checkout is slow", "P2", "user-report")
    log.write(found, "role", "bo is scribe", {"role": "scribe", "name": "bo"})
    actions = Actions(store, "ana")
    done = actions.add("alert on the outbox", "ana", kind="detect", incident="INC-1")
    actions.add("<i>load-test</i> the pricing cache", "bo", due="2026-12-31", kind="prevent", incident="INC-1")
    actions.done(done.id)
    html = incident_page(tmp_path)
    assert "roles: scribe bo" in html
    assert "Open action items: 1" in html and "&lt;i&gt;load-test&lt;/i&gt; the pricing cache" in html
    assert "(bo, due 2026-12-31)" in html and "alert on the outbox" not in html  # done: off the list


def test_the_alerts_panel_names_each_alert_with_its_tier_firing_first(tmp_path):
    from chaoslab.console.panels.alerts import render

    document = {
        "alerts": [
            {"alert": "CheckoutLatencySlowBurn", "severity": "P3", "state": "pending", "summary": "slow"},
            {"alert": "<CheckoutAvailability>", "severity": "P1", "state": "firing", "summary": "5xx"},
            {"alert": "RedisErrors", "severity": "P2", "state": "resolved", "summary": "gone"},
        ]
    }
    source = LocalSource(StateDir.at(tmp_path), TraceStore(), from_spans([], now=T0), list, alerts=lambda: document)
    html = str(render(Context(source, 60, False, MetricsHistory(), Layout())))
    assert html.index("&lt;CheckoutAvailability&gt;") < html.index("CheckoutLatencySlowBurn")
    assert "<b>P1</b>" in html and "RedisErrors" not in html


def test_redaction_leaves_a_team_s_own_deploy_note_in_the_change_feed_alone():
    """The change feed mixes the controller's notes with the team's: only the controller's shapes go."""
    assert redact("money_math=decimal (fix rounding for now)") == "money_math=decimal (fix rounding for now)"
    assert redact("loyalty_lookup=async (fix async-lookup for deadlock)") == "loyalty_lookup=async (fix … for …)"
