"""The Flask app every HTTP-speaking service starts from, and the production server that runs it.

Every app gets the same health endpoints, ``/metrics``, RED metrics per route,
a JSON access log line with trace ids, and JSON errors: a malformed request is
a 4xx that says what is wrong, never an HTML page or a 500.
"""
from __future__ import annotations

import logging
import time

from flask import Flask, Response, g, jsonify, request
from opentelemetry.instrumentation.flask import FlaskInstrumentor
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from werkzeug.exceptions import HTTPException

from chaoslab.services.common.errors import ApiError
from chaoslab.services.common.health import Health
from chaoslab.telemetry.metrics import HTTP_DURATION, HTTP_IN_FLIGHT, HTTP_REQUESTS
from chaoslab.wsgi import HttpServer

__all__ = ["HttpServer", "create_app", "json_body"]

log = logging.getLogger("chaoslab.http")
_UNTRACED = "/health/.*,/metrics"


def create_app(name: str, health: Health, *, max_body_bytes: int | None = None,
               access_log: bool = True) -> Flask:
    app = Flask(name)
    app.json.sort_keys = False
    app.config["MAX_CONTENT_LENGTH"] = max_body_bytes

    @app.get("/health/live")
    def live():
        ok, checks = health.live()
        return jsonify(status="live" if ok else "wedged", checks=checks), 200 if ok else 503

    @app.get("/health/ready")
    def ready():
        ok, checks = health.ready()
        return jsonify(status="ready" if ok else "unready", checks=checks), 200 if ok else 503

    @app.get("/metrics")
    def metrics():
        return Response(generate_latest(), mimetype=CONTENT_TYPE_LATEST)

    @app.errorhandler(ApiError)
    def api_error(exc: ApiError):
        return jsonify(exc.body()), exc.status

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        message = exc.description or exc.name
        if exc.code == 413:
            message = f"request body larger than {max_body_bytes} bytes"
        elif exc.code == 405:
            message = f"{request.method} is not allowed on {request.path}; allowed: {', '.join(exc.valid_methods or [])}"
        elif exc.code == 404:
            message = f"no route {request.method} {request.path}"
        return jsonify(error=exc.name.lower().replace(" ", "_"), message=message), exc.code

    @app.errorhandler(Exception)
    def unexpected(exc: Exception):
        log.exception("unhandled error")
        return jsonify(error="internal_error", message="unexpected error; the service log has the trace id"), 500

    @app.before_request
    def start_timer():
        g.started = time.perf_counter()
        HTTP_IN_FLIGHT.inc()

    @app.after_request
    def record(response):
        route = request.url_rule.rule if request.url_rule is not None else "unmatched"
        elapsed = time.perf_counter() - g.get("started", time.perf_counter())
        HTTP_REQUESTS.labels(request.method, route, str(response.status_code)).inc()
        HTTP_DURATION.labels(request.method, route).observe(elapsed)
        if access_log and not route.startswith(("/health", "/metrics")):
            log.info("%s %s %s", request.method, request.path, response.status_code, extra={"fields": {
                "http.method": request.method, "http.route": route, "http.status": response.status_code,
                "duration_ms": round(elapsed * 1000, 2)}})
        return response

    @app.teardown_request
    def done(_exc):
        HTTP_IN_FLIGHT.dec()

    FlaskInstrumentor().instrument_app(app, excluded_urls=_UNTRACED)
    return app


def json_body(max_bytes: int | None = None) -> dict:
    """The request's JSON object, or an ApiError(400) saying what is wrong with it."""
    from chaoslab.services.common.errors import bad_request

    if not request.is_json:
        raise bad_request("expected a JSON body with Content-Type: application/json")
    body = request.get_json(silent=True)
    if body is None:
        raise bad_request("request body is not valid JSON")
    if not isinstance(body, dict):
        raise bad_request("request body must be a JSON object")
    return body
