"""Synthetic probes of the shop's user journeys, the way Prometheus's blackbox exporter probes a target.

Why: a front door whose handler pool is full (the deadlock drill, any saturating fault) cannot answer
its own /metrics either, so none of the SLO alerts built on its metrics can fire; only TargetDown
pages, at P2, while every checkout fails. A client outside it still sees the hang. The prober is that
client: every ``PROBER_INTERVAL_S`` it tries each journey of ``JOURNEYS`` once against the front door,
within ``PROBER_TIMEOUT_S``, and exposes the last result under the blackbox exporter's names::

    probe_success{journey="checkout"} 1              # 0: an error status, no whole answer in time, no connection
    probe_duration_seconds{journey="checkout"} 0.084
    probe_http_status_code{journey="checkout"} 201   # 0 when no answer came

The JourneyAvailability SLO (chaoslab/alerts/definitions.py) reads them and pages P1.

Not a *probe* in chaos/checks.py's sense, which only reads: **the checkout journey writes**. Each
checkout probe places a real order (customer 1, one SKU-1001, ``Idempotency-Key: synthetic-<uuid>``),
charged, paid and fulfilled like any other, so the books balance with it and ``chaoslab reconcile``
counts it; the key's prefix tells a synthetic order from a shopper's.

What it guarantees:

* a probe that cannot connect, is refused, or has no whole answer within the timeout is a failure
  (``probe_success 0``), never missing data;
* a result is shown only while it is fresh (``max_age_s``), and a prober whose journeys stopped
  being tried answers its scrape with an error (``ProberStalled``: ``up`` 0, the ProberDown alert):
  it never keeps reporting an old success;
* it starts once the front door has answered ``/health/ready`` once, so a lab still starting pages
  nobody; from then on every failure counts.

Locally the lab daemon runs a ``SyntheticProber`` in a thread and feeds its exposition to its alert
evaluation (chaoslab/local/daemon.py). On Kubernetes ``chaoslab serve prober`` (``main``) serves it on
/metrics for Prometheus; the chart can run the blackbox exporter in its place, configured from the
same journeys (``chart_document``, written to charts/chaoslab/files/synthetic.yaml by ``make docs``).
Standard library only besides the lab's own settings and server: the prober's pod stays small.
"""

from __future__ import annotations

import http.client
import json
import logging
import signal
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from urllib.parse import urlsplit

from chaoslab import __version__
from chaoslab.settings import Common, Prober, SettingsError, load
from chaoslab.wsgi import HttpServer

log = logging.getLogger("chaoslab.prober")

SUCCESS = "probe_success"
DURATION = "probe_duration_seconds"
STATUS = "probe_http_status_code"
METRICS = {
    SUCCESS: "Whether the journey's last probe succeeded (1) or failed (0): an error status, no answer in time, "
    "no connection.",
    DURATION: "How long the journey's last probe took, in seconds (up to the timeout when no answer came).",
    STATUS: "The HTTP status of the journey's last probe; 0 when no answer came.",
}
"""The blackbox exporter's metric names, with their help: one source for the exposition and the rules."""

KEY_PREFIX = "synthetic-"
"""Every Idempotency-Key the prober sends starts with it: a synthetic order is told apart by its key."""
BLACKBOX_KEY = KEY_PREFIX + "blackbox"
"""The one key the blackbox exporter sends (its configuration cannot make a new one per probe): after its
first order, each of its checkout probes is an idempotent replay (200) through service-a's handlers and
database, not a new order around the ring."""
USER_AGENT = f"chaoslab-prober/{__version__}"
GRACE_S = 1.0
"""Scheduling slack on top of interval and timeout before a result counts as stale."""


@dataclass(frozen=True)
class Journey:
    """One user journey through the front door, as one HTTP request."""

    name: str
    method: str
    path: str
    ok: tuple[int, ...]
    """Statuses that mean the journey works for a user (a declined card is the shop working)."""
    body: dict | None = None
    """JSON body; a journey with one writes (its request carries a fresh Idempotency-Key)."""

    @property
    def writes(self) -> bool:
        return self.body is not None

    def headers(self, key: str | None = None) -> dict[str, str]:
        headers = {"User-Agent": USER_AGENT, "Accept": "application/json"}
        if self.writes:
            headers["Content-Type"] = "application/json"
            headers["Idempotency-Key"] = key or f"{KEY_PREFIX}{uuid.uuid4()}"
        return headers


JOURNEYS: tuple[Journey, ...] = (
    Journey("browse", "GET", "/products", ok=(200,)),
    Journey(
        "checkout",
        "POST",
        "/checkout",
        ok=(200, 201, 402),
        body={"customer_id": 1, "items": [{"sku": "SKU-1001", "quantity": 1}]},
    ),
)
"""What a shopper does most and what earns the money: browse the catalogue, place an order."""


@dataclass(frozen=True)
class ProbeResult:
    journey: str
    success: bool
    duration_s: float
    status: int
    """The HTTP status; 0 when no answer came."""
    error: str
    """Why it failed, in a few words; empty when it succeeded."""
    at: float
    """When it ended (seconds since the epoch)."""
    ended: float = field(default_factory=time.monotonic, compare=False)
    """When it ended on the monotonic clock (how fresh it is)."""

    def describe(self) -> str:
        return f"{self.status} in {self.duration_s:.2f}s" if self.success else self.error


class ProberStalled(RuntimeError):
    """The prober has not tried a journey for longer than a probe can take: its numbers would be stale."""


def probe(base_url: str, journey: Journey, timeout_s: float, key: str | None = None) -> ProbeResult:
    """Try ``journey`` once against ``base_url`` with a deadline of ``timeout_s`` for the whole exchange
    (connect, send, the status and the whole body). Never raises: a failure is a result."""
    url = urlsplit(base_url)
    began = time.monotonic()
    deadline = began + timeout_s
    status, error = 0, ""
    body = json.dumps(journey.body).encode() if journey.writes else None
    conn = http.client.HTTPConnection(url.hostname or "", url.port or 80, timeout=timeout_s)
    try:
        conn.connect()
        sock = conn.sock  # kept: the response may take it over from the connection
        conn.request(journey.method, url.path.rstrip("/") + journey.path, body=body, headers=journey.headers(key))
        sock.settimeout(_left(deadline))
        response = conn.getresponse()
        while True:  # the whole body, each read bounded by what is left of the deadline
            sock.settimeout(_left(deadline))
            if not response.read(65536):
                break
        status = response.status
    except TimeoutError:
        error = f"no answer within {timeout_s:g}s"
    except ConnectionRefusedError:
        error = "connection refused"
    except (OSError, http.client.HTTPException) as exc:  # reset, unreachable, unknown host, malformed answer
        error = f"{type(exc).__name__}: {exc}".rstrip(": ")
    finally:
        conn.close()
    ended = time.monotonic()
    duration = ended - began
    if not error and duration > timeout_s:
        error = f"answered {status} after {duration:.1f}s, over the {timeout_s:g}s timeout"
    elif not error and status not in journey.ok:
        error = f"answered {status}"
    return ProbeResult(journey.name, not error, round(duration, 6), status, error, time.time(), ended)


def _left(deadline: float) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError
    return left


def front_door_ready(base_url: str, timeout_s: float) -> bool:
    """Whether the front door answers ``GET /health/ready`` with 200 now."""
    url = urlsplit(base_url)
    conn = http.client.HTTPConnection(url.hostname or "", url.port or 80, timeout=timeout_s)
    try:
        conn.request("GET", url.path.rstrip("/") + "/health/ready", headers={"User-Agent": USER_AGENT})
        response = conn.getresponse()
        response.read()
        return response.status == 200
    except (OSError, http.client.HTTPException):
        return False
    finally:
        conn.close()


class SyntheticProber:
    """Tries every journey every ``interval_s`` (one thread each, so a hung journey never delays another)
    and keeps each one's last result."""

    def __init__(
        self, front_door_url: str, interval_s: float, timeout_s: float, journeys: Iterable[Journey] = JOURNEYS
    ):
        if not 0 < timeout_s < interval_s:
            raise ValueError(f"the timeout ({timeout_s:g}s) must be positive and below the interval ({interval_s:g}s)")
        self.front_door_url = front_door_url.rstrip("/")
        self.interval_s = interval_s
        self.timeout_s = timeout_s
        self.journeys = tuple(journeys)
        self.armed = threading.Event()
        """Set once the front door has been ready: from then on every probe counts."""
        self._results: dict[str, ProbeResult] = {}
        self._tried: dict[str, float] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings) -> SyntheticProber:
        """From a ``chaoslab.settings.Prober``."""
        return cls(settings.front_door_url, settings.interval_s, settings.timeout_s)

    @property
    def max_age_s(self) -> float:
        """How old a result may be and still be shown: one interval, one probe's worst, some slack."""
        return self.interval_s + self.timeout_s + GRACE_S

    def run(self, stopping: threading.Event) -> None:
        """Probe until ``stopping`` is set."""
        log.info(
            "probing %s every %gs (timeout %gs): %s",
            self.front_door_url,
            self.interval_s,
            self.timeout_s,
            ", ".join(f"{j.name} ({j.method} {j.path})" for j in self.journeys),
        )
        now = time.monotonic()
        with self._lock:
            self._tried = {j.name: now for j in self.journeys}
        threads = [
            threading.Thread(target=self._loop, args=(j, stopping), name=f"prober-{j.name}", daemon=True)
            for j in self.journeys
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    def _loop(self, journey: Journey, stopping: threading.Event) -> None:
        next_at = time.monotonic()
        while not stopping.is_set():
            with self._lock:
                self._tried[journey.name] = time.monotonic()
            if self.armed.is_set() or self._arm():
                self.record(probe(self.front_door_url, journey, self.timeout_s))
            next_at = max(next_at + self.interval_s, time.monotonic())  # late: the next one now, no burst
            stopping.wait(next_at - time.monotonic())

    def _arm(self) -> bool:
        if front_door_ready(self.front_door_url, self.timeout_s):
            if not self.armed.is_set():
                self.armed.set()
                log.info("%s is ready: every probe counts from now on", self.front_door_url)
            return True
        return False

    def record(self, result: ProbeResult) -> None:
        """Keep ``result`` as its journey's last; log when a journey starts or stops failing."""
        with self._lock:
            before = self._results.get(result.journey)
            self._results[result.journey] = result
        if before is None or before.success != result.success:
            level = logging.INFO if result.success else logging.WARNING
            verdict = "succeeds" if result.success else "FAILS"
            log.log(level, "%s journey %s: %s", result.journey, verdict, result.describe())

    def alive(self) -> bool:
        """Whether every journey was tried recently (the threads run, none is stuck)."""
        now = time.monotonic()
        with self._lock:
            tried = dict(self._tried)
        return bool(tried) and all(now - t <= self.max_age_s for t in tried.values())

    def fresh(self) -> list[ProbeResult]:
        """The journeys' last results that are still current, in journey order."""
        now = time.monotonic()
        with self._lock:
            results = dict(self._results)
        return [r for j in self.journeys if (r := results.get(j.name)) and now - r.ended <= self.max_age_s]

    def results(self) -> dict[str, dict]:
        """Each journey's current result for an API (``success``, ``duration_s``, ``status``, ``error``, ``at``)."""
        return {r.journey: {k: v for k, v in asdict(r).items() if k not in ("journey", "ended")} for r in self.fresh()}

    def exposition(self) -> str:
        """The current results in the Prometheus text format; raises ProberStalled when the journeys are
        no longer being tried (a scrape must then fail, not read an old success)."""
        if not self.alive():
            raise ProberStalled(f"no journey was probed in the last {self.max_age_s:g}s: the prober is stuck")
        results = self.fresh()
        values = {
            SUCCESS: [(r.journey, 1.0 if r.success else 0.0) for r in results],
            DURATION: [(r.journey, r.duration_s) for r in results],
            STATUS: [(r.journey, float(r.status)) for r in results],
        }
        lines = []
        for name, samples in values.items():
            lines += [f"# HELP {name} {METRICS[name]}", f"# TYPE {name} gauge"]
            lines += [f'{name}{{journey="{_escape(journey)}"}} {value:g}' for journey, value in samples]
        return "\n".join(lines) + "\n"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


# ---- on Kubernetes: `chaoslab serve prober` ----------------------------------------------------------


def wsgi_app(prober: SyntheticProber) -> Callable:
    """/metrics (503 when stalled), /health/live (503 when stalled: the kubelet restarts it) and
    /health/ready (serving). A bare WSGI callable: no web framework in the prober's pod."""

    def app(environ, start_response):
        path = environ.get("PATH_INFO", "")
        routes = {"/metrics", "/health/live", "/health/ready"}
        if path not in routes:
            return _json(start_response, "404 Not Found", "not_found", f"no route {path!r}; try /metrics")
        if environ.get("REQUEST_METHOD") not in ("GET", "HEAD"):
            return _json(start_response, "405 Method Not Allowed", "method_not_allowed", "only GET", [("Allow", "GET")])
        if path == "/metrics":
            try:
                body = prober.exposition().encode()
            except ProberStalled as exc:
                return _json(start_response, "503 Service Unavailable", "stalled", str(exc))
            start_response("200 OK", [("Content-Type", "text/plain; version=0.0.4; charset=utf-8")])
            return [body]
        if path == "/health/live" and not prober.alive():
            return _json(start_response, "503 Service Unavailable", "stalled", "the journeys are not being probed")
        return _json(start_response, "200 OK", "", "")

    return app


def _json(start_response, status: str, error: str, message: str, headers=()) -> list[bytes]:
    doc = {"error": error, "message": message} if error else {"status": "ok"}
    start_response(status, [("Content-Type", "application/json"), *headers])
    return [json.dumps(doc).encode()]


def main() -> int:
    """``chaoslab serve prober``: probe the front door and serve the results until SIGTERM; bad settings
    exit 2 with one line."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        settings, common = load(Prober), load(Common)
    except SettingsError as exc:
        print(f"prober: {exc}", flush=True)
        return 2
    prober = SyntheticProber.from_settings(settings)
    stopping = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stopping.set())
    server = HttpServer(wsgi_app(prober), common.bind_host, settings.http_port, 2, "prober").start()
    threading.Thread(target=prober.run, args=(stopping,), name="prober", daemon=True).start()
    stopping.wait()
    server.stop()
    log.info("prober stopped")
    return 0


# ---- the chart's copy for the blackbox exporter --------------------------------------------------------


def chart_document() -> dict:
    """What the chart needs to probe the same journeys with the blackbox exporter
    (charts/chaoslab/files/synthetic.yaml): each journey's path under the front door, and one blackbox
    module per journey (the chart adds the timeout from its values)."""
    modules = {}
    for journey in JOURNEYS:
        spec: dict = {"method": journey.method, "valid_status_codes": list(journey.ok)}
        spec["headers"] = {k: v for k, v in journey.headers(BLACKBOX_KEY).items() if k != "User-Agent"}
        if journey.writes:
            spec["body"] = json.dumps(journey.body)
        spec["preferred_ip_protocol"] = "ip4"
        modules[journey.name] = {"prober": "http", "http": spec}
    return {"journeys": {j.name: j.path for j in JOURNEYS}, "blackbox": {"modules": modules}}
