"""What the ring's gRPC services promise beside their methods: the standard health service answers for
each service they serve, and readiness says in one line why their gRPC port does not answer."""

from __future__ import annotations

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from chaoslab.chaos.agent import FaultAgent
from chaoslab.services.common.flags import Flags
from chaoslab.services.common.grpc_service import GrpcService
from chaoslab.services.rpc import ring_pb2, ring_pb2_grpc
from chaoslab.services.service_c.app import PricingService
from chaoslab.settings import ServiceC, load

SERVED = {"service-b": "chaoslab.v1.Inventory", "service-c": "chaoslab.v1.Pricing"}
"""Each gRPC service of the ring and the service it serves, by the name in services/rpc/ring.proto."""


def health_of(address: str, service: str) -> str:
    with grpc.insecure_channel(address) as channel:
        reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(service=service), timeout=5)
    return health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)


@pytest.mark.parametrize("name", SERVED)
def test_grpc_health_answers_for_the_service_each_process_serves(lab, name):
    address = f"127.0.0.1:{lab.process(name)['ports']['grpc']}"
    assert health_of(address, SERVED[name]) == "SERVING"
    assert health_of(address, "") == "SERVING"
    with pytest.raises(grpc.RpcError) as unknown:
        health_of(address, "chaoslab.v1.NoSuchService")
    assert unknown.value.code() == grpc.StatusCode.NOT_FOUND


@pytest.fixture
def pricing():
    """service-c's servicer on a real gRPC server on a free loopback port."""
    settings = load(ServiceC, {})
    agent = FaultAgent("service-c", Flags("service-c", settings))
    servicer = PricingService(settings, agent)
    service = GrpcService(
        "service-c",
        lambda server: ring_pb2_grpc.add_PricingServicer_to_server(servicer, server),
        service=ring_pb2.DESCRIPTOR.services_by_name["Pricing"],
        host="127.0.0.1",
        grpc_port=0,
        http_port=0,
        threads=2,
        agent=agent,
        access_log=False,
    )
    yield service
    service.stop()
    agent.close()


def test_a_grpc_port_that_does_not_answer_is_one_readable_line_in_readiness(pricing):
    ready, _ = pricing.health.ready()
    assert ready
    pricing.server.stop(grace=None).wait(5)
    ready, checks = pricing.health.ready()
    reason = checks["grpc"]["reason"]
    assert not ready and checks["grpc"]["status"] == "down"
    assert f"its gRPC port {pricing.grpc_port} does not answer (UNAVAILABLE: " in reason, reason
    assert "\n" not in reason and "_InactiveRpcError" not in reason and len(reason) <= 200, reason


def test_shutting_down_turns_every_served_name_not_serving(pricing):
    address = f"127.0.0.1:{pricing.grpc_port}"
    assert health_of(address, "chaoslab.v1.Pricing") == "SERVING"
    pricing.health_servicer.enter_graceful_shutdown()
    assert {name: health_of(address, name) for name in pricing.served} == {
        "": "NOT_SERVING",
        "chaoslab.v1.Pricing": "NOT_SERVING",
    }
