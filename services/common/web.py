"""The Flask app every HTTP-speaking service starts from, and the production server that runs it.

Every app gets the same health endpoints, ``/metrics``, RED metrics per route,
a JSON access log line with trace ids, and JSON errors: a malformed request is
a 4xx that says what is wrong, never an HTML page or a 500.
"""

from __future__ import annotations

import logging
import time

from flask import Flask, Response, g, jsonify, request
from opentelemetry import context as context_api
from opentelemetry import trace
from opentelemetry.propagate import extract
from opentelemetry.trace import SpanKind, Status, StatusCode
from prometheus_client import CONTENT_TYPE_LATEST
from werkzeug.exceptions import HTTPException
from werkzeug.http import HTTP_STATUS_CODES

from chaoslab.chaos.agent import Effect, FaultAgent
from chaoslab.inputs import InputError, has_control, parse_json
from chaoslab.services.common.errors import ApiError, bad_request
from chaoslab.services.common.health import Health
from chaoslab.telemetry.logs import access_log as access_log_of_this_process
from chaoslab.telemetry.metrics import (
    HTTP_DB_STATEMENTS,
    HTTP_DURATION,
    HTTP_IN_FLIGHT,
    HTTP_REQUESTS,
    exposition,
    statements_in_request,
)
from chaoslab.telemetry.tracing import tracer
from chaoslab.wsgi import HttpServer

__all__ = ["HttpServer", "create_app", "error_headers", "json_body"]

log = logging.getLogger("chaoslab.http")
_UNTRACED = ("/health/", "/metrics", "/openapi.json")
_tracer = tracer("chaoslab.http")


def create_app(
    name: str,
    health: Health,
    *,
    max_body_bytes: int | None = None,
    access_log: bool = True,
    agent: FaultAgent | None = None,
) -> Flask:
    app = Flask(name)
    requests_log = access_log_of_this_process() if access_log else None
    if agent is not None:
        agent.route_sources.append(
            lambda: [
                rule.rule for rule in app.url_map.iter_rules() if not rule.rule.startswith(_UNTRACED + ("/static",))
            ]
        )
    app.json.sort_keys = False
    app.config["MAX_CONTENT_LENGTH"] = max_body_bytes
    app.extensions["chaoslab.health"] = health  # the runtime makes it unready first on shutdown

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
        return Response(exposition(), mimetype=CONTENT_TYPE_LATEST)

    @app.errorhandler(ApiError)
    def api_error(exc: ApiError):
        return jsonify(exc.body()), exc.status

    @app.errorhandler(InputError)
    def input_error(exc: InputError):
        return jsonify(bad_request(str(exc)).body()), 400

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        message = exc.description or exc.name
        if exc.code == 413:
            message = f"request body larger than {max_body_bytes} bytes"
        elif exc.code == 405:
            message = (
                f"{request.method} is not allowed on {request.path}; allowed: {', '.join(exc.valid_methods or [])}"
            )
        elif exc.code == 404:
            message = f"no route {request.method} {request.path}"
        return jsonify(error=exc.name.lower().replace(" ", "_"), message=message), exc.code, error_headers(exc)

    @app.errorhandler(Exception)
    def unexpected(exc: Exception):
        log.exception("unhandled error")
        return jsonify(error="internal_error", message="unexpected error; the service log has the trace id"), 500

    @app.before_request
    def start():
        g.started = time.perf_counter()
        g.statements = [0]
        g.statements_token = statements_in_request.set(g.statements)
        HTTP_IN_FLIGHT.inc()
        g.route = route = request.url_rule.rule if request.url_rule is not None else "unmatched"
        if not route.startswith(_UNTRACED):
            # A server span continuing the caller's W3C trace context. Hand-rolled rather than the
            # opentelemetry-instrumentation-flask middleware, which alone took bench/hop_overhead from
            # 1.3x to 1.6x the bare hop.
            span = _tracer.start_span(
                f"{request.method} {route}",
                context=extract(request.headers),
                kind=SpanKind.SERVER,
                attributes={"http.request.method": request.method, "http.route": route, "url.path": request.path},
            )
            g.span = span
            g.span_token = context_api.attach(trace.set_span_in_context(span))
            if agent is not None and agent.inbound_faults:
                effect = agent.inbound(route)
                if effect is not None:
                    return _inbound_fault(effect)
        if has_control(request.path):  # %00 would reach PostgreSQL (a 500), %0a a log line
            raise bad_request("the path contains a control character (NUL, newline, ...); remove it")

    @app.after_request
    def record(response):
        route = g.get("route", "unmatched")
        elapsed = time.perf_counter() - g.get("started", time.perf_counter())
        status = response.status_code
        HTTP_REQUESTS.labels(request.method, route, str(status)).inc()
        span = g.get("span")
        if span is not None:
            span.set_attribute("http.response.status_code", status)
            if status >= 500:
                span.set_status(Status(StatusCode.ERROR, f"HTTP {status}"))
            # hand the trace id to the caller: `chaoslab traces --trace <id>`
            response.headers["X-Trace-Id"] = format(span.get_span_context().trace_id, "032x")
        HTTP_DURATION.labels(request.method, route).observe(elapsed)
        if "statements" in g and not route.startswith(_UNTRACED):
            HTTP_DB_STATEMENTS.labels(route).observe(g.statements[0])
        if requests_log is not None and not route.startswith(_UNTRACED):
            requests_log.record(
                request.method,
                request.path,
                route,
                status,
                round(elapsed * 1000, 2),
                span.get_span_context() if span is not None else None,
            )
        return response

    @app.teardown_request
    def done(_exc):
        HTTP_IN_FLIGHT.dec()
        token = g.pop("statements_token", None)
        if token is not None:
            statements_in_request.reset(token)
        span = g.pop("span", None)
        if span is not None:
            context_api.detach(g.pop("span_token"))
            span.end()

    return app


def _inbound_fault(effect: Effect):
    """Delay, fail or hang this request as the fault says; None lets it through."""
    effect.sleep()
    status = effect.status
    if effect.hang is not None and effect.wait_hang(None):
        status = None  # lifted while we hung: carry on as if nothing happened
    if status is None:
        return None
    reason = HTTP_STATUS_CODES.get(status, "error")
    return jsonify(error=reason.lower().replace(" ", "_"), message=f"{reason}; try again later"), status


def error_headers(exc: HTTPException) -> list[tuple[str, str]]:
    """The headers an HTTP error carries besides its body, as werkzeug sets them (``Allow`` on a 405,
    which a client needs to know what the route takes), without werkzeug's HTML Content-Type: an API
    that answers its errors as JSON keeps them."""
    return [(name, value) for name, value in exc.get_headers() if name.lower() != "content-type"]


def json_body() -> dict:
    """The request's JSON object (strict: ``chaoslab.inputs.parse_json``), or a 4xx saying what is wrong:
    415 for a body that is not sent as JSON (RFC 9110: the content type is what is refused, not the
    content), 400 for JSON that is malformed or not an object."""
    if not request.is_json:
        raise ApiError(415, "unsupported_media_type", "expected a JSON body with Content-Type: application/json")
    body = parse_json(request.get_data(cache=True))
    if not isinstance(body, dict):
        raise bad_request("request body must be a JSON object")
    return body
