"""service-a (orders): the lab's public HTTP API and the start of every checkout.

``POST /checkout`` creates the order, asks service-b (which asks service-c) to
reserve and price it, has payment charge it, and marks it paid together with
an outbox event in one transaction. The outbox relay publishes the event to
the Redis stream the worker fulfils from. An ``Idempotency-Key`` makes a
retried checkout return the same order and charge once.
"""

from chaoslab.services.service_a.app import create_app, main

__all__ = ["create_app", "main"]
