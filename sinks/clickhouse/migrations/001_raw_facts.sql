-- Raw facts, keyed by canonical performance id (from participation.facts).
-- Exactly once in effect: every table is a ReplacingMergeTree keyed by the fact id, so a
-- fact written twice (a retried batch, or a fact the streams forwarded twice) is one row
-- under FINAL; inserts also carry a deduplication token per batch, which the
-- deduplication window below honours, so a retried batch does not even add raw rows.
-- No raw personal data: buyers appear only as the connector's HMAC pseudonym, a 4-digit
-- postcode area, a country and a birth year.

CREATE TABLE IF NOT EXISTS ticket_facts
(
    fact_id String,
    performance_id String,
    performance_key String,
    event_type LowCardinality(String),
    event_time DateTime64(3, 'UTC'),
    ingested_at DateTime64(3, 'UTC'),
    quantity UInt32,
    ticket_type LowCardinality(String),
    price_cents Int64,
    currency LowCardinality(String),
    channel LowCardinality(String),
    source LowCardinality(String),
    source_account LowCardinality(String),
    buyer_id_hash String,
    postcode_area LowCardinality(String),
    country LowCardinality(String),
    birth_year Nullable(UInt16),
    kafka_partition UInt16,
    kafka_offset UInt64,
    written_at DateTime64(3, 'UTC') DEFAULT now64(3),
    -- Net effect on sold tickets and revenue (the streams' rule: CANCELLED and REFUNDED
    -- both take tickets and their price back).
    tickets_delta Int32 MATERIALIZED multiIf(event_type = 'SOLD', toInt32(quantity),
        event_type IN ('CANCELLED', 'REFUNDED'), -toInt32(quantity), 0),
    revenue_delta_cents Int64 MATERIALIZED toInt64(tickets_delta) * price_cents
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(event_time)
ORDER BY (performance_id, fact_id)
SETTINGS non_replicated_deduplication_window = 10000;

CREATE TABLE IF NOT EXISTS sales_snapshots
(
    fact_id String,
    performance_id String,
    performance_key String,
    event_time DateTime64(3, 'UTC'),
    ingested_at DateTime64(3, 'UTC'),
    source LowCardinality(String),
    source_account LowCardinality(String),
    line_ticket_types Array(LowCardinality(String)),
    line_tickets Array(Int32),
    line_revenue_cents Array(Int64),
    reservations Int32,
    reservations_value_cents Int64,
    blocked_seats Int32,
    blocked_value_cents Int64,
    capacity Nullable(Int32),
    currency LowCardinality(String),
    kafka_partition UInt16,
    kafka_offset UInt64,
    written_at DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(event_time)
ORDER BY (performance_id, fact_id)
SETTINGS non_replicated_deduplication_window = 10000;

-- One row per canonical performance under FINAL: the latest modification (event time) wins.
CREATE TABLE IF NOT EXISTS performances
(
    performance_id String,
    fact_id String,
    event_time DateTime64(3, 'UTC'),
    ingested_at DateTime64(3, 'UTC'),
    source LowCardinality(String),
    source_account LowCardinality(String),
    performance_key String,
    production_id String,
    title String,
    genre LowCardinality(String),
    venue_id String,
    venue_name String,
    city LowCardinality(String),
    venue_postcode String,
    region LowCardinality(String),
    country LowCardinality(String),
    hall String,
    start DateTime64(3, 'UTC'),
    end_time Nullable(DateTime64(3, 'UTC')),
    capacity Nullable(Int32),
    status LowCardinality(String),
    on_sale_from Nullable(DateTime64(3, 'UTC')),
    url String,
    kafka_partition UInt16,
    kafka_offset UInt64,
    written_at DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(event_time)
ORDER BY performance_id
SETTINGS non_replicated_deduplication_window = 10000;
