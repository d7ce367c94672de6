"""Paging on Kubernetes without a cluster: the real Alertmanager on loopback, running the configuration
the chart renders (its route to the team's pager pointed at a loopback pager), alerts posted to it as
Prometheus posts them, and the team's pager (chaoslab/kubernetes/receiver.py) putting them on a real
journal store. The pager under its own ServiceAccount on a real API server is in
test_kubernetes_backend.py; the whole chain on kind in tests/e2e/test_e2e_lab.py."""

from __future__ import annotations

import json
import subprocess
import threading
import time
import urllib.request
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from chaoslab.chaos.journal import FileStore
from chaoslab.incident import rota
from chaoslab.incident.record import IncidentLog, NoIncident
from chaoslab.incident.silence import Silences
from chaoslab.kubernetes import receiver
from chaoslab.kubernetes.alertmanager import Alertmanager
from chaoslab.local.ports import free_port
from chaoslab.settings import Paging, load
from kubesupport import render
from support import poll_until

NAMESPACE = "chaoslab-red"
CHART_PAGER = f"http://pager.{NAMESPACE}.svc:9095/alerts"


def when(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat().replace("+00:00", "Z")


def chart_config(helm: str) -> str:
    docs = render(helm, namespace=NAMESPACE)
    (config,) = [d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"] == "alertmanager"]
    return config["data"]["alertmanager.yml"]


@pytest.fixture
def board(tmp_path):
    return FileStore(tmp_path / "board")


class Hook:
    """A real HTTP receiver of the pager's own notices (CHAOSLAB_PAGE_WEBHOOK), keeping each body."""

    def __init__(self):
        self.bodies: list[dict] = []
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                hook.bodies.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.http.server_address[1]}/"
        threading.Thread(target=self.http.serve_forever, daemon=True).start()


@pytest.fixture
def hook():
    found = Hook()
    yield found
    found.http.shutdown()
    found.http.server_close()


@pytest.fixture
def paging(helm, alertmanager, board, hook, tmp_path):
    """Alertmanager with the chart's configuration, and team red's pager it notifies, which sends the
    team's notices to ``hook``; the pager looks only when notified (its own interval is an hour), so
    every page here came through Alertmanager's webhook."""
    notices = load(Paging, {}, webhook=hook.url, every_s=0.2)
    pager = receiver.Pager(board, "red", Alertmanager("http://127.0.0.1:1"), interval_s=3600, paging=notices)
    pager_port = free_port()
    pager_url = f"http://127.0.0.1:{pager_port}/alerts"
    config = chart_config(helm)
    assert CHART_PAGER in config, "the chart routes team red's alerts to its pager"
    (tmp_path / "alertmanager.yml").write_text(config.replace(CHART_PAGER, pager_url))
    port = free_port()
    proc = subprocess.Popen(
        [
            alertmanager,
            f"--config.file={tmp_path / 'alertmanager.yml'}",
            f"--storage.path={tmp_path / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    pager.alertmanager = Alertmanager(f"http://127.0.0.1:{port}")
    poll_until(lambda: requests.get(f"{pager.alertmanager.url}/-/ready", timeout=1).ok, "Alertmanager ready")
    http, stop = pager.start("127.0.0.1", pager_port)
    threading.Thread(target=http.serve_forever, daemon=True).start()
    poll_until(lambda: pager.last_ok, "the pager's first look")
    yield pager
    http.shutdown()
    pager.stop(http, stop)
    proc.terminate()
    proc.wait(10)


def post(pager: receiver.Pager, *alerts: dict) -> None:
    """Alerts as Prometheus sends them (POST /api/v2/alerts)."""
    body = json.dumps(list(alerts)).encode()
    request = urllib.request.Request(
        f"{pager.alertmanager.url}/api/v2/alerts", data=body, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=5) as answer:
        assert answer.status == 200


def alert(name: str, severity: str, team: str = "red", ended: bool = False, ago: float = 20, **labels) -> dict:
    """Fired ``ago`` seconds ago; ``ended``: resolved a second ago."""
    now = time.time()
    found = {
        "labels": {
            "alertname": name,
            "severity": severity,
            "owner": "orders",
            "team": team,
            "namespace": f"chaoslab-{team}",
            **labels,
        },
        "annotations": {"summary": f"{name} summary"},
        "startsAt": when(now - ago),
        "endsAt": when(now - 1 if ended else now + 300),
        "generatorURL": "http://prometheus:9090/graph",
    }
    return found


def incident(board):
    try:
        return IncidentLog(board).get()
    except NoIncident:
        return None


def test_a_page_reaches_the_board_through_alertmanagers_webhook_within_seconds(paging, board):
    post(paging, alert("CheckoutLatencyFastBurn", "P2"))
    fired = time.monotonic()
    opened = poll_until(lambda: incident(board), "the incident opened within 5 s, by the webhook", timeout=5)
    took = time.monotonic() - fired
    print(f"the page reached the board {took:.1f} s after Alertmanager had the alert (group_wait 1 s)")
    assert paging.notifications >= 1, "it came by the webhook: the pager's own interval is an hour"
    assert opened.severity == "P2" and "CheckoutLatencyFastBurn" in opened.firing
    assert opened.declared_at == pytest.approx(time.time() - 20, abs=took + 2), "dated when Prometheus fired it"

    post(paging, alert("CheckoutLatencyFastBurn", "P2", ended=True))
    poll_until(lambda: not incident(board).firing, "the resolve, by the webhook's send_resolved", timeout=15)
    assert incident(board).mitigated_at is not None


def test_another_teams_alerts_never_reach_this_teams_pager(paging, board):
    post(paging, alert("PaymentSuccessFastBurn", "P1", team="blue"))
    found = poll_until(
        lambda: [a for a in requests.get(f"{paging.alertmanager.url}/api/v2/alerts", timeout=2).json()],
        "Alertmanager holds blue's alert",
    )
    assert found[0]["labels"]["team"] == "blue"
    paging.sync()
    assert incident(board) is None and paging.alertmanager.alerts("red") == []


def test_a_teams_silence_is_mirrored_into_alertmanager_and_holds_the_page_back(paging, board):
    silences = Silences(board)
    held = silences.add(
        time.time(),
        time.time() + 600,
        "gateway maintenance",
        "dana",
        matchers=[["alertname", "=", "PaymentSuccessFastBurn"]],
        for_this_run=False,
    )
    paging.ring()
    (mirrored,) = poll_until(lambda: paging.alertmanager.silences("red"), "the silence in Alertmanager")
    assert mirrored["comment"].startswith(held["id"])
    assert {"name": "team", "value": "red", "isRegex": False, "isEqual": True} in mirrored["matchers"]

    post(paging, alert("PaymentSuccessFastBurn", "P1", ago=0))

    def silenced():
        found = paging.alertmanager.alerts("red")
        return found and found[0]["status"]["silencedBy"]

    assert poll_until(silenced, "Alertmanager marks the alert silenced") == [mirrored["id"]]
    paging.sync()
    assert incident(board) is None, "a silenced page opens no incident"

    silences.end(held["id"], "dana")
    paging.sync()
    assert paging.alertmanager.silences("red") == [], "unsilence expires it in Alertmanager too"


def test_the_charts_inhibition_keeps_a_symptom_quiet_and_the_board_marks_it(paging, board):
    post(paging, alert("RedisErrors", "P2", service="worker"))
    poll_until(lambda: incident(board), "the cause pages")
    post(paging, alert("QueueBacklog", "P2", service="worker"))

    def inhibited():
        found = {a["labels"]["alertname"]: a for a in paging.alertmanager.alerts("red")}
        return "QueueBacklog" in found and found["QueueBacklog"]["status"]["inhibitedBy"]

    poll_until(inhibited, "Alertmanager inhibits QueueBacklog while RedisErrors fires")
    paging.sync()
    (marked,) = [e for e in incident(board).of_kind("alert_fired") if e["data"].get("alert") == "QueueBacklog"]
    assert marked["data"]["inhibited_by"]["alert"] == "RedisErrors"


def test_an_unacknowledged_p1_escalates_on_time_and_the_teams_notices_go_out_with_nobody_looking(paging, board, hook):
    """The pager settles the record on each look, as a reader does locally, so the page's escalation to
    the rota's secondary is written at its deadline and sent out, though no trainee read the board."""
    rota.save(board, rota.parse("primary: Ana\nsecondary: Bea\ncommanders: [Cy]\n"))
    post(paging, alert("CheckoutAvailabilityFastBurn", "P1", ago=6 * 60))  # past the P1's 5 minutes to ack

    def notices() -> str:
        return "\n".join(b["commonAnnotations"]["notices"] for b in hook.bodies)

    poll_until(lambda: " PAGE " in notices() and " ESCALATION " in notices(), "page and escalation sent", timeout=10)
    paged = {name for b in hook.bodies for name in b["commonAnnotations"]["paged"].split(", ")}
    assert {"Ana", "Bea"} <= paged, hook.bodies
    assert all(b["status"] == "firing" and b["groupLabels"]["incident"] == "INC-1" for b in hook.bodies)
    assert [e["data"]["paged"] for e in incident(board).of_kind("escalated")][:1] == ["Bea"]

    alone = FileStore(board.directory.parent / "alone")  # a pager with no webhook to send to
    rota.save(alone, rota.parse("primary: Ana\nsecondary: Bea\n"))
    receiver.Pager(alone, "red", paging.alertmanager).sync()
    assert [e["data"]["paged"] for e in incident(alone).of_kind("escalated")][:1] == ["Bea"], "its own look settles"


@pytest.mark.parametrize(
    ("body", "said"),
    [
        (b"not json", "not JSON"),
        (b'{"version": "3", "alerts": []}', "version"),
        (b"[]", "version"),
    ],
)
def test_a_body_that_is_not_a_webhook_is_refused_with_a_reason(paging, body, said):
    http = receiver.server(paging, "127.0.0.1", 0)
    threading.Thread(target=http.serve_forever, daemon=True).start()
    try:
        answer = requests.post(f"http://127.0.0.1:{http.server_address[1]}/alerts", data=body, timeout=5)
        assert answer.status_code == 400 and said in answer.json()["error"]
        assert requests.get(f"http://127.0.0.1:{http.server_address[1]}/nowhere", timeout=5).status_code == 404
    finally:
        http.shutdown()
        http.server_close()


def test_an_alertmanager_that_does_not_answer_makes_the_pager_unready_and_loses_nothing(board):
    pager = receiver.Pager(board, "red", Alertmanager(f"http://127.0.0.1:{free_port()}"), interval_s=3600)
    assert pager.sync() == []
    status, body = pager.health()
    assert status == 503 and "did not answer" in body["error"]
    assert incident(board) is None


def test_a_silenced_cause_still_inhibits_its_symptom(paging, board):
    """What the end-to-end stage relies on: a team that silenced the cause (it knows Redis is down) still
    has its symptoms inhibited, as Alertmanager inhibits by every firing source, silenced or not."""
    Silences(board).add(time.time(), time.time() + 600, "known", "dana", [["alertname", "=", "RedisErrors"]], False)
    paging.ring()
    poll_until(lambda: paging.alertmanager.silences("red"), "the silence in Alertmanager")
    post(paging, alert("RedisErrors", "P2", ago=0, service="worker"), alert("QueueBacklog", "P2", ago=0))

    def muted():
        found = {a["labels"]["alertname"]: a["status"] for a in paging.alertmanager.alerts("red")}
        return found.get("RedisErrors", {}).get("silencedBy") and found.get("QueueBacklog", {}).get("inhibitedBy")

    poll_until(muted, "RedisErrors silenced and QueueBacklog inhibited by it")


def test_a_silence_written_for_another_team_holds_back_nothing(paging, board):
    """Alertmanager is the cohort's: team red's silence `team=blue` keeps its matcher and gains red's own,
    so it matches no alert at all, as on red's board; it never becomes a silence of red's alerts."""
    Silences(board).add(time.time(), time.time() + 600, "not ours", "dana", [["team", "=", "blue"]], False)
    paging.ring()
    (mirrored,) = poll_until(lambda: paging.alertmanager.silences("red"), "the silence in Alertmanager")
    assert {(m["name"], m["value"]) for m in mirrored["matchers"]} == {("team", "blue"), ("team", "red")}
    post(
        paging, alert("PaymentSuccessFastBurn", "P1", ago=0), alert("PaymentSuccessFastBurn", "P1", team="blue", ago=0)
    )

    def processed():
        found = requests.get(f"{paging.alertmanager.url}/api/v2/alerts", timeout=2).json()
        return len(found) == 2 and all(a["status"]["state"] != "unprocessed" for a in found) and found

    found = poll_until(processed, "both alerts through Alertmanager's pipeline")
    assert all(a["status"]["silencedBy"] == [] for a in found), found
    poll_until(lambda: incident(board), "red's page opens its incident")
