"""service-c's Pricing servicer."""
from __future__ import annotations

from decimal import Decimal, InvalidOperation

import grpc
from prometheus_client import Counter

from chaoslab.services.common.errors import DependencyDown, DependencyTimeout
from chaoslab.services.common.grpc_service import GrpcService
from chaoslab.services.common.money import quantize
from chaoslab.services.common.peers import HttpPeer
from chaoslab.services.common.runtime import ServiceRuntime, run
from chaoslab.services.rpc import ring_pb2, ring_pb2_grpc
from chaoslab.settings import ServiceC, load

NAME = "service-c"
TIER_DISCOUNT = {"bronze": Decimal("0"), "silver": Decimal("0.05"), "gold": Decimal("0.10")}
QUOTES = Counter("pricing_quotes", "Quotes computed, by the tier the discount used.", ["tier"])
LOOKUPS = Counter("pricing_loyalty_lookups", "Loyalty lookups against service-a, by outcome.", ["outcome"])


class Pricing(ring_pb2_grpc.PricingServicer):
    def __init__(self, settings: ServiceC):
        self.settings = settings
        self.tax_rate = Decimal(settings.tax_rate)
        self.service_a = HttpPeer("service-a", settings.service_a_url, settings.service_a_timeout_s,
                                  pool_size=settings.handler_threads)
    
    def _tier(self, request: ring_pb2.QuoteRequest, context: grpc.ServicerContext) -> str:
        if self.settings.loyalty_lookup != "sync":
            return request.customer_tier
        try:
            response = self.service_a.call("GET", f"/customers/{request.customer_id}", "GET /customers/<id>")
        except (DependencyDown, DependencyTimeout) as exc:
            LOOKUPS.labels("unavailable").inc()
            code = grpc.StatusCode.DEADLINE_EXCEEDED if isinstance(exc, DependencyTimeout) \
                else grpc.StatusCode.UNAVAILABLE
            context.abort(code, f"service-c loyalty lookup: {exc.message}")
        if response.status_code != 200:
            LOOKUPS.labels("error").inc()
            context.abort(grpc.StatusCode.UNAVAILABLE,
                          f"service-c loyalty lookup: service-a answered {response.status_code}")
        LOOKUPS.labels("ok").inc()
        return response.json().get("tier", request.customer_tier)

    def Quote(self, request: ring_pb2.QuoteRequest, context: grpc.ServicerContext) -> ring_pb2.QuoteReply:
        if not request.items:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "a quote needs at least one line item")
        lines = []
        for item in request.items:
            try:
                unit = Decimal(item.unit_price)
            except InvalidOperation:
                context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"unit_price {item.unit_price!r} of {item.sku}")
            if item.quantity <= 0 or not unit.is_finite() or unit <= 0:
                context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"line {item.sku}: quantity and price must be > 0")
            lines.append(ring_pb2.QuoteLine(sku=item.sku, quantity=item.quantity, unit_price=str(unit),
                                            line_total=str(quantize(unit * item.quantity))))
        tier = self._tier(request, context)
        if tier not in TIER_DISCOUNT:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"unknown loyalty tier {tier!r}")
        subtotal = sum((Decimal(line.line_total) for line in lines), Decimal("0"))
        discount = quantize(subtotal * TIER_DISCOUNT[tier])
        tax = quantize((subtotal - discount) * self.tax_rate)
        total = subtotal - discount + tax
        QUOTES.labels(tier).inc()
        return ring_pb2.QuoteReply(lines=lines, subtotal=str(subtotal), discount=str(discount), tax=str(tax),
                                   total=str(total), currency=request.currency or "USD", customer_tier=tier)


def build(runtime: ServiceRuntime) -> GrpcService:
    settings = load(ServiceC)
    pricing = Pricing(settings)
    return GrpcService(NAME, lambda server: ring_pb2_grpc.add_PricingServicer_to_server(pricing, server),
                       host=runtime.common.bind_host, grpc_port=settings.grpc_port, http_port=settings.http_port,
                       threads=settings.handler_threads, access_log=runtime.common.access_log).attach(runtime)


def main() -> int:
    return run(NAME, build)
