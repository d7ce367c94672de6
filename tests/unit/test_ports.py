import multiprocessing
import socket
import time
from concurrent.futures import ProcessPoolExecutor

import pytest

from chaoslab.local.daemon import preferred_ports, service_env
from chaoslab.local.ports import HELD_S, PICKED_FROM, allocate, ephemeral_range, free_port, is_free, reserve


def test_preferred_mode_keeps_free_documented_ports_and_moves_taken_ones():
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        taken = busy.getsockname()[1]
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            free = probe.getsockname()[1]
        chosen = allocate({"a": taken, "b": free}, "preferred")
    assert chosen["b"] == free
    assert chosen["a"] != taken and chosen["a"] != free


def test_random_mode_gives_distinct_free_ports():
    chosen = allocate(preferred_ports(), "random")
    assert len(set(chosen.values())) == len(chosen)
    assert all(is_free(port) for port in chosen.values())


def test_local_wiring_points_every_peer_at_the_peers_allocated_port():
    ports = allocate(preferred_ports(), "random")
    env = service_env(ports, "postgresql://x", "redis://y")
    assert env["service-a"]["SERVICE_A_SERVICE_B_ADDR"] == f"127.0.0.1:{ports['service-b.grpc']}"
    assert env["service-a"]["SERVICE_A_PAYMENT_URL"] == f"http://127.0.0.1:{ports['payment.http']}"
    assert env["service-c"]["SERVICE_C_SERVICE_A_URL"] == f"http://127.0.0.1:{ports['service-a.http']}"
    assert env["payment"]["PAYMENT_GATEWAY_URL"] == f"http://127.0.0.1:{ports['gateway.http']}"
    assert env["service-b"]["SERVICE_B_GRPC_PORT"] == str(ports["service-b.grpc"])
    assert all(e["OTEL_EXPORTER_OTLP_ENDPOINT"] == f"http://127.0.0.1:{ports['labd']}" for e in env.values())


def test_random_ports_stay_out_of_the_range_outgoing_connections_use():
    """An outgoing connection takes its local port from the ephemeral range; a lab port chosen there
    could be taken between the choice and the bind (a crash-looping service)."""
    low, _ = ephemeral_range()
    chosen = allocate(preferred_ports(), "random")
    assert all(PICKED_FROM <= port < low for port in chosen.values()), chosen


def test_a_port_handed_out_is_not_handed_out_again_while_it_is_held():
    """Two labs starting together each take a dozen ports before any service binds one: a random draw
    alone repeats within a few hundred draws (a CI run's two labs once drew the same port)."""
    drawn = [free_port() for _ in range(400)]
    assert len(set(drawn)) == len(drawn)


def test_two_processes_drawing_at_once_never_share_a_port():
    with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")) as pool:
        first, second = pool.map(draw_many, [200, 200])
    assert not set(first) & set(second) and len(set(first)) == 200 == len(set(second))


def draw_many(count: int) -> list[int]:
    return [free_port() for _ in range(count)]


def test_a_claim_is_held_for_a_while_then_may_be_taken_over():
    port = free_port()
    now = time.time()
    assert not reserve(port, now), "held by the draw that returned it"
    assert reserve(port, now + HELD_S + 1), "a claim older than HELD_S is stale"
    assert not reserve(port), "the new claim holds it again"


def test_a_port_left_in_time_wait_by_a_stopped_server_is_free_again():
    """A server (SO_REUSEADDR, like every server of the lab) closed a connection first and then stopped
    listening: the port sits in TIME_WAIT, which refuses a plain bind but not the next server's."""
    with socket.socket() as listener:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        client = socket.create_connection(("127.0.0.1", port))
        accepted, _ = listener.accept()
        accepted.close()  # the server closes first: its side of the connection ends in TIME_WAIT
        client.close()
    with socket.socket() as plain, pytest.raises(OSError):
        plain.bind(("127.0.0.1", port))
    assert is_free(port)
    assert allocate({"service-a.http": port}, "preferred") == {"service-a.http": port}
