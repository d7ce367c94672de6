"""The diagnosis's pure parts on hand-built spans and metrics: robust baselines, span facts, the
healthy reference, the signature table, the walk through the ring, the ranking and the shadow's
bookkeeping.

``HandLab`` is not a lab: it is a clock the test moves, the diagnosis's real recorder, service graph
and scrape history, fed with spans and /metrics text that the test writes by hand (a trace of the
ring, as the services would export it)."""

from __future__ import annotations

import itertools
import json

import pytest

from chaoslab.chaos.journal import FileStore
from chaoslab.diagnose import report, shadow
from chaoslab.diagnose.evidence import RECENT_S, Evidence, Reading, collect
from chaoslab.diagnose.metrics import ScrapeHistory, increase, rate_series
from chaoslab.diagnose.rank import confidence, diagnose, walk
from chaoslab.diagnose.record import Recorder, summarise
from chaoslab.diagnose.reference import Reference
from chaoslab.diagnose.robust import baseline, quantile, slope
from chaoslab.diagnose.signatures import risky, superseded
from chaoslab.diagnose.spans import CALL, DB, OP, TIMEOUT, facts
from chaoslab.incident import shadow as shadow_record
from chaoslab.incident.record import IncidentLog
from chaoslab.servicegraph import ServiceGraph, from_spans

T0 = 1_800_000_000.0
_ids = itertools.count(1)


# ---- hand-built traces ---------------------------------------------------------------------------
def op(service, name, own_ms, *children, status="unset", code=None):
    return ("op", service, name, own_ms, children, status, code)


def call(target, gap_ms=2.0, answered=True, ms=0.0, status="unset", message=""):
    """A client span into ``target`` (an op); unanswered: no server span, ``ms`` long, failed."""
    return ("call", target, gap_ms, answered, ms, status, message)


def db(store, ms, status="unset"):
    return ("db", store, ms, status)


def _span(trace, service, kind, name, start_s, end_s, parent, status="unset", message="", **attributes):
    return {
        "trace_id": trace,
        "span_id": f"{next(_ids):016x}",
        "parent_id": parent,
        "service": service,
        "name": name,
        "kind": kind,
        "start_ns": int(start_s * 1e9),
        "end_ns": int(end_s * 1e9),
        "status": status,
        "status_message": message,
        "attributes": attributes,
        "open": False,
    }


def render(node, trace, start_s, parent=None, caller=None) -> tuple[list[dict], float]:
    """Spans of ``node`` laid out from ``start_s``: an op spends half its own time before its children
    and half after; children run one after the other."""
    if node[0] == "op":
        _, service, name, own, children, status, code = node
        spans, cursor = [], start_s + own / 2000
        me = _span(trace, service, "server", name, start_s, 0, parent, status)
        if code is not None:
            me["attributes"]["http.response.status_code"] = code
        for child in children:
            found, cursor = render(child, trace, cursor, me["span_id"], service)
            spans += found
        me["end_ns"] = int((cursor + own / 2000) * 1e9)
        return [me, *spans], cursor + own / 2000
    if node[0] == "call":
        _, target, gap, answered, ms, status, message = node
        client = _span(trace, caller, "client", f"call {target[1]}", start_s, 0, parent, status, message)
        client["attributes"]["peer.service"] = target[1]
        if not answered:
            client["end_ns"] = int((start_s + ms / 1000) * 1e9)
            return [client], start_s + ms / 1000
        served, end = render(target, trace, start_s + gap / 2000, client["span_id"])
        client["end_ns"] = int((end + gap / 2000) * 1e9)
        return [client, *served], end + gap / 2000
    _, store, ms, status = node
    system = "postgresql" if store == "postgres" else "redis"
    span = _span(
        trace, caller, "client", "query", start_s, start_s + ms / 1000, parent, status, **{"db.system": system}
    )
    return [span], start_s + ms / 1000


def checkout(c_own=5.0, pay_db=3.0, c_calls=(), b_call=None, pay=None):
    """The ring's checkout: service-a → service-b → service-c, and service-a → payment → its database
    (or ``pay``, payment's op as the test builds it)."""
    c = op("service-c", "/chaoslab.v1.Pricing/Quote", c_own, *c_calls)
    b = op("service-b", "/chaoslab.v1.Inventory/Reserve", 4.0, b_call or call(c))
    pay = pay or op("payment", "POST /charges", 3.0, db("postgres", pay_db))
    failed = {"status": "error", "code": 502} if pay[5] == "error" else {}
    paid = call(pay, status=pay[5])
    return op("service-a", "POST /checkout", 6.0, db("postgres", 3.0), call(b), paid, **failed)


# ---- a hand-fed diagnosis ------------------------------------------------------------------------
class HandLab:
    """A clock moved by hand, the real recorder, service graph and scrape history, and what the test
    writes into them; it is also the diagnosis's ``Inputs``."""

    where = "hand-built spans"

    def __init__(self):
        self.at = T0
        self.recorder = Recorder(clock=self.now)
        self.graph_store = ServiceGraph(pairing_wait_s=0.0, clock=self.now)
        self.metrics = ScrapeHistory(self.scrape, clock=self.now)
        self.cpu_rate = {s: 0.05 for s in ("service-a", "service-b", "service-c", "payment", "worker", "gateway")}
        self.cpu = dict.fromkeys(self.cpu_rate, 1.0)
        self.started = dict.fromkeys(self.cpu_rate, T0 - 3600)
        self.feed: list[dict] = []
        self.drift = 0.0
        self.drift_rate = 0.0
        self.traces = itertools.count(1)
        self.states: dict[str, dict] = {}
        self.alert_list: list[dict] = []
        self.statements = 3  # PostgreSQL statements per checkout
        self.stalled = False  # the worker takes no jobs: they wait on the queue
        self.silent: set[str] = set()  # services whose /metrics do not answer
        self.exposed: dict[str, str] = {}  # more /metrics lines per service
        self.rss = dict.fromkeys(self.cpu_rate, 60.0 * 2**20)
        self.rss_rate = dict.fromkeys(self.cpu_rate, 0.0)  # bytes a second
        self.queue = 0
        self.jobs = 0
        self.served = 0
        self.reference: Reference | None = None
        """The healthy reference as the lab daemon keeps it: judged every frame, whoever asks."""

    def now(self) -> float:
        return self.at

    def scrape(self) -> dict[str, str | None]:
        texts = {
            s: f"process_cpu_seconds_total {self.cpu[s]}\nprocess_start_time_seconds {self.started[s]}\n"
            f"process_resident_memory_bytes {self.rss[s]}\n"
            for s in self.cpu
        }
        texts["payment"] += f"ledger_drift_amount {self.drift}\n"
        texts["worker"] += f'queue_depth {self.queue}\nworker_jobs_processed_total{{outcome="ok"}} {self.jobs}\n'
        texts["service-a"] += (
            f'http_server_db_statements_sum{{route="/checkout"}} {self.served * self.statements}\n'
            f'http_server_db_statements_count{{route="/checkout"}} {self.served}\n'
        )
        for service, lines in self.exposed.items():
            texts[service] += lines
        return {**texts, **dict.fromkeys(self.silent)}

    def run(self, seconds: int, trace, per_second: int = 4) -> None:
        """``seconds`` of traffic: ``per_second`` traces of ``trace`` ending every second."""
        for _ in range(seconds):
            self.at += 1
            for s in self.cpu:
                self.cpu[s] += self.cpu_rate[s]
                self.rss[s] += self.rss_rate[s]
            self.drift += self.drift_rate
            spans = []
            for _ in range(per_second):
                built, end = render(trace, f"t{next(self.traces):06d}", 0.0)
                for span in built:  # shift the trace so that it ends now
                    span["start_ns"] += int((self.at - end) * 1e9)
                    span["end_ns"] += int((self.at - end) * 1e9)
                spans += built
            self.served += per_second
            if self.stalled:
                self.queue += per_second
            else:
                self.jobs += per_second
            self.recorder.add(spans)
            self.graph_store.add(spans)
            if int(self.at) % 5 == 0:
                self.metrics.scrape_once()
                if self.reference is not None:
                    self.reference.update(self)

    # Inputs
    def facts(self, start, end):
        return self.recorder.facts(start, end)

    def frames(self, start, end):
        return self.recorder.frames(start, end)

    def open_calls(self):
        return self.recorder.open_calls()

    def graph(self, window_s):
        return self.graph_store.snapshot(window_s)

    def changes(self, since):
        return [c for c in self.feed if c["ts"] >= since]

    def processes(self):
        return dict(self.states)

    def alerts(self):
        return list(self.alert_list)


@pytest.fixture
def hand():
    lab = HandLab()
    lab.run(120, checkout())  # two healthy minutes: the baseline
    return lab


@pytest.fixture
def kept():
    """A HandLab whose healthy reference is kept up to date as the lab daemon keeps it, after three
    healthy minutes."""
    lab = HandLab()
    lab.reference = Reference()
    lab.run(180, checkout())
    return lab


# ---- robust baselines ----------------------------------------------------------------------------
def test_quantile_interpolates_like_numpy_and_says_none_for_nothing():
    assert quantile([1, 2, 3, 4], 0.5) == 2.5
    assert quantile([10], 0.95) == 10
    assert quantile([], 0.5) is None


def test_a_baseline_is_median_and_iqr_so_one_outlier_barely_moves_it():
    calm = baseline([10, 11, 12, 13, 14])
    spiked = baseline([10, 11, 12, 13, 1000])
    assert (calm.median, calm.iqr) == (12, 2)
    assert (spiked.median, spiked.iqr) == (12, 2)
    assert calm.score(20, floor=1) == 4.0
    assert calm.score(20, floor=8) == 1.0  # a flat baseline does not make a millisecond a catastrophe
    assert baseline([]) is None


def test_slope_is_least_squares_and_needs_three_points():
    assert slope([(0, 0), (1, 2), (2, 4)]) == pytest.approx(2.0)
    assert slope([(0, 0), (1, 2)]) is None


def test_counter_increase_and_rates_count_a_reset_as_a_restart_from_zero():
    assert increase([(0, 5), (5, 10), (10, 3)]) == 8
    assert rate_series([(0, 0), (5, 10), (10, 2)], 5) == [(5, 2.0), (10, 0.4)]


# ---- span facts ----------------------------------------------------------------------------------
def test_own_time_belongs_to_the_element_that_spent_it():
    spans, _ = render(checkout(c_own=300.0), "t1", 0.0)
    by_element = {f.element: f for f in facts(spans)}
    assert by_element[(OP, "service-c", "/chaoslab.v1.Pricing/Quote")].own_ms == pytest.approx(300, abs=1)
    assert by_element[(OP, "service-b", "/chaoslab.v1.Inventory/Reserve")].own_ms == pytest.approx(4, abs=1)
    assert by_element[(CALL, "service-b", "service-c")].own_ms == pytest.approx(2, abs=0.5)  # the gap only
    assert by_element[(OP, "service-a", "POST /checkout")].ms > 300  # it waited, but did not spend it
    assert (DB, "payment", "postgres") in by_element


def test_the_deepest_error_is_the_origin_and_a_call_nobody_answered_is_unanswered():
    c = op("service-c", "Quote", 5.0, status="error")
    b = op("service-b", "Reserve", 4.0, call(c, status="error"), status="error")
    gone = call(op("payment", "POST /charges", 1.0), answered=False, ms=2000, status="error", message="timed out")
    spans, _ = render(op("service-a", "POST /checkout", 5.0, call(b, status="error"), gone, status="error"), "t", 0)
    found = {f.element: f for f in facts(spans)}
    assert found[(OP, "service-c", "Quote")].origin
    assert not found[(OP, "service-b", "Reserve")].origin and not found[(OP, "service-a", "POST /checkout")].origin
    unanswered = found[(CALL, "service-a", "payment")]
    assert unanswered.unanswered and unanswered.failure == TIMEOUT


def test_a_call_back_into_a_service_on_its_own_trace_is_reentrant():
    back = call(op("service-a", "GET /loyalty", 1.0), answered=False, ms=3000, status="error", message="deadline")
    spans, _ = render(checkout(c_calls=(back,)), "t", 0)
    found = {f.element: f for f in facts(spans)}
    assert found[(CALL, "service-c", "service-a")].reentrant
    assert not found[(CALL, "service-b", "service-c")].reentrant


def test_frames_summarise_what_ended_in_them():
    lab = HandLab()
    lab.run(30, checkout())
    frames = lab.recorder.frames(T0, T0 + 30)
    assert len(frames) >= 4
    _, stats = frames[1]
    assert stats[(OP, "service-c", "/chaoslab.v1.Pricing/Quote")].n == 20  # 4 a second for a 5 s frame
    summary = summarise(lab.recorder.facts(T0, T0 + 30))
    assert summary[(CALL, "service-a", "service-b")].unanswered == 0


# ---- the healthy reference ----------------------------------------------------------------------
def test_a_fault_older_than_the_baseline_window_is_still_anomalous(kept):
    """Six minutes into a fault that breaks the checkout SLO, the look-back of five minutes holds only
    the fault: the reference still remembers the lab before it."""
    kept.run(360, checkout(c_own=600.0))
    d = diagnose(kept, 300, kept.reference)
    assert (d.top.service, d.top.kind) == ("service-c", "latency"), report.text(d)
    own = collect(kept, 300, kept.reference).reading((OP, "service-c", "/chaoslab.v1.Pricing/Quote")).measures["own"]
    assert own.anomalous and own.base.median < 10 and own.base.learned
    assert any("is slow" in s and "over the SLOs' 500 ms" in s for s in d.symptom), d.symptom
    status = d.inputs["reference"]
    assert status["paused_since"] is not None and "POST /checkout" in status["why"]
    assert "not learning since" in report.text(d)


def test_without_a_kept_reference_the_window_absorbs_the_fault_it_judges(kept):
    """What the reference prevents: the same fault, judged against the look-back window alone (the
    frames of the fault, which the gate leaves out), has nothing healthy to compare with but the design."""
    kept.run(360, checkout(c_own=600.0))
    assert collect(kept, 300).baseline_frames == 0
    assert collect(kept, 300, kept.reference).baseline_frames >= 30  # the healthy minutes before it


def test_frames_under_a_paging_alert_are_not_learned(kept):
    """A slowness within the SLO, during which the lab's own alert pages: the alert, not the latency,
    keeps those frames out of the reference, and the symptom says what pages."""
    kept.alert_list = [
        {
            "alert": "CheckoutLatencyFastBurn",
            "severity": "P2",
            "state": "firing",
            "labels": {"slo": "checkout-latency"},
            "active_at": kept.at,
            "fired_at": kept.at + 15,
            "resolved_at": None,
            "summary": "14% of checkouts take longer than 500ms over 2m",
        }
    ]
    kept.run(360, checkout(c_own=300.0))
    d = diagnose(kept, 300, kept.reference)
    assert (d.top.service, d.top.kind) == ("service-c", "latency"), report.text(d)
    assert any(s.startswith("alert CheckoutLatencyFastBurn (P2) firing") for s in d.symptom), d.symptom
    assert "CheckoutLatencyFastBurn (P2) active" in d.inputs["reference"]["why"]


def test_a_ticket_alert_is_listed_but_is_not_what_users_feel(kept):
    kept.alert_list = [
        {"alert": "MemoryHigh", "severity": "P3", "state": "firing", "active_at": kept.at, "summary": "210 MB"}
    ]
    kept.run(25, checkout())
    d = diagnose(kept, 300, kept.reference)
    assert d.symptom == [] and d.alerts == ["MemoryHigh (P3): 210 MB"]
    assert "alerts firing: MemoryHigh (P3): 210 MB" in report.text(d)


def test_a_value_that_left_the_norm_is_not_learned_until_it_lasts_long_enough(kept):
    """A CPU hog nobody is paged for: its values stay out of the reference (it is still named five
    minutes on), until it has lasted ``adapt_s``: then it is the new normal."""
    kept.reference.adapt_frames = round(420 / 5)
    kept.cpu_rate["worker"] = 1.0
    kept.run(330, checkout())
    d = diagnose(kept, 300, kept.reference)
    assert (d.top.service, d.top.kind) == ("worker", "cpu_burn"), report.text(d)
    assert "cpu of worker" in d.inputs["reference"]["left_out"]
    kept.run(420, checkout())
    assert diagnose(kept, 300, kept.reference).rank_of("worker", "cpu_burn") is None


def test_a_fresh_labs_warm_up_names_no_cause():
    """No frame taught a baseline yet: statements per request, CPU and memory say nothing (a checkout's
    three statements are not an N+1), and spans are judged against the lab's design."""
    fresh = HandLab()
    fresh.reference = Reference()
    fresh.cpu_rate["service-a"] = 0.4  # busy starting up
    said = []
    for seconds in (10, 10, 10, 10):
        fresh.run(seconds, checkout())
        d = diagnose(fresh, 300, fresh.reference)
        said.append(report.text(d))
        assert d.candidates == [] and d.symptom == [], said[-1]
    assert "healthy reference: none learned yet" in said[0]


def test_a_stopped_datastore_is_cited_from_its_process_state(kept):
    kept.states = {"redis": {"state": "stopped", "restarts": 0}, "postgres": {"state": "ready", "restarts": 0}}
    kept.run(25, checkout())
    d = diagnose(kept, 300, kept.reference)
    assert d.top.kind == "redis_outage" and d.top.service in ("service-a", "worker"), report.text(d)
    assert any("redis itself is stopped" in line for line in d.top.evidence), d.top.evidence
    assert d.rank_of("payment", "db_outage") is None  # only what uses Redis


def test_a_stopped_datastore_explains_its_callers_slower_work(kept):
    """Redis stopped under load: service-a's checkout waits on the calls that fail, and its own time
    grows. The outage explains that slowness (at an outage's onset a CI run named service-a's latency
    over it, and the shadow on-call's answer flipped)."""
    kept.states = {"redis": {"state": "stopped", "restarts": 0}, "postgres": {"state": "ready", "restarts": 0}}
    c = op("service-c", "/chaoslab.v1.Pricing/Quote", 5.0)
    b = op("service-b", "/chaoslab.v1.Inventory/Reserve", 4.0, call(c))
    pay = op("payment", "POST /charges", 3.0, db("postgres", 3.0))
    kept.run(25, op("service-a", "POST /checkout", 400.0, db("postgres", 3.0), call(b), call(pay)))
    d = diagnose(kept, 300, kept.reference)
    assert d.top.kind == "redis_outage", report.text(d)
    assert any("slower at the same time" in line for line in d.top.evidence), d.top.evidence
    latency = d.rank_of("service-a", "latency")
    assert latency is None or latency > 1, report.text(d)


def test_a_stalled_worker_is_on_the_path_of_the_queue_it_backs_up(kept):
    kept.stalled = True
    kept.run(60, checkout())
    d = diagnose(kept, 300, kept.reference)
    assert (d.top.service, d.top.kind) == ("worker", "worker_stall"), report.text(d)
    assert d.top.on_path and any("queue_depth" in s for s in d.symptom)
    assert d.top.confidence >= 0.6


def test_money_going_missing_is_on_the_path_of_its_own_symptom(kept):
    """The silent-corruption drill minutes in: the ledger drifts (a float deploy to payment) while its red
    herrings, a CPU hog on service-c and a slower hop into it, are on the checkout's path. The drift is
    the symptom the deploy explains: that puts payment on the path too."""
    kept.feed = [{"ts": kept.at, "service": "payment", "summary": "money_math=float (faster rounding)"}]
    kept.drift_rate, kept.cpu_rate["service-c"] = 0.01, 0.6
    slower = call(op("service-c", "/chaoslab.v1.Pricing/Quote", 5.0), gap_ms=90)
    kept.run(300, checkout(b_call=slower))
    d = diagnose(kept, 300, kept.reference)
    assert (d.top.service, d.top.kind) == ("payment", "bad_deploy") and d.top.on_path, report.text(d)


def test_calls_into_a_service_that_answers_nothing_are_its_hang_not_a_cut(kept):
    """The gateway hangs until its handlers are all taken: payment's calls get no server span, as in a
    partition, but the gateway answers neither its /metrics nor its readiness: its own failure."""
    hangs = call(op("gateway", "POST /charges", 1.0), answered=False, ms=5000, status="error", message="timed out")
    stuck = op("service-a", "POST /checkout", 6.0, call(op("payment", "POST /charges", 3.0, hangs), status="error"))
    kept.silent, kept.states = {"gateway"}, {"gateway": {"state": "unready", "restarts": 0}}
    kept.run(25, stuck)
    d = diagnose(kept, 300, kept.reference)
    assert (d.top.service, d.top.kind) == ("gateway", "upstream_failure"), report.text(d)
    assert any("answers nothing else either" in line for line in d.top.evidence)
    partition = d.rank_of("payment", "partition")
    assert partition is None or partition > 1


def test_the_slos_are_a_floor_when_the_healthy_past_was_noisy():
    """A reference learned from checkouts whose p95 swung between 80 and 480 ms has a wide spread: 700
    ms is not several spreads above it, but it breaks the checkout SLO, so users feel it."""
    noisy = HandLab()
    noisy.reference = Reference()
    for _ in range(18):
        noisy.run(5, checkout(c_own=60.0))
        noisy.run(5, checkout(c_own=450.0))
    noisy.run(25, checkout(c_own=670.0))
    d = diagnose(noisy, 300, noisy.reference)
    front = collect(noisy, 300, noisy.reference).reading((OP, "service-a", "POST /checkout")).measures["ms"]
    assert not front.anomalous  # within the noise of its past
    assert any("POST /checkout on service-a is slow" in s and "over the SLOs' 500 ms" in s for s in d.symptom)


def test_confidence_says_how_strong_the_evidence_is_not_only_that_it_is_alone():
    assert confidence(1.5, 0.0) < 0.6 < confidence(4.0, 0.0)
    assert confidence(3.0, 3.0) < confidence(3.0, 0.0)
    assert confidence(3.0, 0.0, observed=False) < confidence(3.0, 0.0)
    assert confidence(0.0, 0.0) == 0.0


def test_one_outage_seen_from_each_service_that_uses_it_is_one_explanation(kept):
    """PostgreSQL stopped: db_outage on each of its users is the same answer, not three rivals."""
    kept.states = {"postgres": {"state": "stopped", "restarts": 0}}
    kept.run(25, checkout())
    d = diagnose(kept, 300, kept.reference)
    assert {c.kind for c in d.candidates} == {"db_outage"} and len(d.candidates) == 3, report.text(d)
    assert d.top.confidence >= 0.6


# ---- the walk and the ranking --------------------------------------------------------------------
def test_the_walk_through_a_ring_visits_each_service_once():
    troubled = {}
    for caller, callee in (("service-a", "service-b"), ("service-b", "service-c"), ("service-c", "service-a")):
        element = (CALL, caller, callee)
        troubled[element] = Reading(element, None, 0)
        troubled[element].open = [_waiting(element)]
    ev = Evidence(T0, 300, "ring", troubled, {}, from_spans([], T0).snapshot(60), [], {}, 0, 0, 0)
    elements, services, words = walk(ev)
    assert services == {"service-a", "service-b", "service-c"}
    assert len(words) == 3 and set(elements) == set(troubled)


def _waiting(element):
    from chaoslab.diagnose.spans import OpenCall

    return OpenCall("t", element, age_s=10.0, answered=False, reentrant=False)


def test_a_healthy_lab_has_no_symptom_and_no_cause(hand):
    hand.run(25, checkout())
    spans, _ = render(op("service-a", "orders.recover", 2.0), "quiet", hand.at - 200)
    hand.recorder.add(spans)  # background work the front door did once and not since: no user feels that
    d = diagnose(hand, 300)
    assert d.symptom == [] and d.candidates == []
    assert d.inputs["baseline_frames"] >= 15


def test_latency_inside_one_hop_is_named_on_that_service(hand):
    hand.run(25, checkout(c_own=400.0))
    d = diagnose(hand, 300)
    assert (d.top.service, d.top.kind) == ("service-c", "latency"), report.text(d)
    assert any("is slow" in s for s in d.symptom)
    assert any("not counting its calls" in line for line in d.top.evidence)


def test_the_deadlock_is_the_call_back_into_the_caller(hand):
    back = call(op("service-a", "GET /loyalty", 1.0), answered=False, ms=3000, status="error", message="deadline")
    stuck = checkout(c_calls=(back,))
    hand.run(25, stuck)
    d = diagnose(hand, 300)
    assert (d.top.service, d.top.kind) == ("service-c", "deadlock"), report.text(d)
    assert "re-entered service-a" in d.top.evidence[0]
    assert d.rank_of("service-c", "deadlock") == 1


def test_the_red_herring_cpu_is_named_and_dismissed(hand):
    hand.cpu_rate["worker"] = 1.0
    hand.run(25, checkout(pay_db=260.0))
    d = diagnose(hand, 300)
    assert (d.top.service, d.top.kind) == ("payment", "db_slow"), report.text(d)
    herring = d.rank_of("worker", "cpu_burn")
    assert herring is not None and herring > 1
    assert any("worker's CPU" in r and "red herring" in r for r in d.ruled_out), d.ruled_out


def test_a_cpu_hog_is_named_over_its_own_slower_statements(hand):
    """A busy Python process answers its own database calls late (the interpreter is held): its slower
    statements are the CPU's doing, not the database's (a CI run on a busy host named db_slow)."""
    hand.cpu_rate["payment"] = 0.5
    hand.run(25, checkout(pay_db=60.0))
    d = diagnose(hand, 300)
    assert (d.top.service, d.top.kind) == ("payment", "cpu_burn"), report.text(d)
    assert any("PostgreSQL calls are slower at the same time" in line for line in d.top.evidence), d.top.evidence


def test_a_cut_link_is_a_partition_of_the_caller(hand):
    cut = call(op("service-c", "Quote", 1.0), answered=False, ms=1000, status="error", message="deadline exceeded")
    hand.run(25, checkout(b_call=cut))
    d = diagnose(hand, 300)
    assert (d.top.service, d.top.kind) == ("service-b", "partition"), report.text(d)


def test_memory_climbing_in_a_straight_line_is_a_leak(hand):
    hand.rss_rate["service-b"] = 2.0 * 2**20
    hand.run(60, checkout())  # the slope is the last minute's
    d = diagnose(hand, 300)
    assert (d.top.service, d.top.kind) == ("service-b", "memory_leak"), report.text(d)
    assert "grows 2.0 MiB/s" in d.top.evidence[0]


def test_errors_a_service_starts_itself_are_its_own(hand):
    failing = op("service-c", "/chaoslab.v1.Pricing/Quote", 2.0, status="error")
    broken = op("service-b", "/chaoslab.v1.Inventory/Reserve", 4.0, call(failing, status="error"), status="error")
    hand.run(25, op("service-a", "POST /checkout", 6.0, call(broken, status="error"), status="error", code=502))
    d = diagnose(hand, 300)
    assert (d.top.service, d.top.kind) == ("service-c", "error"), report.text(d)
    assert "the errors start there" in d.top.evidence[0]


def _behind_an_open_breaker(hand, first_calls):
    """Payment's breaker on the gateway opens after ``first_calls`` failed; from then on charges fail
    fast in payment with no call below them, but for the breaker's probe every 10 s (which fails too)."""
    hand.exposed["payment"] = 'circuit_breaker_open{peer="gateway"} 1\n'
    tried = op("payment", "POST /charges", 3.0, first_calls, status="error", code=502)
    fast = op("payment", "POST /charges", 1.0, status="error", code=503)
    hand.run(2, checkout(pay=tried))
    for _ in range(3):
        hand.run(9, checkout(pay=fast))
        hand.run(1, checkout(pay=tried), per_second=1)
    return diagnose(hand, 300)


def test_charges_failing_fast_behind_an_open_breaker_are_the_failures_that_opened_it(hand):
    failed = op("gateway", "POST /v1/charges", 1.0, status="error", code=503)
    d = _behind_an_open_breaker(hand, call(failed, status="error"))
    assert (d.top.service, d.top.kind) == ("gateway", "upstream_failure"), report.text(d)
    assert "circuit breaker on gateway is open" in d.top.evidence[0]


def test_a_breaker_opened_by_a_cut_link_blames_the_link_not_the_peer(hand):
    cut = call(op("gateway", "POST /v1/charges", 1.0), answered=False, ms=1, status="error", message="refused")
    d = _behind_an_open_breaker(hand, cut)
    assert d.top.service == "payment", report.text(d)
    assert d.rank_of("gateway", "upstream_failure") is None, report.text(d)


def test_a_restart_with_refused_calls_is_a_crash(hand):
    hand.started["payment"] = hand.at + 10
    gone = call(op("payment", "x", 1.0), answered=False, ms=1, status="error", message="connection refused")
    refused = op("service-a", "POST /checkout", 6.0, gone, status="error", code=502)
    hand.run(25, refused)
    d = diagnose(hand, 300)
    assert (d.top.service, d.top.kind) == ("payment", "crash"), report.text(d)


def test_a_restart_that_is_over_does_not_outrank_the_fault_of_now(hand):
    hand.started["service-b"] = hand.at + 3  # restarted, and up again: its calls are answered
    hand.run(40, checkout())
    hand.run(25, checkout(b_call=call(op("service-c", "/chaoslab.v1.Pricing/Quote", 5.0), gap_ms=400)))
    d = diagnose(hand, 300)
    assert (d.top.service, d.top.kind) == ("service-b", "latency"), report.text(d)
    crash = next(c for c in d.candidates if c.kind == "crash")
    assert any("up again" in line for line in crash.evidence)


def test_a_growing_ledger_gap_is_a_bad_deploy_and_a_standing_one_is_money_lost_earlier(hand):
    hand.drift_rate = 0.01
    hand.run(25, checkout())
    d = diagnose(hand, 300)
    assert (d.top.service, d.top.kind) == ("payment", "bad_deploy") and "gap grows" in d.top.evidence[0]
    hand.drift_rate = 0.0
    hand.run(70, checkout(c_own=400.0))  # a minute later the gap stands still, and a new fault is on
    d = diagnose(hand, 300)
    assert (d.top.service, d.top.kind) == ("service-c", "latency"), report.text(d)
    assert any("lost earlier" in line for c in d.candidates for line in c.evidence)


def test_a_risky_deploy_is_read_from_the_change_feed_summary():
    assert risky({"summary": "deploy service-c: loyalty_lookup=sync"}) == [
        "loyalty_lookup=sync: a synchronous call back into the caller: a cycle"
    ]
    assert risky({"summary": "payment_timeout_s=0 (faster checkout)"})
    assert risky({"summary": "loyalty_lookup=async"}) == []


def test_a_rolled_back_deploy_explains_nothing_any_more(hand):
    hand.feed = [
        {"ts": hand.at - 60, "service": "service-a", "summary": "orders_query=n_plus_one (ORD-207)"},
        {"ts": hand.at - 50, "service": "service-a", "summary": "orders_query=batched (rollback)"},
    ]
    assert superseded(hand.feed[0], hand.feed) and not superseded(hand.feed[1], hand.feed)
    hand.run(25, checkout())
    assert diagnose(hand, 300).candidates == []
    hand.feed.pop()  # still running: a risky deploy with nothing else to explain is the candidate left
    fresh = diagnose(hand, 300).candidates
    assert [(c.service, c.kind) for c in fresh] == [("service-a", "bad_deploy")]
    assert fresh[0].confidence < 0.6  # a risky setting with nothing to show for it is weak evidence
    hand.feed[0]["ts"] = hand.at - 400  # and, with nothing to show for it since, it says less as it ages
    assert diagnose(hand, 600).candidates[0].score < fresh[0].score * 0.5


def test_a_lab_reset_supersedes_every_deploy_before_it_on_that_service(hand):
    """A reset's line names no setting (the agent moves them all back at once)."""
    bad = {"ts": hand.at - 60, "service": "service-a", "summary": "orders_query=n_plus_one (ORD-207)"}
    reset = {"ts": hand.at - 50, "service": "service-a", "summary": "rollback to the baseline configuration"}
    elsewhere = {**reset, "service": "payment"}
    assert not superseded(bad, [bad, elsewhere])
    assert superseded(bad, [bad, reset])
    hand.feed = [bad, reset]
    hand.run(25, checkout())
    assert diagnose(hand, 300).candidates == []


def test_the_prompt_carries_evidence_but_no_ranking(hand):
    hand.run(25, checkout(c_own=400.0))
    d = diagnose(hand, 300)
    prompt = report.prompt(d)
    assert "ROOT CAUSE: <service> <kind>" in prompt and "deadlock:" in prompt
    assert d.top.evidence[0] in prompt
    assert "confidence" not in prompt


def test_the_recent_window_is_what_is_judged(hand):
    hand.run(25, checkout(c_own=400.0))
    ev = collect(hand, 300)
    settled = RECENT_S - hand.recorder.settle_s  # a span becomes a fact once its children may have arrived
    assert ev.facts == pytest.approx(settled * 4 * 9, abs=36)  # 4 traces a second, 9 spans each


# ---- the shadow's bookkeeping --------------------------------------------------------------------
class _Said:
    """A diagnosis with a fixed top answer (for the shadow's bookkeeping only)."""

    def __init__(self, service, kind):
        from chaoslab.diagnose.rank import Candidate

        self.top = Candidate(service, kind, 3.0, 0.6, [f"{kind} evidence"], [f"trace-of-{kind}"])


def test_the_shadow_counts_an_answer_held_for_two_looks_dated_at_the_first(tmp_path):
    """What a trainee asking `chaoslab diagnose` was shown: the same look-back, and an answer that stood
    for two looks in a row (a one-look flicker is not credited)."""
    from chaoslab.diagnose import DEFAULT_SINCE_S

    store = FileStore(tmp_path)
    said = {"now": _Said("service-b", "latency")}
    clock = {"now": T0}
    asked, pinned = [], []

    def look(since):
        asked.append(since)
        return said["now"]

    on_call = shadow.ShadowOnCall(store, look, clock=lambda: clock["now"], pin=pinned.extend)
    assert on_call.tick() is None  # no incident: nothing to do
    incidents = IncidentLog(store, "alice")
    incident = incidents.declare("checkout is slow", "P2", "alerting", ts=T0)
    assert on_call.tick() is None  # one look is not an answer yet
    clock["now"] = T0 + 5
    first = on_call.tick()
    assert (first["service"], first["kind"], first["incident"]) == ("service-b", "latency", incident.id)
    assert (first["ts"], first["held_at"], first["since_s"]) == (T0, T0 + 5, DEFAULT_SINCE_S)
    assert set(asked) == {DEFAULT_SINCE_S} and pinned == ["trace-of-latency"]
    clock["now"] = T0 + 10
    assert on_call.tick() is None  # the same answer again is not news
    said["now"], clock["now"] = _Said("service-c", "deadlock"), T0 + 15
    assert on_call.tick() is None  # a flicker: one look, then gone
    said["now"], clock["now"] = _Said("service-b", "latency"), T0 + 20
    assert on_call.tick() is None
    said["now"] = _Said("service-c", "deadlock")
    for clock["now"] in (T0 + 41, T0 + 46):
        held = on_call.tick()
    assert held["kind"] == "deadlock" and held["ts"] == T0 + 41
    given = shadow_record.answers(store, incident.id)
    assert [(a["kind"], a["ts"]) for a in given] == [("latency", T0), ("deadlock", T0 + 41)]
    assert "shadow" not in store.read("incidents.jsonl")  # its answers stay off the team's board

    right = lambda service, kind: (service, kind) == ("service-c", "deadlock")  # noqa: E731
    written = shadow_record.publish(incidents, incidents.get(incident.id), given, right)
    assert written["ts"] == T0 + 41 and written["source"] == shadow_record.SOURCE
    assert shadow_record.publish(incidents, incidents.get(incident.id), given, right) is None  # once
    entries = [json.loads(line) for line in store.read("incidents.jsonl").splitlines()]
    assert sum(e.get("source") == "shadow" for e in entries) == 1


# ---- bad input -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["--since", "2h"], "--since 2h: from 30s to 15m"),
        (["--since", "soon"], "soon"),
        (["--json", "--prompt"], "give one of them"),
        (["--ask", ""], "--ask needs a command"),
        (["--ask", "'unbalanced"], "quote it as one argument"),
        (["--ask", "no-such-assistant-here"], "is not a command on PATH"),
    ],
)
def test_bad_input_is_one_line_and_exit_2_before_any_lab_is_needed(tmp_path, args, said):
    from click.testing import CliRunner

    from chaoslab.cli import cli

    result = CliRunner().invoke(cli, ["--state-dir", str(tmp_path), "diagnose", *args])
    assert result.exit_code == 2, result.output
    assert said in result.output and len(result.output.strip().splitlines()) == 1, result.output
