"""``chaoslab verify`` and ``chaoslab load`` against a real lab with real Locust."""

from __future__ import annotations

import json

import psutil
import psycopg
import pytest

from chaoslab.loadtest.verify import LATENCY
from support import alive, module_lab, poll_until, reset_around

pytestmark = pytest.mark.disruptive


lab = module_lab("verify-lab")


clean = reset_around()


def verify(lab, *args):
    result = lab.cli("verify", "--duration", "6", *args, check=False, timeout=180)
    return result


def test_a_healthy_lab_passes_every_check_of_the_baseline_but_the_hosts_latency(lab):
    """Every check of the baseline holds on a healthy lab: no error, the books balance, every order paid,
    shipped and resolved. The latency bounds are measured and reported, not judged here: the suite runs
    three labs and browsers at once on two cores, where a healthy checkout's p95 has reached 740 ms
    (p50 120). Whether the bound holds on a host is bench/capacity.py's question; that a breach fails
    the verify, with the figure named, is the latency fault's test below."""
    result = verify(lab, "--json", "-u", "4", "--duration", "20")
    verdict = json.loads(result.stdout)
    failed = {c["check"] for c in verdict["checks"] if not c["ok"]}
    latency = {c["check"] for c in verdict["checks"] if c["measure"] in LATENCY}
    assert failed <= latency, result.stdout
    assert result.returncode == (1 if failed else 0), "the exit code says whether every check held"
    assert all(c["value"] is not None for c in verdict["checks"] if c["check"] in latency), "measured"
    if failed:
        print(f"the host's latency breached {sorted(failed)} on a healthy lab")
    assert verdict["figures"]["requests"] > 0 and verdict["figures"]["checkout"]["count"] > 0
    assert {c["measure"] for c in verdict["checks"]} >= {
        "p95_ms",
        "error_rate",
        "ledger_drift",
        "unfulfilled_orders",
        "mischarged_orders",
        "unresolved_orders",
    }
    assert (lab.state_dir / "reports").exists()
    report = next(p for p in (lab.state_dir / "reports").iterdir() if p.name.endswith("verify-baseline"))
    assert (report / "locust_stats.csv").exists() and (report / "report.html").exists()


def test_a_500ms_latency_fault_fails_naming_the_breached_figure(lab):
    lab.cli("fault", "add", "latency", "ms=500", "--service", "service-b", "--peer", "service-c")
    result = verify(lab)
    assert result.returncode == 1
    assert "new pages silenced until" in result.stdout  # its own load opens no incident, and it says so
    assert "SLO BREACHED: p95_ms POST /checkout <= 400" in result.stdout
    assert "FAIL" in next(line for line in result.stdout.splitlines() if "p95_ms POST /checkout" in line)


@pytest.mark.parametrize("case", ["lost", "mischarged"])
def test_reconciliation_catches_broken_orders_from_before_the_run(lab, case):
    """Verify reconciles the whole database: orders broken a day ago fail it too. lost: paid,
    never charged, never fulfilled; mischarged: charged twice its total, and a charge without an order.
    (A pending order with a charge is no case here: service-a's recovery pays it during the run.)"""
    with psycopg.connect(lab.database_url) as conn:
        order = conn.execute(
            """INSERT INTO shop.orders (customer_id, idempotency_key, request_hash, status, total,
                                                         subtotal, created_at, updated_at)
                                VALUES (7, %s, 'x', %s, 10.00, 10.00, now() - interval '1 day',
                                        now() - interval '1 day') RETURNING id""",
            (f"broken-{case}", "paid" if case == "lost" else "fulfilled"),
        ).fetchone()[0]
        orphan = order + 1000000
        if case == "mischarged":
            for order_id, amount in ((order, "20.00"), (orphan, "10.00")):
                conn.execute(
                    """INSERT INTO ledger.entries (order_id, gateway_charge_id, amount, requested_amount,
                                                   currency, money_math, created_at)
                            VALUES (%s, 'ch_x', %s, 10.00, 'USD', 'decimal', now() - interval '1 day')""",
                    (order_id, amount),
                )
    try:
        result = verify(lab, "--json")
    finally:
        with psycopg.connect(lab.database_url) as conn:
            conn.execute("DELETE FROM ledger.entries WHERE order_id = ANY(%s)", ([order, orphan],))
            conn.execute("DELETE FROM shop.orders WHERE id = %s", (order,))
    verdict = json.loads(result.stdout)
    failed = {c["measure"]: c for c in verdict["checks"] if not c["ok"]}
    assert result.returncode == 1
    assert "mischarged_orders" in failed and str(order) in failed["mischarged_orders"]["note"]
    findings = verdict["reconciliation"]["findings"]
    if case == "lost":
        assert failed["unfulfilled_orders"]["value"] == 1 and findings["paid_without_charge"]["order_ids"] == [order]
    else:
        assert failed["ledger_drift"]["value"] == 10.0 and findings["amount_mismatch"]["order_ids"] == [order]
        assert findings["charge_without_order"]["order_ids"] == [orphan]


@pytest.mark.parametrize(
    "args,message",
    [
        (("no-such-drill",), "unknown scenario 'no-such-drill'"),
        (("--duration", "0"), "--duration must be more than 0 seconds"),
        (("--duration", "-5"), "--duration must be more than 0 seconds"),
    ],
)
def test_bad_input_exits_2_with_one_line(lab, args, message):
    result = lab.cli("verify", *args, check=False)
    assert result.returncode == 2 and message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_an_unreachable_lab_exits_2(tmp_path):
    from support import Lab

    result = Lab(tmp_path / "nothing-here").cli("verify", check=False)
    assert result.returncode == 2 and "no lab is running" in result.stderr


def test_load_stop_leaves_no_locust_behind(lab):
    lab.cli("load", "start", "-u", "3")
    info = json.loads((lab.state_dir / "load.json").read_text())
    status = poll_until(
        lambda: (lambda out: out if "POST /checkout" in out or "GET /products" in out else None)(
            lab.cli("load", "status").stdout
        ),
        "load status to show the first requests",
    )
    assert status.startswith("load running")
    group = [p.pid for p in psutil.process_iter() if _pgid(p.pid) == info["pid"]]
    assert info["pid"] in group
    lab.cli("load", "stop")
    assert [pid for pid in group if alive(pid)] == []
    assert lab.cli("load", "status", check=False).returncode == 1


def _pgid(pid: int) -> int | None:
    import os

    try:
        return os.getpgid(pid)
    except ProcessLookupError:
        return None
