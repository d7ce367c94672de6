"""The gateway as payment calls it: every call under the charge attempt's key, behind a circuit breaker.

The breaker counts a 5xx, a timeout and a refused connection alike, so a gateway that keeps failing
makes charges fail fast (503) instead of queueing each one behind its timeout. Whether the breaker
is in the way is asked per call: the ``gateway_breaker`` setting changes at run time.
"""

from __future__ import annotations

from collections.abc import Callable

import pybreaker
import requests

from chaoslab.services.common.errors import DependencyDown, upstream_failed
from chaoslab.services.common.peers import HttpPeer


class GatewayFailed(Exception):
    """A 5xx from the gateway: a failure for the circuit breaker, not a decline."""

    def __init__(self, response: requests.Response):
        super().__init__(f"gateway answered {response.status_code}")
        self.response = response


class GatewayClient:
    def __init__(self, peer: HttpPeer, breaker: pybreaker.CircuitBreaker, breaker_on: Callable[[], bool]):
        self.peer = peer
        self.breaker = breaker
        self.breaker_on = breaker_on

    def post(self, path: str, key: str, order_id: int, body: dict | None = None) -> requests.Response:
        """POST ``body`` under the Idempotency-Key ``key``. A 5xx raises a 502, an open circuit a 503, a
        timeout a 504 (ApiError); any other answer is returned for the caller to read."""
        try:
            if self.breaker_on():
                with self.breaker.calling():
                    return self._send(path, key, body)
            return self._send(path, key, body)
        except GatewayFailed as exc:
            raise upstream_failed(
                self.peer.name, f"gateway answered {exc.response.status_code} for order {order_id}"
            ) from None
        except pybreaker.CircuitBreakerError:
            raise DependencyDown(
                self.peer.name,
                f"the gateway failed {self.breaker.fail_max} times in a row; "
                f"failing fast for {self.breaker.reset_timeout:g}s (circuit open)",
            ) from None

    def _send(self, path: str, key: str, body: dict | None) -> requests.Response:
        response = self.peer.call("POST", path, f"POST {path}", json=body or {}, headers={"Idempotency-Key": key})
        if response.status_code >= 500:
            raise GatewayFailed(response)
        return response
