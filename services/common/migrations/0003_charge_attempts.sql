-- Charged but never paid: a checkout whose payment call timed out after the gateway had
-- captured the money left the order `pending` forever. Now the order records each charge attempt
-- before payment is called, so service-a's recovery loop can ask payment how it ended, by key.
ALTER TABLE shop.orders ADD COLUMN IF NOT EXISTS charge_key text;          -- the attempt's idempotency key
ALTER TABLE shop.orders ADD COLUMN IF NOT EXISTS charge_attempts int NOT NULL DEFAULT 0;
ALTER TABLE shop.orders ADD COLUMN IF NOT EXISTS charge_started_at timestamptz;
CREATE UNIQUE INDEX IF NOT EXISTS orders_charge_key_idx ON shop.orders (charge_key);
-- The recovery loop's scan: only pending orders, oldest first.
CREATE INDEX IF NOT EXISTS orders_pending_idx ON shop.orders (created_at) WHERE status = 'pending';

-- One fulfilment event per order, ever (the outbox may publish it again; it never holds two).
CREATE UNIQUE INDEX IF NOT EXISTS outbox_order_topic_idx ON shop.outbox (order_id, topic);

-- The key each ledger entry was charged under (NULL for entries written before this migration).
ALTER TABLE ledger.entries ADD COLUMN IF NOT EXISTS charge_key text;
CREATE UNIQUE INDEX IF NOT EXISTS entries_charge_key_idx ON ledger.entries (charge_key);

-- Charge keys resolved as "no charge": payment refuses them for good, so a charge still in flight
-- when an order was marked payment_failed can never land afterwards.
CREATE TABLE IF NOT EXISTS ledger.voids (
    charge_key  text PRIMARY KEY,
    order_id    bigint NOT NULL,
    voided_at   timestamptz NOT NULL DEFAULT now()
);
