"""service-b's Inventory servicer."""

from __future__ import annotations

import threading
import uuid
from collections import OrderedDict, defaultdict

import grpc
from prometheus_client import Counter, Gauge

from chaoslab.chaos.agent import FaultAgent
from chaoslab.services.common.grpc_peers import grpc_channel
from chaoslab.services.common.grpc_service import GrpcService
from chaoslab.services.common.lines import order_problem
from chaoslab.services.common.runtime import ServiceRuntime, run
from chaoslab.services.rpc import ring_pb2, ring_pb2_grpc
from chaoslab.settings import ServiceB, load
from chaoslab.telemetry import names

NAME = "service-b"
RESERVATIONS = Counter(names.RESERVATIONS_TOTAL, "Reservations by outcome.", ["outcome"])
RESERVED_UNITS = Counter(names.RESERVED_UNITS_TOTAL, "Units of stock reserved.")
TRACKED_SKUS = Gauge(names.TRACKED_SKUS, "Products with stock tracked in memory.")
_REMEMBERED = 100_000


class Stock:
    """Available units per sku and the reservation of each order (idempotency)."""

    def __init__(self, initial: int):
        self._available: defaultdict[str, int] = defaultdict(lambda: initial)
        self._by_order: OrderedDict[int, str] = OrderedDict()
        self._lock = threading.Lock()

    def reserve(self, order_id: int, wanted: dict[str, int]) -> tuple[str, bool]:
        """(reservation id, newly reserved). Raises LookupError naming the short skus."""
        with self._lock:
            if order_id in self._by_order:
                return self._by_order[order_id], False
            short = [sku for sku, qty in wanted.items() if self._available[sku] < qty]
            if short:
                raise LookupError(
                    ", ".join(f"{sku} (have {self._available[sku]}, want {wanted[sku]})" for sku in short)
                )
            for sku, qty in wanted.items():
                self._available[sku] -= qty
            reservation = f"res_{uuid.uuid4().hex[:16]}"
            self._by_order[order_id] = reservation
            while len(self._by_order) > _REMEMBERED:
                self._by_order.popitem(last=False)
            TRACKED_SKUS.set(len(self._available))
            return reservation, True


class InventoryService(ring_pb2_grpc.InventoryServicer):
    def __init__(self, settings: ServiceB, agent: FaultAgent):
        self.flags = agent.flags
        self.stock = Stock(settings.initial_stock)
        self.pricing = ring_pb2_grpc.PricingStub(grpc_channel("service-c", settings.service_c_addr, agent))

    def Reserve(self, request: ring_pb2.ReserveRequest, context: grpc.ServicerContext) -> ring_pb2.ReserveReply:
        problem = order_problem(request)
        if problem:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, problem)
        wanted: dict[str, int] = {}
        for item in request.items:
            wanted[item.sku] = wanted.get(item.sku, 0) + item.quantity
        try:
            reservation, new = self.stock.reserve(request.order_id, wanted)
        except LookupError as exc:
            RESERVATIONS.labels("insufficient").inc()
            context.abort(grpc.StatusCode.FAILED_PRECONDITION, f"insufficient stock: {exc}")
        RESERVATIONS.labels("reserved" if new else "replayed").inc()
        if new:
            RESERVED_UNITS.inc(sum(wanted.values()))
        try:
            quote = self.pricing.Quote(
                ring_pb2.QuoteRequest(
                    order_id=request.order_id,
                    customer_id=request.customer_id,
                    customer_tier=request.customer_tier,
                    currency=request.currency,
                    items=request.items,
                ),
                timeout=self.flags.get("service_c_timeout_s") or None,
            )
        except grpc.RpcError as exc:
            context.abort(exc.code(), f"service-c: {exc.details() or exc.code().name}")
        return ring_pb2.ReserveReply(reservation_id=reservation, quote=quote)


def build(runtime: ServiceRuntime) -> GrpcService:
    settings = load(ServiceB)
    agent = runtime.agent(settings)
    inventory = InventoryService(settings, agent)
    return GrpcService(
        NAME,
        lambda server: ring_pb2_grpc.add_InventoryServicer_to_server(inventory, server),
        service=ring_pb2.DESCRIPTOR.services_by_name["Inventory"],
        host=runtime.common.bind_host,
        grpc_port=settings.grpc_port,
        http_port=settings.http_port,
        threads=settings.handler_threads,
        agent=agent,
        access_log=runtime.common.access_log,
    ).attach(runtime)


def main() -> int:
    return run(NAME, build)
