"""The fault vocabulary: every kind of fault the lab can inject, defined once.

The agent, the controller, the CLI, the scenario files and the docs all read
these definitions, so a parameter's name, default and range exist in one
place. A fault is declared, not scripted (Chaos Mesh, Toxiproxy): a kind, a
scope (a service, and a route or a peer where the kind needs one),
parameters, and a TTL after which it is gone whatever else happens.

``validate`` turns a spec (from YAML, JSON or CLI flags) into a ``Fault`` or
raises ``FaultSpecError`` naming the bad field and what is allowed.
"""

from __future__ import annotations

import re
import secrets
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from chaoslab.errors import BadInput
from chaoslab.topology import COMPONENTS, SERVICE_NAMES, component

DEFAULT_TTL_S = 600.0
"""TTL of a fault that does not name one: ten minutes, long enough for a drill, short enough to be forgotten safely."""
MAX_TTL_S = 7200.0
"""No fault outlives two hours: a lab left alone heals by itself."""

GRPC_CODES = (
    "CANCELLED",
    "UNKNOWN",
    "INVALID_ARGUMENT",
    "DEADLINE_EXCEEDED",
    "NOT_FOUND",
    "ALREADY_EXISTS",
    "PERMISSION_DENIED",
    "RESOURCE_EXHAUSTED",
    "FAILED_PRECONDITION",
    "ABORTED",
    "OUT_OF_RANGE",
    "UNIMPLEMENTED",
    "INTERNAL",
    "UNAVAILABLE",
    "DATA_LOSS",
    "UNAUTHENTICATED",
)


class FaultSpecError(BadInput):
    """A fault spec the lab cannot apply; the message names the field and the allowed values."""


@dataclass(frozen=True)
class Param:
    name: str
    type: type
    default: Any
    help: str
    min: float | None = None
    max: float | None = None
    choices: tuple[str, ...] = ()
    unit: str = ""
    """What the number counts (``seconds``), when the name does not say it plainly."""

    def allowed(self) -> str:
        if self.choices:
            return "one of " + ", ".join(self.choices)
        if self.min is not None and self.max is not None:
            noun = self.unit or ("a number" if self.type is float else "a whole number")
            return f"{noun} from {self.min:g} to {self.max:g}"
        return f"a {self.type.__name__}"

    def parse(self, raw: Any, field_name: str = "") -> Any:
        """The value in range and of the right type; FaultSpecError naming the field otherwise."""
        field_name = field_name or f"params.{self.name}"
        if self.choices:
            if not isinstance(raw, str) or raw not in self.choices:
                raise FaultSpecError(f"{field_name}={_shown(raw)}: must be {self.allowed()}")
            return raw
        wrong = FaultSpecError(f"{field_name}={_shown(raw)}: must be {self.allowed()}")
        if isinstance(raw, str):
            try:
                raw = float(raw)
            except ValueError:
                raise wrong from None
        if isinstance(raw, bool) or not isinstance(raw, (int, float)) or raw != raw:
            raise wrong
        if (self.min is not None and raw < self.min) or (self.max is not None and raw > self.max):
            raise wrong  # before int(): int(inf) raises
        if self.type is int and raw != int(raw):
            raise wrong
        return self.type(raw)


PROBABILITY = Param("probability", float, 1.0, "Share of matching calls the fault hits.", 0.0, 1.0)
TTL = Param("ttl_s", float, DEFAULT_TTL_S, "Seconds until the fault removes itself.", 1, MAX_TTL_S, unit="seconds")


@dataclass(frozen=True)
class Kind:
    name: str
    summary: str
    hook: str
    """Where it applies: inbound, outbound, inbound|outbound (by route or peer), db, redis, worker,
    process, flags (runtime settings) or kubernetes (done by the Kubernetes API, not an agent)."""
    scope: str = "service"
    """What besides the service it needs: ``service`` only, ``peer``, or ``route_or_peer``."""
    params: tuple[Param, ...] = ()
    services: tuple[str, ...] = SERVICE_NAMES
    """Services it applies to."""
    analogue: str = ""
    """The closest Chaos Mesh / Toxiproxy term, for people who know those tools."""
    plainly: str = ""
    """The cause in a few plain words, for a status update a human would write ("slow database queries")."""

    @property
    def kubernetes_only(self) -> bool:
        """Done by the Kubernetes API (pods, deployments, network policies), not by an agent."""
        return self.hook == "kubernetes"


def _users_of(datastore: str) -> tuple[str, ...]:
    return tuple(c.name for c in COMPONENTS if datastore in c.uses)


BAD_DEPLOYS: dict[str, dict[str, dict[str, Any]]] = {
    "float_money": {"payment": {"money_math": "float"}},
    "n_plus_one": {"service-a": {"orders_query": "n_plus_one"}},
    "timeouts_off": {
        "service-a": {"service_b_timeout_s": 0.0, "payment_timeout_s": 0.0},
        "service-b": {"service_c_timeout_s": 0.0},
        "service-c": {"service_a_timeout_s": 0.0},
        "payment": {"gateway_timeout_s": 0.0},
    },
    "breaker_off": {"payment": {"gateway_breaker": False}, "service-c": {"loyalty_breaker": False}},
}
"""Each bad deploy: the runtime settings it changes, per service that has them."""

DEADLOCK_CHANGES = {"loyalty_lookup": "sync"}

KINDS: dict[str, Kind] = {
    k.name: k
    for k in (
        Kind(
            "latency",
            "Adds delay to inbound requests on a route, or to outbound calls to a peer.",
            "inbound|outbound",
            "route_or_peer",
            (
                Param("ms", float, 500.0, "Added delay in milliseconds.", 0, 60000),
                Param("jitter_ms", float, 0.0, "Random spread around ms (± jitter).", 0, 60000),
                PROBABILITY,
            ),
            analogue="Chaos Mesh NetworkChaos delay, Toxiproxy latency",
            plainly="added delay",
        ),
        Kind(
            "error",
            "Fails inbound requests on a route, or outbound calls to a peer, with an HTTP status or a gRPC code.",
            "inbound|outbound",
            "route_or_peer",
            (
                Param("status", int, 503, "HTTP status for HTTP routes and peers.", 400, 599),
                Param("grpc_code", str, "UNAVAILABLE", "gRPC status for gRPC methods and peers.", choices=GRPC_CODES),
                PROBABILITY,
            ),
            analogue="Chaos Mesh HTTPChaos abort",
            plainly="failing requests",
        ),
        Kind(
            "partition",
            "The service cannot reach one peer: calls hang until the caller's timeout (blackhole) or "
            "are refused at once (refuse).",
            "outbound",
            "peer",
            (Param("mode", str, "blackhole", "blackhole or refuse.", choices=("blackhole", "refuse")),),
            services=tuple(c.name for c in COMPONENTS if c.peers),
            analogue="Chaos Mesh NetworkChaos partition, Toxiproxy timeout",
            plainly="a network partition",
        ),
        Kind(
            "deadlock",
            "Turns on service-c's synchronous loyalty lookup into service-a, closing the A→B→C→A ring.",
            "flags",
            services=("service-c",),
            plainly="a deadlock: calls waiting on each other in a cycle",
        ),
        Kind(
            "cpu_burn",
            "Busy threads inside the process compete with its request handlers for the CPU.",
            "process",
            params=(Param("threads", int, 1, "Busy threads.", 1, 8),),
            analogue="Chaos Mesh StressChaos cpu",
            plainly="CPU starvation",
        ),
        Kind(
            "memory_leak",
            "The process allocates memory it never frees, at a rate, up to a cap.",
            "process",
            params=(
                Param("mb_per_s", float, 5.0, "Leak rate in MiB per second.", 0.1, 100),
                Param("cap_mb", float, 200.0, "Stop leaking at this many MiB.", 1, 4096),
            ),
            analogue="Chaos Mesh StressChaos memory",
            plainly="a memory leak",
        ),
        Kind(
            "crash",
            "The process exits; the runner restarts it. mode=loop crashes every restart: a crash loop.",
            "process",
            params=(
                Param("mode", str, "once", "once or loop.", choices=("once", "loop")),
                Param("delay_s", float, 1.0, "Seconds after injection (or after each restart).", 0, 600),
            ),
            analogue="Chaos Mesh PodChaos pod-kill / container-kill",
            plainly="a crashing process",
        ),
        Kind(
            "db_outage",
            "Every PostgreSQL call of the service fails as if the database were unreachable.",
            "db",
            services=_users_of("postgres"),
            plainly="lost database connectivity",
        ),
        Kind(
            "db_slow",
            "Adds delay to the service's PostgreSQL statements.",
            "db",
            params=(Param("ms", float, 200.0, "Added delay per statement, in milliseconds.", 0, 30000), PROBABILITY),
            services=_users_of("postgres"),
            plainly="slow database queries",
        ),
        Kind(
            "redis_outage",
            "Every Redis call of the service fails as if Redis were unreachable.",
            "redis",
            services=_users_of("redis"),
            plainly="lost connectivity to Redis",
        ),
        Kind(
            "worker_stall",
            "The worker stops taking jobs (alive and ready, doing nothing): the queue backs up.",
            "worker",
            services=("worker",),
            plainly="a stalled worker",
        ),
        Kind(
            "upstream_failure",
            "The payment gateway fails its charges with an error, or hangs.",
            "inbound",
            params=(
                Param("mode", str, "error", "error or hang.", choices=("error", "hang")),
                Param("status", int, 503, "HTTP status in error mode.", 400, 599),
                Param("hang_s", float, 60.0, "How long a charge hangs in hang mode (ends early if lifted).", 0.1, 600),
                PROBABILITY,
            ),
            services=("gateway",),
            analogue="Toxiproxy timeout on the upstream",
            plainly="a failing payment provider",
        ),
        Kind(
            "bad_deploy",
            "Ships a bad configuration (recorded in the change feed like any deploy).",
            "flags",
            params=(Param("change", str, "float_money", "What the deploy gets wrong.", choices=tuple(BAD_DEPLOYS)),),
            services=tuple(sorted({s for changes in BAD_DEPLOYS.values() for s in changes})),
            plainly="a bad configuration change",
        ),
        Kind(
            "pod_kill",
            "Deletes pods of the service at once (Kubernetes starts new ones).",
            "kubernetes",
            params=(Param("count", int, 1, "Pods to delete.", 1, 10),),
            analogue="Chaos Mesh PodChaos pod-kill",
            plainly="pods being killed",
        ),
        Kind(
            "scale_to_zero",
            "Scales the service's Deployment to zero replicas until the TTL, then back.",
            "kubernetes",
            plainly="no running replicas",
        ),
        Kind(
            "network_partition",
            "A NetworkPolicy stops the service's pods reaching the peer's pods (egress).",
            "kubernetes",
            "peer",
            services=tuple(c.name for c in COMPONENTS if c.peers),
            analogue="Chaos Mesh NetworkChaos partition",
            plainly="a network partition",
        ),
        Kind(
            "oom_kill",
            "Squeezes the container's memory limit below its working set: the kernel OOM-kills it, "
            "over and over, until the TTL restores the limit.",
            "kubernetes",
            params=(Param("limit_mi", int, 40, "Memory limit in MiB while the fault lasts.", 16, 4096),),
            analogue="a memory limit set too low",
            plainly="out-of-memory kills",
        ),
    )
}


@dataclass
class Fault:
    """One fault, as applied to one service (on every instance of it)."""

    kind: str
    service: str
    params: dict[str, Any] = field(default_factory=dict)
    route: str | None = None
    peer: str | None = None
    ttl_s: float = DEFAULT_TTL_S
    id: str = ""
    created_at: float = 0.0
    expires_at: float = 0.0
    actor: str = ""
    scenario: str | None = None
    red_herring: bool = False

    @property
    def where(self) -> str:
        if self.route:
            return f"{self.service} route {self.route}"
        if self.peer:
            return f"{self.service} → {self.peer}"
        return self.service

    def describe(self) -> str:
        shown = ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in self.params.items())
        return f"{self.kind} on {self.where}" + (f" ({shown})" if shown else "")

    def remaining_s(self, now: float | None = None) -> float:
        return max(0.0, self.expires_at - (time.time() if now is None else now))

    def flag_changes(self) -> dict[str, Any]:
        """The runtime settings this fault overrides on its service (bad deploys, the deadlock)."""
        if self.kind == "deadlock":
            return dict(DEADLOCK_CHANGES)
        if self.kind == "bad_deploy":
            return dict(BAD_DEPLOYS[self.params["change"]].get(self.service, {}))
        return {}

    def to_dict(self) -> dict:
        return {k: v for k, v in asdict(self).items() if v not in (None, "") or k in ("id",)}


def new_fault_id() -> str:
    """A fresh fault id: ``f-`` and eight hex digits, the same on every instance the fault reaches."""
    return f"f-{secrets.token_hex(4)}"


def peers_of(service: str) -> tuple[str, ...]:
    """HTTP and gRPC peers a service calls (a partition or outbound fault must name one of these)."""
    return tuple(peer for peer, _ in component(service).peers.values())


FAULT_ID = re.compile(r"f-[0-9a-f]{8}")
"""A fault id: what ``validate`` makes (``f-`` and eight hex digits), and the only id an agent accepts.

The controller applies one fault on every replica of a service under one id, so that ``fault rm``,
``scenario stop`` and the audit log name it once; so an agent takes the caller's id, but only in this
strict format: it cannot carry a newline into ``fault list``, a ``/`` into ``DELETE /faults/<id>``,
or collide with the ``fault:``/``deploy:`` sources of runtime settings."""
SPEC_FIELDS = ("kind", "service", "route", "peer", "params", "ttl_s", "id", "scenario", "red_herring")
"""What a caller may say about a fault."""
SET_BY_AGENT = ("created_at", "expires_at", "actor")
"""What only the agent says: when (from its own clock and ``ttl_s``, so no caller outlives the cap) and
who (from how the caller authenticated)."""
_ROUTE = re.compile(r"[\x21-\x7e]{1,200}")
_SCENARIO = re.compile(r"[a-z0-9][a-z0-9-]{1,40}")


def _shown(value: Any) -> str:
    """A value for an error message: short, one line, and safe whatever its nesting."""
    if isinstance(value, dict):
        return "<a mapping>"
    if isinstance(value, (list, tuple)):
        return "<a list>"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _text(spec: dict, field_name: str, allowed: str) -> str | None:
    value = spec.get(field_name)
    if value is not None and not isinstance(value, str):
        raise FaultSpecError(f"{field_name}={_shown(value)}: must be {allowed}")
    return value


def validate(spec: dict, *, now: float | None = None, actor: str = "") -> Fault:
    """Check a spec against its kind's definition; fill defaults, id, creation and expiry (``now`` plus
    ``ttl_s``, never more than MAX_TTL_S) and the actor the caller authenticated as.

    Raises FaultSpecError with a one-line message naming the bad field.
    """
    if not isinstance(spec, dict):
        raise FaultSpecError("a fault must be a mapping with at least kind and service")
    by_agent = sorted(set(spec) & set(SET_BY_AGENT))
    if by_agent:
        raise FaultSpecError(f"{by_agent[0]} is set by the agent (from ttl_s and the caller); leave it out")
    unknown = set(spec) - set(SPEC_FIELDS)
    if unknown:
        first = sorted(map(str, unknown))[0]
        raise FaultSpecError(f"unknown field {_shown(first)}; a fault has kind, service, route, peer, params, ttl_s")
    name = _text(spec, "kind", f"one of {', '.join(KINDS)}")
    if name not in KINDS:
        raise FaultSpecError(f"kind={_shown(name)}: must be one of {', '.join(KINDS)}")
    kind = KINDS[name]
    service = _text(spec, "service", f"one of {', '.join(SERVICE_NAMES)}")
    if service not in SERVICE_NAMES:
        raise FaultSpecError(f"service={_shown(service)}: must be one of {', '.join(SERVICE_NAMES)}")
    if service not in kind.services:
        raise FaultSpecError(f"service={service!r}: {name} applies to {', '.join(kind.services)}")

    route = _text(spec, "route", "a route such as /checkout, a gRPC method such as Reserve, or *")
    peer = _text(spec, "peer", f"a peer {service} calls")
    if kind.scope == "service" and (route or peer):
        raise FaultSpecError(f"{name} takes no route or peer, only a service")
    if kind.scope == "peer" and not peer:
        raise FaultSpecError(f"{name} needs peer: one of {', '.join(peers_of(service))}")
    if kind.scope == "route_or_peer" and bool(route) == bool(peer):
        raise FaultSpecError(
            f"{name} needs exactly one of route (an inbound route of {service}, or *) "
            f"or peer ({', '.join(peers_of(service)) or 'none'})"
        )
    if peer and peer not in peers_of(service):
        raise FaultSpecError(
            f"peer={_shown(peer)}: {service} calls {', '.join(peers_of(service)) or 'no other service'}"
        )
    if route is not None and not _ROUTE.fullmatch(route):
        raise FaultSpecError(
            f"route={_shown(route)}: must be a route such as /checkout, a gRPC method such as Reserve, or * "
            "(printable, no spaces, at most 200 characters)"
        )

    raw_params = spec.get("params") or {}
    if not isinstance(raw_params, dict):
        raise FaultSpecError(f"params={_shown(raw_params)}: must be a mapping")
    known = {p.name for p in kind.params}
    extra = set(raw_params) - known
    if extra:
        first = sorted(str(k) for k in extra)[0]
        raise FaultSpecError(
            f"params.{first if first.isidentifier() else _shown(first)}: "
            f"{name} takes {', '.join(sorted(known)) if known else 'no params'}"
        )
    params = {p.name: p.parse(raw_params[p.name]) if p.name in raw_params else p.default for p in kind.params}
    if name == "bad_deploy" and service not in BAD_DEPLOYS[params["change"]]:
        raise FaultSpecError(
            f"params.change={params['change']!r} does not apply to {service}; it applies to "
            f"{', '.join(BAD_DEPLOYS[params['change']])}"
        )

    ttl = TTL.parse(spec.get("ttl_s", DEFAULT_TTL_S), "ttl_s")

    fault_id = _text(spec, "id", "an id such as f-1a2b3c4d")
    if fault_id is not None and not FAULT_ID.fullmatch(fault_id):
        raise FaultSpecError(f"id={_shown(fault_id)}: must look like f-1a2b3c4d (f- and 8 hex digits), or leave it out")
    scenario = _text(spec, "scenario", "a scenario id")
    if scenario is not None and not _SCENARIO.fullmatch(scenario):
        raise FaultSpecError(f"scenario={_shown(scenario)}: must be a scenario id such as deadlock")
    red_herring = spec.get("red_herring", False)
    if not isinstance(red_herring, bool):
        raise FaultSpecError(f"red_herring={_shown(red_herring)}: must be true or false")

    created = time.time() if now is None else now
    return Fault(
        kind=name,
        service=service,
        params=params,
        route=route,
        peer=peer,
        ttl_s=float(ttl),
        id=fault_id or new_fault_id(),
        created_at=created,
        expires_at=created + float(ttl),
        actor=actor,
        scenario=scenario,
        red_herring=red_herring,
    )


def restore(record: Any, now: float | None = None) -> Fault:
    """A fault an agent saved itself (it outlives a restart): the spec validated again, its creation time
    and actor kept. A record from the future or without a creation time is refused, so a saved fault
    can never live longer than its TTL from when it was first added."""
    if not isinstance(record, dict):
        raise FaultSpecError("a saved fault must be a mapping")
    now = time.time() if now is None else now
    created = record.get("created_at")
    if isinstance(created, bool) or not isinstance(created, (int, float)) or not 0 < created <= now + 1:
        raise FaultSpecError(f"created_at={_shown(created)}: must be a time in the past")
    actor = record.get("actor", "")
    fault = validate({k: v for k, v in record.items() if k in SPEC_FIELDS}, now=float(created))
    fault.actor = actor[:200] if isinstance(actor, str) else ""
    return fault


def spec_of(fault: Fault) -> dict:
    """What the controller sends an agent for ``fault``: the caller's fields only (SPEC_FIELDS)."""
    return {k: v for k, v in fault.to_dict().items() if k in SPEC_FIELDS}


def parse_cli_params(pairs: tuple[str, ...]) -> dict[str, str]:
    """``ms=500 probability=0.5`` → {"ms": "500", ...}; values are typed by validate()."""
    params = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise FaultSpecError(f"parameter {pair!r}: write it as name=value, e.g. ms=500")
        params[key.strip()] = value.strip()
    return params


MYSTERY = "mystery"
"""The ``scenario`` a mystery drill's faults carry instead of its id: agents keep such faults
out of their service's log, and nothing a trainee can read names the drill."""
