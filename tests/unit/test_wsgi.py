"""The services' HTTP server: a stop always stops, even when its wake-up pipe is gone."""

from __future__ import annotations

import logging
import os
import socket

import requests
from flask import Flask

from chaoslab.wsgi import HttpServer
from support import poll_until


def hello_app() -> Flask:
    app = Flask("hello")
    app.add_url_rule("/", "hello", lambda: "hello")
    return app


def refused(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


def test_stop_closes_the_port_and_ends_the_thread():
    server = HttpServer(hello_app(), "127.0.0.1", 0, 2, "hello").start()
    assert requests.get(server.url, timeout=5).text == "hello"
    server.stop()
    assert refused(server.port)
    assert not server._thread.is_alive()


def test_stop_still_stops_when_the_wake_up_pipe_is_gone(caplog):
    """waitress closes its trigger pipe after an error on it; a stop that woke the server's loop only
    through it failed with EBADF (a CI teardown did), and one that then closed the sockets from the
    stopping thread logged it. The loop now carries out the stop at its next poll, quietly."""
    caplog.set_level(logging.DEBUG, logger="chaoslab.wsgi")
    server = HttpServer(hello_app(), "127.0.0.1", 0, 2, "hello").start()
    assert requests.get(server.url, timeout=5).text == "hello"
    server._server.trigger.close()
    server.stop()
    assert refused(server.port)
    server._thread.join(timeout=10)
    assert not server._thread.is_alive()
    assert "no wake-up through the trigger" in caplog.text
    assert not [r for r in caplog.records if r.name == "chaoslab.wsgi" and r.levelno >= logging.WARNING]


def test_a_second_stop_is_harmless():
    server = HttpServer(hello_app(), "127.0.0.1", 0, 2, "hello").start()
    server.stop()
    server.stop()
    assert refused(server.port)


def test_a_descriptor_closed_under_the_poll_does_not_end_the_server():
    """select() fails on a closed descriptor (a CI run lost a server's loop so); the loop forgets it and
    serves on, and the stop still stops."""
    server = HttpServer(hello_app(), "127.0.0.1", 0, 2, "hello").start()
    listener, trigger = server._server.socket.fileno(), server._server.trigger.socket.fd
    idle = socket.create_connection(("127.0.0.1", server.port))  # a channel of its own in the loop's map
    try:
        channel = poll_until(
            lambda: next((fd for fd in server._server._map if fd not in (listener, trigger)), None), "the channel"
        )
        server._on_server_thread(lambda: os.close(channel))  # closed between two polls: the next select fails
        poll_until(lambda: channel not in server._server._map, "the loop to forget the closed descriptor")
        assert server._thread.is_alive() and requests.get(server.url, timeout=5).text == "hello"
    finally:
        idle.close()
    server.stop()
    assert refused(server.port)
    assert not server._thread.is_alive()
