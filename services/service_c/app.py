"""service-c's Pricing servicer."""

from __future__ import annotations

import logging
import queue
import threading
import time
from decimal import Decimal

import grpc
from prometheus_client import Counter
from pybreaker import CircuitBreakerError

from chaoslab.chaos.agent import FaultAgent
from chaoslab.services.common.errors import ApiError, DependencyDown, DependencyTimeout
from chaoslab.services.common.grpc_service import GrpcService
from chaoslab.services.common.lines import order_problem
from chaoslab.services.common.money import MoneyError, parse_amount, quantize
from chaoslab.services.common.peers import HttpPeer, circuit_breaker
from chaoslab.services.common.runtime import ServiceRuntime, run
from chaoslab.services.rpc import ring_pb2, ring_pb2_grpc
from chaoslab.settings import ServiceC, load
from chaoslab.telemetry import names

NAME = "service-c"
TIER_DISCOUNT = {"bronze": Decimal("0"), "silver": Decimal("0.05"), "gold": Decimal("0.10")}
QUOTES = Counter(names.QUOTES_TOTAL, "Quotes computed, by the tier the discount used.", ["tier"])
LOOKUPS = Counter(
    names.LOYALTY_LOOKUPS_TOTAL,
    "Loyalty lookups against service-a, by outcome: ok, unavailable, "
    "fallback (breaker open or lookup failed, the sent tier was used).",
    ["outcome"],
)
log = logging.getLogger("chaoslab.pricing")


class TierCache:
    """The async loyalty lookup (a fix for the deadlock): quotes use the last tier seen for a customer,
    and a background thread refreshes it from service-a, so no quote ever waits on service-a."""

    MAX_AGE_S = 60.0

    def __init__(self, lookup):
        self._lookup = lookup
        self._tiers: dict[int, tuple[str, float]] = {}
        self._wanted: queue.Queue[int] = queue.Queue(maxsize=1000)
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def tier(self, customer_id: int, fallback: str) -> str:
        cached = self._tiers.get(customer_id)
        if cached is None or time.monotonic() - cached[1] > self.MAX_AGE_S:
            self._ensure_thread()
            try:
                self._wanted.put_nowait(customer_id)
            except queue.Full:
                pass
        return cached[0] if cached else fallback

    def _ensure_thread(self) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._refresh, name="tier-refresh", daemon=True)
                self._thread.start()

    def _refresh(self) -> None:
        while True:
            customer_id = self._wanted.get()
            try:
                self._tiers[customer_id] = (self._lookup(customer_id), time.monotonic())
            except Exception as exc:  # a failed refresh keeps the old tier; the next quote asks again
                LOOKUPS.labels("unavailable").inc()
                log.warning("loyalty refresh for customer %d failed: %s", customer_id, exc)


class PricingService(ring_pb2_grpc.PricingServicer):
    def __init__(self, settings: ServiceC, agent: FaultAgent):
        self.flags = agent.flags
        self.tax_rate = Decimal(settings.tax_rate)
        self.service_a = HttpPeer(
            "service-a",
            settings.service_a_url,
            lambda: self.flags.get("service_a_timeout_s"),
            pool_size=settings.handler_threads,
            agent=agent,
        )
        self.breaker = circuit_breaker("service-a", settings.breaker_fail_max, settings.breaker_reset_s)
        self.cache = TierCache(self._lookup)

    def _lookup(self, customer_id: int) -> str:
        """service-a's GET /customers/<id>; raises ApiError when service-a fails or is too slow."""
        response = self.service_a.call("GET", f"/customers/{customer_id}", "GET /customers/<id>")
        if response.status_code != 200:
            raise DependencyDown("service-a", f"service-a answered {response.status_code}")
        LOOKUPS.labels("ok").inc()
        return response.json()["tier"]

    def _tier(self, request: ring_pb2.QuoteRequest, context: grpc.ServicerContext) -> str:
        mode = self.flags.get("loyalty_lookup")
        if mode == "off":
            return request.customer_tier
        if mode == "async":
            return self.cache.tier(request.customer_id, request.customer_tier)
        if self.flags.get("loyalty_breaker"):
            try:
                with self.breaker.calling():
                    return self._lookup(request.customer_id)
            except (CircuitBreakerError, ApiError):
                LOOKUPS.labels("fallback").inc()
                return request.customer_tier  # degrade: the tier service-a sent is good enough
        try:
            return self._lookup(request.customer_id)
        except ApiError as exc:
            LOOKUPS.labels("unavailable").inc()
            code = (
                grpc.StatusCode.DEADLINE_EXCEEDED if isinstance(exc, DependencyTimeout) else grpc.StatusCode.UNAVAILABLE
            )
            context.abort(code, f"service-c loyalty lookup: {exc.message}")

    def Quote(self, request: ring_pb2.QuoteRequest, context: grpc.ServicerContext) -> ring_pb2.QuoteReply:
        problem = order_problem(request)
        if problem:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, problem)
        lines = []
        for index, item in enumerate(request.items):
            try:
                unit = parse_amount(item.unit_price, f"items[{index}].unit_price")
            except MoneyError as exc:
                context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
            lines.append(
                ring_pb2.QuoteLine(
                    sku=item.sku,
                    quantity=item.quantity,
                    unit_price=str(unit),
                    line_total=str(quantize(unit * item.quantity)),
                )
            )
        tier = self._tier(request, context)
        if tier not in TIER_DISCOUNT:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"unknown loyalty tier {tier!r}")
        subtotal = sum((Decimal(line.line_total) for line in lines), Decimal("0"))
        discount = quantize(subtotal * TIER_DISCOUNT[tier])
        tax = quantize((subtotal - discount) * self.tax_rate)
        total = subtotal - discount + tax
        QUOTES.labels(tier).inc()
        return ring_pb2.QuoteReply(
            lines=lines,
            subtotal=str(subtotal),
            discount=str(discount),
            tax=str(tax),
            total=str(total),
            currency=request.currency or "USD",
            customer_tier=tier,
        )


def build(runtime: ServiceRuntime) -> GrpcService:
    settings = load(ServiceC)
    agent = runtime.agent(settings)
    pricing = PricingService(settings, agent)
    return GrpcService(
        NAME,
        lambda server: ring_pb2_grpc.add_PricingServicer_to_server(pricing, server),
        service=ring_pb2.DESCRIPTOR.services_by_name["Pricing"],
        host=runtime.common.bind_host,
        grpc_port=settings.grpc_port,
        http_port=settings.http_port,
        threads=settings.handler_threads,
        agent=agent,
        access_log=runtime.common.access_log,
    ).attach(runtime)


def main() -> int:
    return run(NAME, build)
