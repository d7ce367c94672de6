"""service-b (inventory): reserves stock for an order, then asks service-c to price it.

Stock lives in memory, seeded per product at ``SERVICE_B_INITIAL_STOCK``;
reservations are idempotent per order, so a retried checkout reserves once.
"""

from chaoslab.services.service_b.app import InventoryService, main

__all__ = ["InventoryService", "main"]
