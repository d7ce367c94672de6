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
