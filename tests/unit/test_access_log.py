"""The access log is written off the request thread, line for line as the JSON formatter would."""

from __future__ import annotations

import io
import json
import logging

from chaoslab.telemetry.logs import AccessLog, JsonFormatter


def test_access_lines_match_the_formatter_and_drain_writes_them_all():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter("service-a", "red"))
    access = AccessLog("service-a", "red", handler)
    for n in range(50):
        access.record("GET", f"/orders/{n}", "/orders/<int:order_id>", 200, 1.5)
    access.drain()
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert len(lines) == 50
    record = logging.LogRecord("chaoslab.http", logging.INFO, "", 0, "%s %s %s", ("GET", "/orders/0", 200), None)
    record.fields = {
        "http.method": "GET",
        "http.route": "/orders/<int:order_id>",
        "http.status": 200,
        "duration_ms": 1.5,
    }
    expected = json.loads(JsonFormatter("service-a", "red").format(record))
    assert list(lines[0]) == list(expected)
    assert {k: v for k, v in lines[0].items() if k != "ts"} == {k: v for k, v in expected.items() if k != "ts"}
