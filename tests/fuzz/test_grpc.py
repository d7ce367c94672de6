"""Hypothesis against service-b's Inventory and service-c's Pricing, on real gRPC servers on loopback:
raw bytes that are not protobuf, protobuf with fields of the wrong wire type, and well-formed messages
with any values (negative quantities, NUL in a SKU, "1e999999" as a price, thousands of lines). An
answer may be any status but INTERNAL and UNKNOWN (a crash) or UNAVAILABLE (a dead server)."""

from __future__ import annotations

import grpc
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from chaoslab.chaos.agent import FaultAgent
from chaoslab.services.common.flags import Flags
from chaoslab.services.common.grpc_service import GrpcService
from chaoslab.services.rpc import ring_pb2, ring_pb2_grpc
from chaoslab.services.service_b.app import InventoryService
from chaoslab.services.service_c.app import PricingService
from chaoslab.settings import ServiceB, ServiceC, load

EXAMPLES = 300
"""Examples per method and strategy: the budget (a few seconds each)."""
CRASHES = {grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN, grpc.StatusCode.UNAVAILABLE}
METHODS = {"Reserve": "/chaoslab.v1.Inventory/Reserve", "Quote": "/chaoslab.v1.Pricing/Quote"}
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    phases=[Phase.explicit, Phase.generate, Phase.shrink],
    suppress_health_check=list(HealthCheck),
)


@pytest.fixture(scope="module")
def ring():
    """service-c, then service-b calling it, each a real gRPC server on a free loopback port."""
    settings_c = load(ServiceC, {})
    agent_c = FaultAgent("service-c", Flags("service-c", settings_c))
    pricing = PricingService(settings_c, agent_c)
    service_c = GrpcService(
        "service-c",
        lambda server: ring_pb2_grpc.add_PricingServicer_to_server(pricing, server),
        service=ring_pb2.DESCRIPTOR.services_by_name["Pricing"],
        host="127.0.0.1",
        grpc_port=0,
        http_port=0,
        threads=4,
        agent=agent_c,
        access_log=False,
    )
    settings_b = load(ServiceB, {}, service_c_addr=f"127.0.0.1:{service_c.grpc_port}")
    agent_b = FaultAgent("service-b", Flags("service-b", settings_b))
    inventory = InventoryService(settings_b, agent_b)
    service_b = GrpcService(
        "service-b",
        lambda server: ring_pb2_grpc.add_InventoryServicer_to_server(inventory, server),
        service=ring_pb2.DESCRIPTOR.services_by_name["Inventory"],
        host="127.0.0.1",
        grpc_port=0,
        http_port=0,
        threads=4,
        agent=agent_b,
        access_log=False,
    )
    channels = {
        "Reserve": grpc.insecure_channel(f"127.0.0.1:{service_b.grpc_port}"),
        "Quote": grpc.insecure_channel(f"127.0.0.1:{service_c.grpc_port}"),
    }
    yield {name: channel.unary_unary(METHODS[name]) for name, channel in channels.items()}  # bytes in, bytes out
    for channel in channels.values():
        channel.close()
    service_b.stop()
    service_c.stop()
    agent_b.close()
    agent_c.close()


def call(ring, sent, method: str, payload: bytes, strategy: str) -> None:
    sent[f"grpc {method} ({strategy})"] += 1
    try:
        ring[method](payload, timeout=10)
    except grpc.RpcError as exc:
        assert exc.code() not in CRASHES, f"{method} answered {exc.code().name}: {exc.details()} to {payload[:80]!r}"


# ---- strategies -------------------------------------------------------------------------------

INT64 = st.integers(min_value=-(2**63), max_value=2**63 - 1)
INT32 = st.integers(min_value=-(2**31), max_value=2**31 - 1)
TEXT = st.one_of(
    st.text(max_size=80),
    st.sampled_from(["", "SKU-1001", "SKU\x00", "gold", "USD", "NaN", "-Infinity", "1e999999", "0.001", "-1.00"]),
    st.text(alphabet="0123456789.eE-+", max_size=40),
)
LINE = st.builds(ring_pb2.LineItem, sku=TEXT, quantity=INT32, unit_price=TEXT)
FIELDS = {
    "order_id": INT64,
    "customer_id": INT64,
    "customer_tier": TEXT,
    "currency": TEXT,
    "items": st.lists(LINE, max_size=30),
}


def message(kind):
    return st.fixed_dictionaries({}, optional=FIELDS).map(lambda fields: kind(**fields).SerializeToString())


def _varint(n: int) -> bytes:
    out = bytearray()
    n &= (1 << 64) - 1
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


@st.composite
def wire_fields(draw) -> bytes:
    """Fields 1-6 with any wire type: a varint where a string belongs, a string where a number does,
    a nested message (items) made of garbage, invalid UTF-8 in a string field."""
    out = b""
    for _ in range(draw(st.integers(1, 8))):
        number, wire = draw(st.integers(1, 6)), draw(st.sampled_from([0, 1, 2, 5]))
        out += _varint(number << 3 | wire)
        if wire == 0:
            out += _varint(draw(st.integers(0, 2**64 - 1)))
        elif wire == 1:
            out += draw(st.binary(min_size=8, max_size=8))
        elif wire == 5:
            out += draw(st.binary(min_size=4, max_size=4))
        else:
            payload = draw(st.one_of(st.binary(max_size=64), st.just(b"\xff\xfe\xc3\x28")))
            out += _varint(len(payload)) + payload
    return out


# ---- the properties ---------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["Reserve", "Quote"])
def test_bytes_that_are_not_protobuf_are_refused_not_crashed_on(ring, sent, method):
    @FUZZ
    @given(payload=st.binary(max_size=512))
    def run(payload):
        call(ring, sent, method, payload, "raw bytes")

    run()


@pytest.mark.parametrize("method", ["Reserve", "Quote"])
def test_fields_of_the_wrong_wire_type_are_refused_not_crashed_on(ring, sent, method):
    @FUZZ
    @given(payload=wire_fields())
    def run(payload):
        call(ring, sent, method, payload, "wrong wire types")

    run()


@pytest.mark.parametrize("method,kind", [("Reserve", ring_pb2.ReserveRequest), ("Quote", ring_pb2.QuoteRequest)])
def test_well_formed_messages_with_any_values_are_answered_not_crashed_on(ring, sent, method, kind):
    @FUZZ
    @given(payload=message(kind))
    def run(payload):
        call(ring, sent, method, payload, "any values")

    run()
