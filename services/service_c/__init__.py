"""service-c (pricing): quotes an order — line totals, loyalty discount by tier, tax — in Decimal.

The loyalty tier normally arrives with the request. With
``SERVICE_C_LOYALTY_LOOKUP=sync`` service-c asks service-a for it
(``GET /customers/<id>``) while service-a is still waiting on the same
checkout: the A→B→C→A ring that becomes the lab's deadlock.
"""

from chaoslab.services.service_c.app import PricingService, main

__all__ = ["PricingService", "main"]
