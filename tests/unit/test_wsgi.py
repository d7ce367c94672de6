"""The services' HTTP server: a stop always stops, even when its wake-up pipe is gone."""

from __future__ import annotations

import logging
import socket

import requests
from flask import Flask

from chaoslab.wsgi import HttpServer


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
