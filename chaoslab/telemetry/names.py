"""The names of the metrics the services expose, one constant each.

The services register their metrics under these names, and everything that reads a metric (the alert
rules, the dashboards, the console, the incident's impact, the SLO checks, the diagnosis) names it
through them: a rename is one edit here, and a reader that misspells one fails at import, not by
silently reading nothing. Each constant is the series name as scraped: a counter's ends in
``_total`` (prometheus-client registers ``x_total`` as the family ``x``); a histogram's is its base,
which readers extend with ``_bucket``, ``_count`` or ``_sum``.
"""

# ---- every service (chaoslab.telemetry.metrics) ----------------------------------------------
HTTP_REQUESTS_TOTAL = "http_server_requests_total"
HTTP_DURATION = "http_server_request_duration_seconds"
HTTP_IN_FLIGHT = "http_server_requests_in_flight"
HTTP_DB_STATEMENTS = "http_server_db_statements"
RPC_REQUESTS_TOTAL = "rpc_server_requests_total"
RPC_DURATION = "rpc_server_duration_seconds"
RPC_IN_FLIGHT = "rpc_server_requests_in_flight"
OUTBOUND_REQUESTS_TOTAL = "outbound_requests_total"
OUTBOUND_DURATION = "outbound_request_duration_seconds"
BREAKER_OPEN = "circuit_breaker_open"
BUILD_INFO = "chaoslab_build_info"
RESIDENT_MEMORY = "process_resident_memory_bytes"
"""prometheus-client's process collector."""
CPU_SECONDS_TOTAL = "process_cpu_seconds_total"
"""prometheus-client's process collector."""
START_TIME = "process_start_time_seconds"
"""prometheus-client's process collector: a change is a restart."""

# ---- service-a: checkout, the outbox, recovery --------------------------------------------------
ORDERS_CREATED_TOTAL = "orders_created_total"
CHECKOUTS_TOTAL = "checkouts_total"
ORDERS_PAID_AMOUNT_TOTAL = "orders_paid_amount_total"
OUTBOX_BACKLOG = "outbox_backlog"
OUTBOX_PUBLISHED_TOTAL = "outbox_published_total"
OUTBOX_REDELIVERED_TOTAL = "outbox_redelivered_total"
OUTBOX_FAILED_ROUNDS_TOTAL = "outbox_relay_failed_rounds_total"
ORDERS_RECOVERED_TOTAL = "orders_recovered_total"

# ---- service-b (inventory) and service-c (pricing) --------------------------------------------
RESERVATIONS_TOTAL = "inventory_reservations_total"
RESERVED_UNITS_TOTAL = "inventory_reserved_units_total"
TRACKED_SKUS = "inventory_tracked_skus"
QUOTES_TOTAL = "pricing_quotes_total"
LOYALTY_LOOKUPS_TOTAL = "pricing_loyalty_lookups_total"

# ---- payment and its gateway --------------------------------------------------------------------
PAYMENT_PROCESSED_TOTAL = "payment_processed_total"
LEDGER_AMOUNT_TOTAL = "ledger_amount_total"
LEDGER_ENTRIES_TOTAL = "ledger_entries_total"
LEDGER_MISCHARGED_TOTAL = "ledger_mischarged_entries_total"
LEDGER_DRIFT = "ledger_drift_amount"
PAYMENT_RESOLUTIONS_TOTAL = "payment_resolutions_total"
GATEWAY_CHARGES_TOTAL = "gateway_charges_total"
GATEWAY_VOIDS_TOTAL = "gateway_voids_total"

# ---- worker --------------------------------------------------------------------------------------
JOBS_PROCESSED_TOTAL = "worker_jobs_processed_total"
JOB_DURATION = "worker_job_duration_seconds"
QUEUE_DEPTH = "queue_depth"
QUEUE_PENDING = "queue_pending"

EXPOSED = frozenset(value for key, value in dict(globals()).items() if key.isupper() and isinstance(value, str))
"""Every name above: what a scenario's SLO check may name (a histogram's base stands for its series)."""
