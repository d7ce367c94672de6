"""The gateway's HTTP API: ``POST /v1/charges`` and ``POST /v1/charges/void``, both keyed by Idempotency-Key.

Like a real payment provider it remembers every key's outcome: a repeated charge gets the first
answer and is charged once; a void settles a key that was never charged, so that a charge still on its
way with that key is refused when it arrives (payment's recovery relies on it). A restart forgets every
key: this is a simulation, and its memory is the process's.
"""

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
from chaoslab.inputs import idempotency_key, json_int
from chaoslab.services.common.errors import ApiError, bad_request
from chaoslab.services.common.health import Health
from chaoslab.services.common.runtime import ServiceRuntime, run
from chaoslab.services.common.web import HttpServer, json_body
from chaoslab.services.common.web import create_app as create_http_app
from chaoslab.settings import Common, Gateway, load
from chaoslab.telemetry import names

NAME = "gateway"
CHARGES = Counter(names.GATEWAY_CHARGES_TOTAL, "Charges answered by the simulated gateway, by status.", ["status"])
VOIDS = Counter(
    names.GATEWAY_VOIDS_TOTAL, "Void requests by what the key held: voided (nothing), succeeded or declined.", ["found"]
)
MAX_MINOR = 10**14  # 999,999,999,999.99 in cents: more than payment's NUMERIC(12,2) can ask for
_REMEMBERED = 100_000  # idempotency keys kept, like a real gateway's 24 h window
_CURRENCY = re.compile(r"^[A-Z]{3}$")


class ChargeBook:
    """Idempotency-key → outcome (a charge, a decline or a void); a key seen twice returns the first answer."""

    def __init__(self) -> None:
        self._charges: OrderedDict[str, dict] = OrderedDict()
        self._in_flight: set[str] = set()
        self._lock = threading.Lock()

    def begin(self, key: str, amount_minor: int) -> dict | None:
        with self._lock:
            existing = self._charges.get(key)
            if existing is not None:
                if existing["status"] == "voided":
                    raise ApiError(409, "charge_voided", f"Idempotency-Key {key!r} was voided; nothing was charged")
                if existing["amount_minor"] != amount_minor:
                    raise ApiError(
                        409, "idempotency_mismatch", f"Idempotency-Key {key!r} was used for a different amount"
                    )
                return existing
            if key in self._in_flight:
                raise ApiError(409, "request_in_progress", f"a charge with Idempotency-Key {key!r} is in progress")
            self._in_flight.add(key)
            return None

    def void(self, key: str) -> dict:
        """The key's outcome if it has one; otherwise it becomes voided, so no charge can use it."""
        with self._lock:
            existing = self._charges.get(key)
            if existing is not None:
                return existing
            if key in self._in_flight:
                raise ApiError(409, "request_in_progress", f"a charge with Idempotency-Key {key!r} is in progress")
            voided = {"id": None, "status": "voided", "idempotency_key": key}
            self._remember(key, voided)
            return voided

    def _remember(self, key: str, outcome: dict) -> None:
        self._charges[key] = outcome
        while len(self._charges) > _REMEMBERED:
            self._charges.popitem(last=False)

    def finish(self, key: str, charge: dict | None) -> None:
        with self._lock:
            self._in_flight.discard(key)
            if charge is not None:
                self._remember(key, charge)


def create_app(settings: Gateway | None = None, common: Common | None = None, agent: FaultAgent | None = None) -> Flask:
    settings = settings or load(Gateway)
    common = common or load(Common)
    app = create_http_app(NAME, Health(), max_body_bytes=8192, access_log=common.access_log, agent=agent)
    book = ChargeBook()
    rng = random.Random()

    def key_header() -> str:
        key = idempotency_key(request.headers.get("Idempotency-Key"))
        if key is None:
            raise bad_request("an Idempotency-Key header (1 to 255 printable ASCII characters) is required")
        return key

    @app.post("/v1/charges")
    def charge():
        key = key_header()
        body = json_body()
        amount_minor = json_int(body.get("amount_minor"), "amount_minor", 1, MAX_MINOR)
        currency = body.get("currency")
        if not isinstance(currency, str) or not _CURRENCY.fullmatch(currency):
            raise bad_request("currency must be a three-letter ISO code such as USD")
        reference = body.get("reference", "")
        if not isinstance(reference, str) or len(reference) > 200:
            raise bad_request("reference must be a string of at most 200 characters")
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
                "reference": reference,
            }
        finally:
            book.finish(key, result)
        CHARGES.labels(status).inc()
        return jsonify(result), 201 if status == "succeeded" else 402

    @app.post("/v1/charges/void")
    def void():
        """Settle a key: its charge or decline if it has one (200), else ``voided`` (200): never charged."""
        outcome = book.void(key_header())
        VOIDS.labels(outcome["status"]).inc()
        return jsonify(outcome)

    return app


def build(runtime: ServiceRuntime) -> HttpServer:
    settings = load(Gateway)
    return runtime.serve_http(create_app(settings, runtime.common, runtime.agent(settings)), settings)


def main() -> int:
    return run(NAME, build)
