"""payment: charges an order through the upstream gateway and records it in the ledger.

Charging is idempotent per attempt: the gateway call carries the attempt's key (``order-<id>-<n>``,
recorded on the order by service-a) as its Idempotency-Key and the ledger holds one entry per order,
so retries and concurrent duplicates charge once. The ``money_math`` setting selects exact
``Decimal`` conversion (default) or the float bad deploy that drifts by cents.

``charges.py`` is the money path; ``app.py`` only wires it to HTTP.
"""

from chaoslab.services.payment.app import create_app, main

__all__ = ["create_app", "main"]
