"""gateway: a small simulated third-party payment provider, upstream of payment.

It stands in for the card processor the lab does not own: it answers slowly
when told to, declines a configurable share of charges, and honours an
``Idempotency-Key`` the way real gateways do, so a retried charge is charged once.
"""

from chaoslab.services.gateway.app import create_app, main

__all__ = ["create_app", "main"]
