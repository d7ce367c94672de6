"""What the ring's gRPC services promise beside their methods: readiness says in one line why their
gRPC port does not answer."""

from __future__ import annotations

import pytest

from chaoslab.chaos.agent import FaultAgent
from chaoslab.services.common.flags import Flags
from chaoslab.services.common.grpc_service import GrpcService
from chaoslab.services.rpc import ring_pb2_grpc
from chaoslab.services.service_c.app import Pricing
from chaoslab.settings import ServiceC, load


@pytest.fixture
def pricing():
    """service-c's servicer on a real gRPC server on a free loopback port."""
    settings = load(ServiceC, {})
    agent = FaultAgent("service-c", Flags("service-c", settings))
    servicer = Pricing(settings, agent)
    service = GrpcService(
        "service-c",
        lambda server: ring_pb2_grpc.add_PricingServicer_to_server(servicer, server),
        methods=["Quote"],
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
