"""The lab daemon's trace store keeps the traces a diagnosis cited readable after newer traces pushed
them out of its newest ones, for as long as their pin lasts, and no more than it may pin."""

from __future__ import annotations

from chaoslab.local.tracestore import TraceStore

T0 = 1_800_000_000.0


def span(trace_id: str, span_id: str = "01") -> dict:
    return {
        "trace_id": trace_id,
        "span_id": span_id,
        "parent_id": None,
        "service": "service-a",
        "name": "POST /checkout",
        "kind": "server",
        "start_ns": int(T0 * 1e9),
        "end_ns": int((T0 + 0.05) * 1e9),
        "status": "unset",
        "status_message": "",
        "attributes": {},
        "open": False,
    }


def test_a_pinned_trace_outlives_the_newest_ones_until_its_pin_ends():
    clock = {"now": T0}
    store = TraceStore(max_traces=3, max_pinned=2, pin_s=60, clock=lambda: clock["now"])
    store.add([span("cited"), span("other")])
    store.pin(["cited"])
    store.add([span(f"newer-{n}") for n in range(5)])
    assert store.recent(1, trace_id="cited"), "a cited trace is readable after newer ones came"
    assert not store.recent(1, trace_id="other"), "an uncited one is not"
    store.add([span("cited", "02")])  # a late span of a kept trace joins it
    assert len(store.recent(1, trace_id="cited")[0]) == 2
    assert store.pinned == 1
    clock["now"] = T0 + 61
    store.add([span("newest")])
    assert not store.recent(1, trace_id="cited") and store.pinned == 0


def test_pins_are_bounded_and_the_oldest_goes_first():
    store = TraceStore(max_traces=1, max_pinned=2, pin_s=600)
    for name in ("first", "second", "third"):
        store.add([span(name)])
        store.pin([name])
    store.add([span("newest")])
    assert [bool(store.recent(1, trace_id=n)) for n in ("first", "second", "third")] == [False, True, True]


def test_a_listed_trace_is_kept_while_listed_and_no_longer():
    """The console lists the slowest and failed calls of five minutes; the newest traces are half a
    minute. What it lists stays openable, and is let go when the graph stops listing it."""
    clock = {"now": T0}
    listed = {"slowest"}
    store = TraceStore(max_traces=2, max_listed=5, clock=lambda: clock["now"], listed=lambda: set(listed))
    store.add([span("slowest"), span("ordinary")])
    store.add([span(f"newer-{n}") for n in range(4)])
    assert store.recent(1, trace_id="slowest"), "a listed trace is readable after newer ones came"
    assert not store.recent(1, trace_id="ordinary"), "an unlisted one is not"
    assert store.kept_listed == 1
    listed.clear()
    clock["now"] = T0 + 6  # the graph is asked again at most every few seconds
    store.add([span("newest")])
    assert not store.recent(1, trace_id="slowest") and store.kept_listed == 0


def test_listed_traces_are_bounded_and_a_pin_outlasts_the_listing():
    clock = {"now": T0}
    listed = {f"slow-{n}" for n in range(4)}
    store = TraceStore(max_traces=1, max_listed=2, pin_s=600, clock=lambda: clock["now"], listed=lambda: set(listed))
    for n in range(4):
        store.add([span(f"slow-{n}")])
    store.add([span("newest")])
    assert [bool(store.recent(1, trace_id=f"slow-{n}")) for n in range(4)] == [False, False, True, True]
    store.pin(["slow-2"])  # a diagnosis cites one the page listed: it is kept for the pin
    listed.clear()
    clock["now"] = T0 + 6
    store.add([span("newer")])
    assert store.recent(1, trace_id="slow-2") and not store.recent(1, trace_id="slow-3")


def test_a_listing_that_fails_costs_no_span():
    def broken():
        raise RuntimeError("the graph is gone")

    store = TraceStore(max_traces=2, listed=broken)
    store.add([span("one")])  # the exporter's batch is taken; the store keeps its last listing (none)
    assert store.recent(1, trace_id="one")
