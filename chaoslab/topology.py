"""The lab's components, their roles and ports: the one table everything else reads.

The local runner, the Helm chart checks, the README tables and the CLI all take
names and ports from here, so a port number is written exactly once. A
component's canonical name (``service-a``) maps mechanically to its Python
package (``service_a``), its environment prefix (``SERVICE_A_``) and its
telemetry ``service.name`` (``service-a``).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Component:
    """One process of the lab's data plane."""

    name: str
    """Canonical name: folder, chart component, ``service.name`` and env prefix derive from it."""
    role: str
    """One line on what it does, for status output and docs."""
    owner: str
    """The team that owns it: alerts route to it, status and the change feed show it."""
    ports: dict[str, int] = field(default_factory=dict)
    """Named ports: ``http`` always serves health and metrics, ``grpc`` the ring's RPCs, ``admin`` the
    fault agent's admin API (token required)."""
    peers: dict[str, tuple[str, str]] = field(default_factory=dict)
    """Setting that holds a peer's address → (peer component, peer port name). The local runner
    and the Helm chart both wire peers from this map; grpc ports become ``host:port``, http ports a URL."""
    uses: tuple[str, ...] = ()
    """Datastores it needs (postgres, redis)."""
    dormant: tuple[str, ...] = ()
    """Peers it is wired to but calls only when a scenario turns the call on."""
    public: bool = False
    """Whether trainees and the load generator call it directly."""
    rpc_services: tuple[str, ...] = ()
    """Fully qualified gRPC services it serves: a gRPC client span names its callee only by these
    (``rpc.service``), so the service graph maps them back to the component."""
    feeds: tuple[str, ...] = ()
    """Components that consume the messages it publishes (the Redis stream): edges of the graph
    that no address setting declares."""

    @property
    def package(self) -> str:
        return self.name.replace("-", "_")

    @property
    def module(self) -> str:
        return f"chaoslab.services.{self.package}"

    @property
    def env_prefix(self) -> str:
        return self.name.upper().replace("-", "_") + "_"

    @property
    def http_port(self) -> int:
        return self.ports["http"]


@dataclass(frozen=True)
class Dependency:
    """A datastore or lab-side helper: no service of the data plane, no fault agent."""

    name: str
    role: str
    port: int
    owner: str = "platform"
    """The team that runs it (alerts on the datastores route to it)."""
    inside_labd: bool = False
    """Locally the lab daemon runs it in its own process, with no port of its own (the prober); the port
    is its container's on Kubernetes."""


# Start order matters only for tidiness: every service tolerates its peers
# arriving late and reports that through /health/ready.
COMPONENTS: tuple[Component, ...] = (
    # The gateway stands for a third party; payments owns the integration and the vendor relationship.
    Component(
        "gateway",
        "simulated third-party payment gateway (upstream of payment)",
        "payments",
        {"http": 8084, "admin": 9084},
    ),
    Component(
        "payment",
        "charges orders through the gateway, keeps the ledger",
        "payments",
        {"http": 8083, "admin": 9083},
        peers={"gateway_url": ("gateway", "http")},
        uses=("postgres",),
    ),
    Component(
        "service-c",
        "pricing: quotes orders (gRPC)",
        "pricing",
        {"grpc": 50052, "http": 8082, "admin": 9082},
        peers={"service_a_url": ("service-a", "http")},
        dormant=("service-a",),
        rpc_services=("chaoslab.v1.Pricing",),
    ),
    Component(
        "service-b",
        "inventory: reserves stock, asks service-c for a quote (gRPC)",
        "inventory",
        {"grpc": 50051, "http": 8081, "admin": 9081},
        peers={"service_c_addr": ("service-c", "grpc")},
        rpc_services=("chaoslab.v1.Inventory",),
    ),
    Component(
        "service-a",
        "orders: the public HTTP API",
        "orders",
        {"http": 8080, "admin": 9080},
        peers={"service_b_addr": ("service-b", "grpc"), "payment_url": ("payment", "http")},
        uses=("postgres", "redis"),
        public=True,
        feeds=("worker",),
    ),
    Component(
        "worker",
        "fulfils paid orders from the Redis queue",
        "fulfilment",
        {"http": 8085, "admin": 9085},
        uses=("postgres", "redis"),
    ),
)

PROBER = Dependency(
    "prober",
    "synthetic probes of the front door's user journeys, blackbox-exporter style (locally inside labd)",
    9115,  # the blackbox exporter's port: the chart can run the real one in its place
    inside_labd=True,
)
"""The synthetic prober (chaoslab/alerts/synthetic.py): browses and checks out through the front door every
few seconds, so a front door that hangs pages even when its own /metrics cannot answer."""

DEPENDENCIES: tuple[Dependency, ...] = (
    Dependency("postgres", "orders, customers, products and the ledger", 5432),
    Dependency("redis", "fulfilment queue (Redis Streams)", 6379),
    Dependency("labd", "local lab daemon: OTLP trace receiver, alert evaluation and lab API", 4318),
    PROBER,
)

SERVICE_NAMES: tuple[str, ...] = tuple(c.name for c in COMPONENTS)
"""Names accepted wherever a CLI command takes a service."""

FRONT_DOOR: str = next(c.name for c in COMPONENTS if c.public)
"""The component trainees and the load generator call (service-a)."""


def component(name: str) -> Component:
    """Return the component called ``name``; raises KeyError with the valid names."""
    for c in COMPONENTS:
        if c.name == name:
            return c
    raise KeyError(f"unknown service {name!r}; expected one of: {', '.join(SERVICE_NAMES)}")


def peer_address(port_name: str, host: str, port: int) -> str:
    """How a peer's address is written in settings: ``host:port`` for gRPC, a URL for HTTP."""
    return f"{host}:{port}" if port_name == "grpc" else f"http://{host}:{port}"


def owner(name: str) -> str:
    """The owning team of a component or a datastore; raises KeyError for an unknown name."""
    for part in (*COMPONENTS, *DEPENDENCIES):
        if part.name == name:
            return part.owner
    raise KeyError(f"unknown component {name!r}")


def dependency(name: str) -> Dependency:
    for d in DEPENDENCIES:
        if d.name == name:
            return d
    raise KeyError(f"unknown dependency {name!r}")
