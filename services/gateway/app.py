"""The gateway's HTTP API: ``POST /v1/charges``."""

from __future__ import annotations

import random
import re
import threading
import time
import uuid
from collections import OrderedDict

from flask import Flask, jsonify, request
from prometheus_client import Counter

from chaoslab.chaos.agent import FaultAgent
from chaoslab.services.common.errors import ApiError, bad_request
from chaoslab.services.common.health import Health
from chaoslab.services.common.runtime import ServiceRuntime, run
from chaoslab.services.common.web import HttpServer, json_body
from chaoslab.services.common.web import create_app as create_http_app
from chaoslab.settings import Common, Gateway, load

NAME = "gateway"
CHARGES = Counter("gateway_charges", "Charges answered by the simulated gateway, by status.", ["status"])
_REMEMBERED = 100_000  # idempotency keys kept, like a real gateway's 24 h window
_CURRENCY = re.compile(r"^[A-Z]{3}$")


class ChargeBook:
    """Idempotency-key → charge; a key seen twice returns the first answer, charged once."""

    def __init__(self) -> None:
        self._charges: OrderedDict[str, dict] = OrderedDict()
        self._in_flight: set[str] = set()
        self._lock = threading.Lock()

    def begin(self, key: str, amount_minor: int) -> dict | None:
        with self._lock:
            existing = self._charges.get(key)
            if existing is not None:
                if existing["amount_minor"] != amount_minor:
                    raise ApiError(
                        409, "idempotency_mismatch", f"Idempotency-Key {key!r} was used for a different amount"
                    )
                return existing
            if key in self._in_flight:
                raise ApiError(409, "request_in_progress", f"a charge with Idempotency-Key {key!r} is in progress")
            self._in_flight.add(key)
            return None

    def finish(self, key: str, charge: dict | None) -> None:
        with self._lock:
            self._in_flight.discard(key)
            if charge is not None:
                self._charges[key] = charge
                while len(self._charges) > _REMEMBERED:
                    self._charges.popitem(last=False)


def create_app(settings: Gateway | None = None, common: Common | None = None, agent: FaultAgent | None = None) -> Flask:
    settings = settings or load(Gateway)
    common = common or load(Common)
    app = create_http_app(NAME, Health(), max_body_bytes=8192, access_log=common.access_log, agent=agent)
    book = ChargeBook()
    rng = random.Random()

    @app.post("/v1/charges")
    def charge():
        key = request.headers.get("Idempotency-Key", "").strip()
        if not key or len(key) > 255:
            raise bad_request("an Idempotency-Key header (1 to 255 characters) is required")
        body = json_body()
        amount_minor = body.get("amount_minor")
        currency = body.get("currency")
        if not isinstance(amount_minor, int) or isinstance(amount_minor, bool) or amount_minor <= 0:
            raise bad_request("amount_minor must be a positive integer (cents)")
        if not isinstance(currency, str) or not _CURRENCY.match(currency):
            raise bad_request("currency must be a three-letter ISO code such as USD")
        existing = book.begin(key, amount_minor)
        if existing is not None:
            return jsonify(existing), 200 if existing["status"] == "succeeded" else 402
        result = None
        try:
            if settings.latency_ms:
                time.sleep(settings.latency_ms / 1000)  # the third party's own processing time
            status = "declined" if rng.random() < settings.decline_rate else "succeeded"
            result = {
                "id": f"ch_{uuid.uuid4().hex[:24]}",
                "status": status,
                "amount_minor": amount_minor,
                "currency": currency,
                "reference": str(body.get("reference", ""))[:100],
            }
        finally:
            book.finish(key, result)
        CHARGES.labels(status).inc()
        return jsonify(result), 201 if status == "succeeded" else 402

    return app


def build(runtime: ServiceRuntime) -> HttpServer:
    settings = load(Gateway)
    return runtime.serve_http(create_app(settings, runtime.common, runtime.agent(settings)), settings)


def main() -> int:
    return run(NAME, build)
