"""Every setting of every component, read from the environment in this one place.

Each component has a frozen dataclass whose fields carry a default and a help
text; the environment variable is the component's prefix plus the field name
in upper case (``SERVICE_A_HANDLER_THREADS``). ``chaoslab config`` prints the
resolved values and the README's variable tables are generated from here
(``make docs``; ``tests/unit/test_docs.py`` fails when they drift).

OpenTelemetry is configured by its own standard ``OTEL_*`` variables, which
the SDK reads itself; they are listed in ``OTEL_VARIABLES`` for the docs only.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit

from chaoslab.errors import BadInput
from chaoslab.topology import FRONT_DOOR, PROBER, component, dependency, peer_address


class SettingsError(BadInput):
    """An environment variable has a value the component cannot use."""


def setting(
    default: Any, help: str, *, min: float | None = None, max: float | None = None, runtime: bool = False
) -> Any:
    """Declare one setting: a default, one line of help, an optional range. ``runtime`` settings
    can also be changed while the service runs: by a deploy (``chaoslab deploy``, how trainees
    ship a fix) or by a bad-deploy fault."""
    return dataclasses.field(default=default, metadata={"help": help, "min": min, "max": max, "runtime": runtime})


PORT_HELP = {
    "http": "HTTP port (its API, if it has one; health; metrics).",
    "grpc": "gRPC port.",
    "admin": "Fault agent admin API port (on when CHAOSLAB_AGENT_TOKEN is set).",
}


def _service_base(name: str, handler_pool: str | None) -> type:
    """The settings every service has, from its row in chaoslab.topology: one ``<name>_port`` per named
    port, one address per peer it calls (``host:port`` for gRPC, a URL for HTTP), and, where it serves
    requests from a bounded pool (``handler_pool`` says which kind), ``handler_threads``."""
    c = component(name)
    fields: list[tuple[str, type, Any]] = [
        (f"{port_name}_port", int, setting(port, PORT_HELP[port_name], min=0, max=65535))
        for port_name, port in c.ports.items()
    ]
    if handler_pool:
        fields.append(("handler_threads", int, setting(8, f"Bounded {handler_pool} handler pool.", min=1, max=256)))
    for setting_name, (peer, port_name) in c.peers.items():
        kind = "gRPC address (host:port)" if port_name == "grpc" else "Base URL"
        default = peer_address(port_name, "127.0.0.1", component(peer).ports[port_name])
        fields.append((setting_name, str, setting(default, f"{kind} of {peer}.")))
    base = dataclasses.make_dataclass(f"{c.package}_base", fields, frozen=True)
    base.prefix = c.env_prefix
    return base


TimeoutSeconds = float
"""A timeout in seconds; 0 disables it (one of the lab's "bad deploys")."""


@dataclass(frozen=True)
class Common:
    """Settings shared by every service."""

    database_url: str = setting(
        f"postgresql://chaoslab@127.0.0.1:{dependency('postgres').port}/chaoslab",
        "PostgreSQL connection URL (orders, customers, products, ledger).",
    )
    redis_url: str = setting(f"redis://127.0.0.1:{dependency('redis').port}/0", "Redis URL of the fulfilment queue.")
    bind_host: str = setting("127.0.0.1", "Address every listener binds; 0.0.0.0 only inside containers.")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = setting("INFO", "Minimum log level.")
    access_log: bool = setting(True, "Log one JSON line per inbound request.")
    inflight_spans: bool = setting(
        False,
        "Also report spans still open after a second (a stuck checkout is visible while it hangs). "
        "The local lab turns it on; Jaeger would show the reports as extra spans.",
    )
    team: str = setting("local", "Team tag added to every span, metric target and log line.")
    db_connect_timeout_s: float = setting(2.0, "Timeout for opening a PostgreSQL connection.", min=0.1, max=60)
    db_pool_timeout_s: float = setting(
        3.0, "How long a request waits for a pooled PostgreSQL connection.", min=0.1, max=60
    )
    redis_timeout_s: float = setting(2.0, "Socket timeout for Redis commands.", min=0.1, max=60)
    agent_token: str = setting(
        "",
        "Bearer token of the fault agents' admin API; empty leaves the admin API off. "
        "The local lab sets it to the token in its state directory.",
    )
    agent_state_dir: str = setting(
        "",
        "Where a fault agent keeps its active faults so they outlive a restart "
        "(a crash loop needs that); empty keeps them in memory only.",
    )
    shutdown_drain_s: float = setting(
        0.0,
        "On SIGTERM, how long the service keeps serving while it answers unready, before it stops taking "
        "requests: time for a load balancer (a Kubernetes Service) to stop sending it traffic.",
        min=0,
        max=60,
    )
    shutdown_flush_s: float = setting(
        2.0,
        "On shutdown, the longest wait for the last spans to reach the collector; spans not sent by then are "
        "dropped (a collector that is down must not hold up a restart).",
        min=0,
        max=60,
    )

    prefix = "CHAOSLAB_"


@dataclass(frozen=True)
class ServiceA(_service_base("service-a", "WSGI")):
    """service-a (orders): the public HTTP API."""

    service_b_timeout_s: TimeoutSeconds = setting(
        5.0, "Deadline of calls to service-b; 0 = none.", min=0, max=600, runtime=True
    )
    payment_timeout_s: TimeoutSeconds = setting(
        5.0, "Timeout of calls to payment; 0 = none.", min=0, max=600, runtime=True
    )
    orders_query: Literal["batched", "n_plus_one"] = setting(
        "batched", "How GET /orders loads line items: one batched query or one per order and item.", runtime=True
    )
    max_body_bytes: int = setting(16384, "Largest accepted request body; larger gets 413.", min=256, max=10_000_000)
    max_items: int = setting(50, "Most line items in one checkout.", min=1, max=1000)
    db_pool_size: int = setting(8, "PostgreSQL connections in the pool.", min=1, max=100)
    outbox_poll_interval_s: float = setting(
        0.5, "How often the outbox relay looks for unpublished events.", min=0.01, max=60
    )
    outbox_redeliver_after_s: float = setting(
        120.0, "Re-publish an event whose order is still unfulfilled after this long.", min=1, max=86400
    )
    pending_deadline_s: float = setting(
        30.0,
        "Resolve an order still pending this long after its charge attempt (or creation, if payment was "
        "never asked): paid if payment holds its charge, payment_failed and never charged otherwise.",
        min=1,
        max=86400,
        runtime=True,
    )


@dataclass(frozen=True)
class ServiceB(_service_base("service-b", "gRPC")):
    """service-b (inventory): reserves stock, then asks service-c for a quote."""

    service_c_timeout_s: TimeoutSeconds = setting(
        5.0, "Deadline of calls to service-c; 0 = none.", min=0, max=600, runtime=True
    )
    initial_stock: int = setting(1_000_000, "Units of stock per product at start.", min=0, max=10**12)


@dataclass(frozen=True)
class ServiceC(_service_base("service-c", "gRPC")):
    """service-c (pricing): quotes an order (discount by loyalty tier, tax)."""

    tax_rate: str = setting("0.08", "Sales tax rate applied after the loyalty discount (a decimal).")
    loyalty_lookup: Literal["off", "sync", "async"] = setting(
        "off",
        "off: trust the tier sent by service-a; sync: ask service-a's GET /customers/<id> on every "
        "quote and wait (closes the A→B→C→A ring: the deadlock); async: use a cached tier, refreshed "
        "in the background (a fix).",
        runtime=True,
    )
    service_a_timeout_s: TimeoutSeconds = setting(
        0.0, "Timeout of the loyalty lookup; 0 = none.", min=0, max=600, runtime=True
    )
    loyalty_breaker: bool = setting(
        False,
        "Circuit breaker on the loyalty lookup; open means use the tier "
        "service-a sent (a fix for the deadlock, with a timeout).",
        runtime=True,
    )
    breaker_fail_max: int = setting(3, "Consecutive lookup failures that open the breaker.", min=1, max=1000)
    breaker_reset_s: float = setting(
        10.0, "How long an open breaker skips the lookup before trying again.", min=0.1, max=3600
    )


@dataclass(frozen=True)
class Payment(_service_base("payment", "WSGI")):
    """payment: charges orders through the gateway and writes the ledger."""

    gateway_timeout_s: TimeoutSeconds = setting(
        5.0, "Timeout of calls to the gateway; 0 = none.", min=0, max=600, runtime=True
    )
    gateway_breaker: bool = setting(
        True,
        "Circuit breaker on the gateway: after repeated failures, fail fast "
        "instead of queueing behind a dead upstream.",
        runtime=True,
    )
    money_math: Literal["decimal", "float"] = setting(
        "decimal", "How amounts become minor units: exact Decimal, or float (drifts by cents).", runtime=True
    )
    db_pool_size: int = setting(4, "PostgreSQL connections in the pool.", min=1, max=100)
    breaker_fail_max: int = setting(5, "Consecutive gateway failures that open the breaker.", min=1, max=1000)
    breaker_reset_s: float = setting(
        10.0, "How long an open breaker fails fast before trying again.", min=0.1, max=3600
    )


@dataclass(frozen=True)
class Gateway(_service_base("gateway", "WSGI")):
    """gateway: a small simulated third-party payment provider."""

    latency_ms: float = setting(20.0, "Processing time of one charge, in milliseconds.", min=0, max=60000)
    decline_rate: float = setting(0.0, "Share of charges the issuer declines (0 to 1).", min=0, max=1)


@dataclass(frozen=True)
class Worker(_service_base("worker", None)):
    """worker: fulfils paid orders from the Redis stream."""

    consumer: str = setting("", "Consumer name in the group; empty = host name (stable across restarts).")
    job_duration_ms: float = setting(20.0, "Simulated picking and packing time per order.", min=0, max=600000)
    claim_idle_ms: int = setting(
        30000, "Take over another consumer's job after it is idle this long.", min=100, max=3_600_000
    )
    batch_size: int = setting(10, "Messages read per XREADGROUP.", min=1, max=1000)
    db_pool_size: int = setting(2, "PostgreSQL connections in the pool.", min=1, max=100)


@dataclass(frozen=True)
class Local:
    """The local runner (``chaoslab up``)."""

    state_dir: str = setting(".chaoslab", "Directory holding the lab's data, logs, lock and token.")
    ports: Literal["preferred", "random"] = setting(
        "preferred",
        "preferred: each component's documented port when free, else a free one; random: always a free port (tests).",
    )
    ready_timeout_s: float = setting(60.0, "How long `chaoslab up` waits for every component.", min=1, max=3600)
    shadow: bool = setting(
        True, "The lab daemon runs the shadow on-call (`chaoslab diagnose` by itself) while an incident is open."
    )
    shadow_every_s: float = setting(5.0, "Seconds between the shadow on-call's looks.", min=1, max=300)

    prefix = "CHAOSLAB_"


@dataclass(frozen=True)
class Console:
    """The console on Kubernetes (``chaoslab console-server``, the platform's console Deployment); locally
    the lab daemon serves it and none of these apply."""

    teams: str = setting("", "Teams to show, comma-separated (team T's lab is in namespace chaoslab-T).")
    jaeger_url: str = setting("http://jaeger:16686", "Jaeger's query API, where every team's traces are.")
    prometheus_url: str = setting("http://prometheus:9090", "Prometheus, for the teams' alerts.")
    port: int = setting(8090, "HTTP port of the console.", min=0, max=65535)
    token: str = setting("", "The instructors' token (from a Secret); empty turns the instructor view off.")
    recordings: str = setting(
        "",
        "Folder where every team's drills are recorded (a folder per team), replayed under /teams/T/replay/; "
        "empty: none.",
    )

    prefix = "CHAOSLAB_CONSOLE_"


@dataclass(frozen=True)
class Alerts:
    """The local lab's alert evaluation (the lab daemon's; Prometheus evaluates the same rules on Kubernetes)."""

    interval_s: float = setting(
        5.0,
        "How often the lab daemon scrapes every service's /metrics and evaluates the alert rules "
        "(the chart's Prometheus also scrapes every 5 s).",
        min=1,
        max=60,
    )
    alertmanager_url: str = setting(
        "",
        "On Kubernetes: the Alertmanager a team's pager (`chaoslab pager`) reads the team's alerts from and "
        "mirrors the team's silences into; the chart sets it.",
    )
    pager_interval_s: float = setting(
        10.0,
        "On Kubernetes: how often the team's pager looks at Alertmanager besides on each of its notifications.",
        min=1,
        max=300,
    )

    prefix = "CHAOSLAB_ALERTS_"


@dataclass(frozen=True)
class Paging:
    """Where a page goes besides the incident record (`chaoslab incident watch` follows the record itself)."""

    webhook: str = setting(
        "",
        "URL that receives every page, escalation, overdue update, alert change and resolve as Alertmanager's "
        "webhook payload (version 4), grouped by incident; empty: none. The local lab posts to loopback only.",
    )
    status_webhook: str = setting(
        "",
        "URL that receives every change of the public status page (an incident's state or external update, a "
        "component's status) as Atlassian Statuspage's webhook body; empty: none. Loopback only locally.",
    )
    every_s: float = setting(
        1.0, "How often the lab daemon looks at the record for something to send.", min=0.2, max=60
    )

    prefix = "CHAOSLAB_PAGE_"

    def __post_init__(self):
        for field_name in ("webhook", "status_webhook"):
            url = getattr(self, field_name)
            if url and urlsplit(url).scheme not in ("http", "https"):
                raise SettingsError(f"{env_name(Paging, field_name)}={url!r}: expected an http:// or https:// URL")

    def loopback_only(self) -> Paging:
        """The local lab's check: it reaches nothing off this machine (relay from a local receiver)."""
        for field_name in ("webhook", "status_webhook"):
            url = getattr(self, field_name)
            host = urlsplit(url).hostname or ""
            if url and host != "localhost" and not _is_loopback(host):
                raise SettingsError(
                    f"{env_name(Paging, field_name)}={url!r}: the local lab posts to loopback only "
                    "(127.0.0.1, ::1 or localhost); relay from a receiver on this machine"
                )
        return self


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class Drills:
    """Drills as `chaoslab scenario start` plays them (and `chaoslab gameday start` for a room), on either target."""

    healthy_s: float = setting(
        10.0,
        "Seconds the lab is measured under the drill's own traffic before its faults go in: verify judges "
        "latency against these healthy figures where the absolute SLO cannot be fair on a slow host; 0 skips it.",
        min=0,
        max=120,
    )
    stagger_s: float = setting(
        3.0,
        "Seconds between one team's drill start and the next team's in a GameDay (`chaoslab gameday start`), so "
        "the teams' traffic does not load a shared node in lockstep; 0 starts them all at once.",
        min=0,
        max=60,
    )

    prefix = "CHAOSLAB_DRILL_"


@dataclass(frozen=True)
class Prober:
    """The synthetic prober (the lab daemon runs it locally; `chaoslab serve prober` on Kubernetes)."""

    front_door_url: str = setting(
        peer_address("http", "127.0.0.1", component(FRONT_DOOR).http_port),
        f"Base URL of the front door ({FRONT_DOOR}) whose user journeys it probes; the local lab sets it.",
    )
    interval_s: float = setting(
        5.0,
        "Seconds between two probes of each journey (browse, checkout). Every checkout probe places a real "
        "order, paid and fulfilled like any other (Idempotency-Key synthetic-...).",
        min=1,
        max=300,
    )
    timeout_s: float = setting(
        3.0,
        "A probe with no whole answer within this many seconds fails, as one that cannot connect does. "
        "Below the interval and below the 5 s scrape, as the blackbox exporter keeps its probes.",
        min=0.1,
        max=60,
    )
    http_port: int = setting(
        PROBER.port,
        "Port of its /metrics and health endpoints (Kubernetes; locally it runs inside labd).",
        min=0,
        max=65535,
    )

    prefix = "PROBER_"

    def __post_init__(self):
        if self.timeout_s >= self.interval_s:
            raise SettingsError(
                f"{env_name(Prober, 'timeout_s')}={self.timeout_s:g}: must be below "
                f"{env_name(Prober, 'interval_s')}={self.interval_s:g}, or probes would pile up"
            )


SERVICE_SETTINGS: dict[str, type] = {
    "service-a": ServiceA,
    "service-b": ServiceB,
    "service-c": ServiceC,
    "payment": Payment,
    "gateway": Gateway,
    "worker": Worker,
}

ALL_GROUPS: tuple[type, ...] = (Common, Local, Drills, Alerts, Paging, Prober, *SERVICE_SETTINGS.values(), Console)

OTEL_VARIABLES: dict[str, str] = {
    "OTEL_SERVICE_NAME": "service.name of the spans; the runner and the chart set it to the component name.",
    "OTEL_EXPORTER_OTLP_ENDPOINT": "OTLP/HTTP endpoint (the local lab daemon, or the OpenTelemetry Collector).",
    "OTEL_TRACES_EXPORTER": "otlp (default), console or none.",
    "OTEL_RESOURCE_ATTRIBUTES": "Extra resource attributes, e.g. deployment.environment=lab.",
    "OTEL_BSP_SCHEDULE_DELAY": "Milliseconds between span batches (the local runner uses 200).",
    "OTEL_TRACES_SAMPLER": "parentbased_always_on by default.",
    "OTEL_SDK_DISABLED": "true turns tracing off entirely (used by the hop benchmark's baseline).",
}


def env_name(group: type, field_name: str) -> str:
    return group.prefix + field_name.upper()


def _parse(group: type, f: dataclasses.Field, raw: str) -> Any:
    name = env_name(group, f.name)
    kind = typing.get_type_hints(group)[f.name]
    origin = typing.get_origin(kind)
    if origin is Literal:
        choices = typing.get_args(kind)
        if raw not in choices:
            raise SettingsError(f"{name}={raw!r}: expected one of {', '.join(choices)}")
        return raw
    if kind is bool:
        lowered = raw.strip().lower()
        if lowered in ("1", "true", "yes", "on"):
            return True
        if lowered in ("0", "false", "no", "off"):
            return False
        raise SettingsError(f"{name}={raw!r}: expected true or false")
    if kind in (int, float):
        try:
            value = kind(raw)
        except ValueError:
            raise SettingsError(f"{name}={raw!r}: expected {'an integer' if kind is int else 'a number'}") from None
        low, high = f.metadata.get("min"), f.metadata.get("max")
        if (low is not None and value < low) or (high is not None and value > high):
            raise SettingsError(f"{name}={raw!r}: must be between {low:g} and {high:g}")
        return value
    return raw


def runtime_fields(group: type) -> list[str]:
    """Settings of ``group`` a deploy or a bad-deploy fault may change while the service runs."""
    return [f.name for f in dataclasses.fields(group) if f.metadata.get("runtime")]


def coerce(group: type, name: str, value: Any) -> Any:
    """Validate a runtime change (JSON value or string) like an environment value; SettingsError names it."""
    fields = {f.name: f for f in dataclasses.fields(group)}
    if name not in fields or not fields[name].metadata.get("runtime"):
        raise SettingsError(f"{name!r} cannot be changed at runtime; allowed: {', '.join(runtime_fields(group))}")
    kind = typing.get_type_hints(group)[name]
    if isinstance(value, bool) and kind is bool:
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool) and kind in (int, float):
        value = str(value)
    if not isinstance(value, str):
        raise SettingsError(f"{name}={value!r}: expected a {getattr(kind, '__name__', 'string')} value")
    try:
        return _parse(group, fields[name], value)
    except SettingsError as exc:
        raise SettingsError(str(exc).replace(env_name(group, name), name, 1)) from None


def load(group: type, environ: Mapping[str, str] | None = None, **overrides: Any):
    """Build ``group`` from the environment; ``overrides`` win (tests, the runner).

    Raises SettingsError naming the variable, the bad value and what is allowed.
    """
    environ = os.environ if environ is None else environ
    unknown = set(overrides) - {f.name for f in dataclasses.fields(group)}
    if unknown:  # a renamed setting must not be silently ignored (it falls back to a fixed port)
        raise TypeError(f"{group.__name__} has no setting {', '.join(sorted(unknown))}")
    values: dict[str, Any] = {}
    for f in dataclasses.fields(group):
        if f.name in overrides:
            values[f.name] = overrides[f.name]
            continue
        raw = environ.get(env_name(group, f.name))
        if raw is not None and raw != "":
            values[f.name] = _parse(group, f, raw)
    return group(**values)


def describe(group: type) -> list[tuple[str, str, str]]:
    """(variable, default, help) for every field of ``group``, for docs and ``chaoslab config``."""
    rows = []
    for f in dataclasses.fields(group):
        default = f.default
        shown = str(default).lower() if isinstance(default, bool) else str(default)
        rows.append((env_name(group, f.name), shown, f.metadata["help"]))
    return rows
