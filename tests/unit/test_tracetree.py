from chaoslab.tracetree import render


def span(span_id, parent, service, name, start, end, status="unset", message=""):
    return {
        "trace_id": "ab" * 16,
        "span_id": span_id,
        "parent_id": parent,
        "service": service,
        "name": name,
        "kind": "server",
        "start_ns": start,
        "end_ns": end,
        "status": status,
        "status_message": message,
        "attributes": {},
    }


def test_tree_nests_children_under_parents_and_reports_errors():
    spans = [
        span("01", None, "service-a", "POST /checkout", 0, 100_000_000),
        span("02", "01", "service-a", "postgres SELECT", 1_000_000, 2_000_000),
        span("03", "01", "service-b", "/chaoslab.v1.Inventory/Reserve", 3_000_000, 50_000_000, "error", "boom"),
        span("04", "03", "service-c", "/chaoslab.v1.Pricing/Quote", 4_000_000, 40_000_000),
    ]
    text = render(spans)
    lines = text.splitlines()
    assert lines[0].startswith("trace " + "ab" * 16 + "  POST /checkout  100.0 ms  1 error  (4 spans:")
    assert lines[1] == "└─ service-a  POST /checkout  100.0 ms"
    assert lines[2] == "   ├─ service-a  postgres SELECT  1.0 ms"
    assert lines[3] == "   └─ service-b  /chaoslab.v1.Inventory/Reserve  47.0 ms  ERROR: boom"
    assert lines[4] == "      └─ service-c  /chaoslab.v1.Pricing/Quote  36.0 ms"
    assert "postgres" not in render(spans, show_db=False)


def test_orphans_whose_parent_has_not_arrived_are_shown_as_roots():
    text = render([span("05", "ff", "worker", "orders.paid process", 0, 1_000_000)])
    assert "└─ worker  orders.paid process  1.0 ms" in text
