-- service-a's shop (customers, products, orders, outbox, fulfilments) and payment's ledger.
-- Money is NUMERIC(12,2): exact, like the Decimal the code uses.
CREATE SCHEMA IF NOT EXISTS shop;
CREATE SCHEMA IF NOT EXISTS ledger;

CREATE TABLE IF NOT EXISTS shop.customers (
    id          bigint PRIMARY KEY,
    name        text NOT NULL,
    email       text NOT NULL UNIQUE,
    tier        text NOT NULL CHECK (tier IN ('bronze', 'silver', 'gold')),
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS shop.products (
    sku         text PRIMARY KEY,
    name        text NOT NULL,
    unit_price  numeric(12,2) NOT NULL CHECK (unit_price > 0),
    currency    char(3) NOT NULL DEFAULT 'USD'
);

CREATE TABLE IF NOT EXISTS shop.orders (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    customer_id      bigint NOT NULL REFERENCES shop.customers(id),
    idempotency_key  text NOT NULL UNIQUE,
    request_hash     text NOT NULL,
    status           text NOT NULL DEFAULT 'pending'
                     CHECK (status IN ('pending', 'paid', 'payment_failed', 'fulfilled')),
    currency         char(3) NOT NULL DEFAULT 'USD',
    customer_tier    text,
    subtotal         numeric(12,2),
    discount         numeric(12,2),
    tax              numeric(12,2),
    total            numeric(12,2),
    reservation_id   text,
    payment_id       text,
    -- Set while one request drives the checkout; a concurrent retry gets 409 instead of racing it.
    lease_until      timestamptz,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    fulfilled_at     timestamptz
);
CREATE INDEX IF NOT EXISTS orders_customer_idx ON shop.orders (customer_id, id DESC);

CREATE TABLE IF NOT EXISTS shop.order_items (
    order_id    bigint NOT NULL REFERENCES shop.orders(id),
    line_no     int NOT NULL,
    sku         text NOT NULL REFERENCES shop.products(sku),
    quantity    int NOT NULL CHECK (quantity > 0),
    unit_price  numeric(12,2) NOT NULL,
    line_total  numeric(12,2),
    PRIMARY KEY (order_id, line_no)
);

-- Transactional outbox: written in the same transaction that marks an order paid,
-- published to Redis by service-a's relay. A Redis outage delays, never loses.
CREATE TABLE IF NOT EXISTS shop.outbox (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    topic          text NOT NULL,
    order_id       bigint NOT NULL REFERENCES shop.orders(id),
    trace_context  jsonb NOT NULL DEFAULT '{}',
    created_at     timestamptz NOT NULL DEFAULT now(),
    published_at   timestamptz,
    stream_id      text,           -- the Redis stream entry it became, to detect a lost entry
    attempts       int NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS outbox_unpublished_idx ON shop.outbox (id) WHERE published_at IS NULL;

-- One row per fulfilled order: the worker's idempotency record.
CREATE TABLE IF NOT EXISTS shop.fulfilments (
    order_id      bigint PRIMARY KEY REFERENCES shop.orders(id),
    worker        text NOT NULL,
    fulfilled_at  timestamptz NOT NULL DEFAULT now()
);

-- Money actually captured: one entry per order, ever.
CREATE TABLE IF NOT EXISTS ledger.entries (
    id                 bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    order_id           bigint NOT NULL UNIQUE,
    gateway_charge_id  text NOT NULL,
    amount             numeric(12,2) NOT NULL CHECK (amount >= 0),
    requested_amount   numeric(12,2) NOT NULL,
    currency           char(3) NOT NULL,
    money_math         text NOT NULL,
    created_at         timestamptz NOT NULL DEFAULT now()
);
