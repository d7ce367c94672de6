"""A checkout through the running lab, end to end: order, stock, price, charge, ledger, fulfilment, trace."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest
import requests

from support import checkout, poll_until

RING = {"service-a", "service-b", "service-c", "payment", "gateway", "worker"}
JSON = {"Content-Type": "application/json"}


def order_status(lab, order_id: int) -> str:
    return requests.get(f"{lab.url('service-a')}/orders/{order_id}", timeout=5).json()["status"]


def test_checkout_goes_around_the_ring_and_is_one_trace(lab):
    response = checkout(
        lab.url("service-a"),
        customer_id=8,
        items=[{"sku": "SKU-1001", "quantity": 2}, {"sku": "SKU-1005", "quantity": 3}],
        key="ring-1",
    )
    assert response.status_code == 201, response.text
    order = response.json()
    assert order["status"] == "paid"
    assert order["subtotal"] == "40.85"  # 2 × 19.99 + 3 × 0.29, priced by service-c
    assert order["items"][0]["line_total"] == "39.98"
    poll_until(lambda: order_status(lab, order["id"]) == "fulfilled", "the worker to fulfil the order")

    with psycopg.connect(lab.database_url) as conn:
        ledger = conn.execute(
            "SELECT amount, requested_amount FROM ledger.entries WHERE order_id = %s", (order["id"],)
        ).fetchall()
        fulfilments = conn.execute(
            "SELECT count(*) FROM shop.fulfilments WHERE order_id = %s", (order["id"],)
        ).fetchone()[0]
    assert [(str(a), str(r)) for a, r in ledger] == [(order["total"], order["total"])]
    assert fulfilments == 1

    trace_id = response.headers["X-Trace-Id"]

    def services_in_trace():
        found = json.loads(lab.cli("traces", "--trace", trace_id, "--json").stdout)
        return {span["service"] for span in found[0]} if found else set()

    poll_until(lambda: services_in_trace() >= RING, f"trace {trace_id} to hold spans of {sorted(RING)}")
    tree = lab.cli("traces", "--trace", trace_id).stdout
    assert "└─ service-a  POST /checkout" in tree
    assert "service-c  /chaoslab.v1.Pricing/Quote" in tree
    assert "worker  orders.paid process" in tree


def test_retry_with_the_same_idempotency_key_returns_the_same_order_and_charges_once(lab):
    first = checkout(lab.url("service-a"), customer_id=5, key="retry-1")
    second = checkout(lab.url("service-a"), customer_id=5, key="retry-1")
    assert first.status_code == 201 and second.status_code == 200
    assert second.headers["Idempotent-Replayed"] == "true"
    assert first.json()["id"] == second.json()["id"]
    with psycopg.connect(lab.database_url) as conn:
        entries = conn.execute(
            "SELECT count(*) FROM ledger.entries WHERE order_id = %s", (first.json()["id"],)
        ).fetchone()[0]
    assert entries == 1


def test_concurrent_retries_of_one_checkout_charge_once(lab):
    with ThreadPoolExecutor(6) as pool:
        responses = list(pool.map(lambda _: checkout(lab.url("service-a"), customer_id=6, key="storm-1"), range(6)))
    codes = sorted(r.status_code for r in responses)
    assert codes.count(201) == 1 and set(codes) <= {200, 201, 409}, [r.text for r in responses]
    ids = {r.json().get("id") or r.json().get("order_id") for r in responses}
    assert len(ids) == 1, [r.text for r in responses]
    with psycopg.connect(lab.database_url) as conn:
        entries = conn.execute("SELECT count(*) FROM ledger.entries WHERE order_id = %s", (ids.pop(),)).fetchone()[0]
    assert entries == 1


def test_reusing_a_key_for_a_different_checkout_is_refused(lab):
    assert checkout(lab.url("service-a"), customer_id=2, key="reuse-1").status_code == 201
    other = checkout(lab.url("service-a"), customer_id=2, key="reuse-1", items=[{"sku": "SKU-1002", "quantity": 1}])
    assert other.status_code == 422
    assert other.json()["error"] == "idempotency_key_reused"


@pytest.mark.parametrize(
    "data,headers,status,message",
    [
        ("{bad json", {"Content-Type": "application/json"}, 400, "not valid JSON"),
        ("[1, 2]", {"Content-Type": "application/json"}, 400, "must be a JSON object"),
        ("customer_id=1", {"Content-Type": "application/x-www-form-urlencoded"}, 415, "Content-Type: application/json"),
        ('{"customer_id": 1, "items": [{"sku": "SKU-1001", "quantity": 1}]}', {}, 415, "application/json"),
        (
            '{"customer_id": 1, "items": [{"sku": "SKU-9999", "quantity": 1}]}',
            {"Content-Type": "application/json"},
            422,
            "unknown product SKU-9999",
        ),
        (
            '{"customer_id": 1, "items": [{"sku": "SKU-1001", "quantity": -3}]}',
            {"Content-Type": "application/json"},
            400,
            "quantity must be an integer between 1 and 1000",
        ),
        (
            '{"customer_id": 424242, "items": [{"sku": "SKU-1001", "quantity": 1}]}',
            {"Content-Type": "application/json"},
            422,
            "no customer 424242",
        ),
        (
            '{"customer_id": 1, "items": [], "pad": "' + "x" * 20000 + '"}',
            {"Content-Type": "application/json"},
            413,
            "larger than 16384 bytes",
        ),
        (
            '{"customer_id": 1, "items": [{"sku": "SKU-1001", "quantity": 1}]}',
            {"Content-Type": "application/json", "Idempotency-Key": "has spaces in it"},
            400,
            "Idempotency-Key",
        ),
        # hostile input is a clear 400, never a 500
        ('{"customer_id": 1, "items": ' + "[" * 1000 + "]" * 1000 + "}", JSON, 400, "nested more than 32"),
        ('{"customer_id": 1, "customer_id": 2, "items": [{"sku": "SKU-1001", "quantity": 1}]}', JSON, 400, "duplicate"),
        ('{"customer_id": "²", "items": [{"sku": "SKU-1001", "quantity": 1}]}', JSON, 400, "customer_id must be"),
        ('{"customer_id": "1", "items": [{"sku": "SKU-1001", "quantity": 1}]}', JSON, 400, "not a string"),
        ('{"customer_id": 1, "items": [{"sku": "SKU-1001", "quantity": "①"}]}', JSON, 400, "quantity must be"),
        ('{"customer_id": 1, "items": [{"sku": "' + "S" * 65 + '", "quantity": 1}]}', JSON, 400, "sku must be 1-64"),
        ('{"customer_id": 1, "items": [{"sku": "SKU\\u0000", "quantity": 1}]}', JSON, 400, "sku must be 1-64"),
    ],
)
def test_malformed_checkouts_get_a_clear_4xx_and_create_nothing(lab, data, headers, status, message):
    # the synthetic prober's orders (key synthetic-...) may land meanwhile: they are not this request's
    customers = "SELECT count(*) FROM shop.orders WHERE coalesce(idempotency_key, '') NOT LIKE 'synthetic-%'"
    with psycopg.connect(lab.database_url) as conn:
        before = conn.execute(customers).fetchone()[0]
    response = requests.post(f"{lab.url('service-a')}/checkout", data=data, headers=headers, timeout=10)
    assert response.status_code == status, response.text
    assert message in response.json()["message"]
    with psycopg.connect(lab.database_url) as conn:
        assert conn.execute(customers).fetchone()[0] == before


def test_the_openapi_document_admits_exactly_the_integers_the_server_takes(lab):
    """A body is valid by the served document (OpenAPI 3.1, its default dialect JSON Schema 2020-12) when,
    and only when, the server takes it: 1 is an integer in a body, 1.0 and 1e0 are not."""
    import jsonschema
    import referencing
    from referencing.jsonschema import DRAFT202012

    base = lab.url("service-a")
    document = requests.get(f"{base}/openapi.json", timeout=5).json()
    body = document["paths"]["/checkout"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    registry = referencing.Registry().with_resource("urn:service-a", DRAFT202012.create_resource(document))
    validator = jsonschema.Draft202012Validator({"$ref": "urn:service-a" + body["$ref"]}, registry=registry)
    judged = {}
    for customer, quantity in (("1", "1"), ("1", "1.0"), ("1", "1e0"), ("1.0", "1")):
        raw = f'{{"customer_id": {customer}, "items": [{{"sku": "SKU-1001", "quantity": {quantity}}}]}}'
        answer = requests.post(f"{base}/checkout", data=raw, headers=JSON, timeout=30)
        judged[raw] = (validator.is_valid(json.loads(raw)), answer.status_code)
    assert [valid for valid, _ in judged.values()] == [True, False, False, False], judged
    assert all(valid == (status != 400) for valid, status in judged.values()), judged


def test_every_error_status_the_document_lists_for_checkout_is_one_the_server_can_send(lab):
    """415 is listed: a body that is not sent as JSON gets it."""
    base = lab.url("service-a")
    listed = requests.get(f"{base}/openapi.json", timeout=5).json()["paths"]["/checkout"]["post"]["responses"]
    assert "415" in listed
    answer = requests.post(f"{base}/checkout", data="{}", headers={"Content-Type": "text/plain"}, timeout=10)
    assert answer.status_code == 415 and answer.json()["error"] == "unsupported_media_type", answer.text


@pytest.mark.parametrize(
    "path,status",
    [
        ("/orders/abc", 400),
        ("/orders/987654321", 404),
        ("/orders", 400),
        ("/orders?customer=x", 400),
        ("/customers/0", 400),
        ("/customers/99999", 404),
        ("/products/NOPE", 404),
        ("/no/such/route", 404),
        # NUL, Unicode digits and over-long codes in paths and queries
        ("/products/%00", 400),
        ("/products/SKU-1001%00", 400),
        ("/products/" + "S" * 65, 400),
        ("/orders/%C2%B2", 400),  # ²
        ("/orders/%E2%91%A0", 400),  # ①
        ("/orders/%EF%BC%91", 400),  # fullwidth 1
        ("/orders/%D9%A3", 400),  # Arabic-Indic 3
        ("/customers/%D9%A3", 400),
        ("/orders?customer=1&limit=%C2%B2", 400),
        ("/orders?customer=%EF%BC%91", 400),
        ("/orders?customer=%00", 400),
        ("/orders/1%0a12:00:00.000 INFO forged", 400),
        ("/no/such%00route", 400),
    ],
)
def test_bad_reads_are_4xx_json(lab, path, status):
    response = requests.get(lab.url("service-a") + path, timeout=5)
    assert response.status_code == status, response.text
    message = response.json()["message"]
    assert message and "\n" not in message


def test_order_history_lists_a_customers_orders_with_lines(lab):
    placed = checkout(lab.url("service-a"), customer_id=9, key="history-1").json()
    listed = requests.get(f"{lab.url('service-a')}/orders", params={"customer": 9}, timeout=5).json()["orders"]
    assert placed["id"] in [o["id"] for o in listed]
    mine = next(o for o in listed if o["id"] == placed["id"])
    assert mine["items"][0]["name"] == "Chaos Monkey plush"


def test_every_service_reports_live_and_ready(lab):
    for proc in lab.refresh()["processes"]:
        if proc["kind"] != "service":
            continue
        for probe in ("/health/live", "/health/ready"):
            response = requests.get(proc["url"] + probe, timeout=5)
            assert response.status_code == 200, (proc["name"], probe, response.text)


def test_logs_are_json_with_the_requests_trace_id(lab):
    response = checkout(lab.url("service-a"), customer_id=4, key="logs-1")
    trace_id = response.headers["X-Trace-Id"]
    log_file = lab.state_dir / "logs" / "service-a.log"

    def logged_line():
        for line in log_file.read_text().splitlines():
            if trace_id in line and '"http.route"' in line:  # the access log line, written off the request path
                return json.loads(line)
        return None

    line = poll_until(logged_line, "service-a to log the checkout with its trace id")
    assert line["service"] == "service-a" and line["http.route"] == "/checkout" and len(line["span_id"]) == 16
    readable = lab.cli("logs", "service-a", "-n", "200").stdout
    assert f"trace={trace_id}" in readable


def test_a_newline_in_a_request_path_cannot_forge_a_line_of_chaoslab_logs(lab):
    forged = "12:00:00.000 INFO    POST /checkout 201  forged=yes"
    response = requests.get(lab.url("service-a") + "/products/x%0a" + forged.replace(" ", "%20"), timeout=5)
    assert response.status_code == 400
    trace_id = response.headers["X-Trace-Id"]
    poll_until(lambda: trace_id in lab.cli("logs", "service-a", "-n", "50").stdout, "the request to be logged")
    lines = lab.cli("logs", "service-a", "-n", "50").stdout.splitlines()
    assert not any(line.startswith("12:00:00.000") for line in lines)
    assert any("/products/x\\n12:00:00.000" in line for line in lines)
