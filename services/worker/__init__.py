"""worker: fulfils paid orders from the Redis stream and marks them fulfilled in PostgreSQL.

Delivery is at least once and processing is idempotent: an entry is
acknowledged only after the fulfilment is committed, a worker killed mid-job
leaves its entry pending and takes it back on restart (or another worker
claims it after ``WORKER_CLAIM_IDLE_MS``), and ``shop.fulfilments`` holds one
row per order however often a job runs.
"""

from chaoslab.services.worker.app import Fulfiller, main

__all__ = ["Fulfiller", "main"]
