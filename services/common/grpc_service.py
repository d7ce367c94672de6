"""What a gRPC service of the ring runs beside its servicer: the standard health service,
and an HTTP listener for /health/*, /metrics (every service has them, gRPC or not).

The health service answers for the server as a whole (``""``) and for the service it serves by its
full name (``chaoslab.v1.Inventory``), as a client that checks the service it is about to call asks;
both go NOT_SERVING when the process starts to shut down."""

from __future__ import annotations

import grpc
from google.protobuf.descriptor import ServiceDescriptor
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from chaoslab.chaos.agent import FaultAgent
from chaoslab.services.common.grpc_peers import grpc_server
from chaoslab.services.common.health import Health, reason
from chaoslab.services.common.runtime import ServiceRuntime
from chaoslab.services.common.web import HttpServer, create_app


class GrpcService:
    """A started gRPC server (port 0 allowed) plus its HTTP side, stopped by the runtime. ``service``
    is the descriptor of what ``register`` adds to the server (``ring_pb2.DESCRIPTOR.services_by_name``):
    its methods are the routes faults can aim at, its name the one the health service answers for."""

    def __init__(
        self,
        name: str,
        register,
        *,
        service: ServiceDescriptor,
        host: str,
        grpc_port: int,
        http_port: int,
        threads: int,
        agent: FaultAgent | None = None,
        access_log: bool = True,
        health_checks: Health | None = None,
    ):
        self.name = name
        self.server = grpc_server(threads, name, agent)
        register(self.server)
        methods = [method.name for method in service.methods]
        if agent is not None:
            agent.route_sources.append(lambda: methods)
        self.health_servicer = health.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(self.health_servicer, self.server)
        self.grpc_port = self.server.add_insecure_port(f"{host}:{grpc_port}")
        if self.grpc_port == 0:
            raise OSError(f"{name}: cannot listen on {host}:{grpc_port} (port in use?)")
        self.server.start()
        self.served = ("", service.full_name)
        for served in self.served:
            self.health_servicer.set(served, health_pb2.HealthCheckResponse.SERVING)

        self._probe_channel = grpc.insecure_channel(f"127.0.0.1:{self.grpc_port}")
        self._probe = health_pb2_grpc.HealthStub(self._probe_channel)
        self.health = health_checks or Health()
        self.health.ready_check("grpc", self._grpc_serving)
        self.app = create_app(name, self.health, max_body_bytes=1024, access_log=access_log)
        self.http = HttpServer(self.app, host, http_port, 4, name).start()

    def _grpc_serving(self) -> None:
        """Readiness asks our own gRPC port, over the network, whether it is serving."""
        try:
            reply = self._probe.Check(health_pb2.HealthCheckRequest(service=""), timeout=1.0)
        except grpc.RpcError as exc:
            raise RuntimeError(f"its gRPC port {self.grpc_port} does not answer ({reason(exc)})") from None
        if reply.status != health_pb2.HealthCheckResponse.SERVING:
            raise RuntimeError(f"gRPC health is {health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)}")

    def stop(self) -> None:
        self.health_servicer.enter_graceful_shutdown()
        self.http.stop()
        self.server.stop(grace=2).wait(3)
        self._probe_channel.close()

    def attach(self, runtime: ServiceRuntime) -> GrpcService:
        self.health.unready_when(runtime.stopping)
        runtime.on_shutdown(self.stop)
        return self
