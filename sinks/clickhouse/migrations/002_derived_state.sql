-- Derived state from the streams (compacted topics keyed by canonical performance id).

-- Every Availability record ever published; a copy of the same state is one row under FINAL.
CREATE TABLE IF NOT EXISTS availability_history
(
    performance_id String,
    version UInt64,
    updated_at DateTime64(3, 'UTC'),
    capacity Nullable(Int32),
    sold Int32,
    reserved Int32,
    blocked Int32,
    refunded Int32,
    remaining Nullable(Int32),
    status LowCardinality(String),
    uit_booking_availability_type LowCardinality(String),
    schema_org_availability LowCardinality(String),
    title String,
    venue_name String,
    city LowCardinality(String),
    region LowCardinality(String),
    genre LowCardinality(String),
    start Nullable(DateTime64(3, 'UTC')),
    last_fact_time Nullable(DateTime64(3, 'UTC')),
    kafka_partition UInt16,
    kafka_offset UInt64,
    written_at DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(updated_at)
ORDER BY (performance_id, version, updated_at)
SETTINGS non_replicated_deduplication_window = 10000;

-- Current availability: the highest version per performance (read with FINAL or argMax).
CREATE TABLE IF NOT EXISTS availability_current AS availability_history
ENGINE = ReplacingMergeTree(version)
ORDER BY performance_id
SETTINGS non_replicated_deduplication_window = 10000;

CREATE MATERIALIZED VIEW IF NOT EXISTS availability_current_mv TO availability_current
AS SELECT * FROM availability_history;

CREATE TABLE IF NOT EXISTS attendance
(
    performance_id String,
    scanned Int32,
    sold Int32,
    no_shows Nullable(Int32),
    first_scan_time Nullable(DateTime64(3, 'UTC')),
    last_scan_time Nullable(DateTime64(3, 'UTC')),
    start Nullable(DateTime64(3, 'UTC')),
    updated_at DateTime64(3, 'UTC'),
    kafka_partition UInt16,
    kafka_offset UInt64,
    written_at DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(updated_at)
ORDER BY performance_id
SETTINGS non_replicated_deduplication_window = 10000;

-- Sales per hour and day, ticket type and channel, as the streams publish them.
CREATE TABLE IF NOT EXISTS sales_windows
(
    performance_id String,
    granularity LowCardinality(String),
    window_start DateTime64(3, 'UTC'),
    ticket_type LowCardinality(String),
    channel LowCardinality(String),
    tickets Int32,
    revenue_cents Int64,
    days_before_show Nullable(Int32),
    updated_at DateTime64(3, 'UTC'),
    kafka_partition UInt16,
    kafka_offset UInt64,
    written_at DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(updated_at)
ORDER BY (performance_id, granularity, window_start, ticket_type, channel)
SETTINGS non_replicated_deduplication_window = 10000;

-- Last-minute offers; a tombstone on the topic becomes withdrawn = 1. The Kafka offset
-- is the version: one key always lives on one partition.
CREATE TABLE IF NOT EXISTS lastminute_offers
(
    performance_id String,
    withdrawn UInt8,
    title String,
    venue_name String,
    city LowCardinality(String),
    region LowCardinality(String),
    genre LowCardinality(String),
    start Nullable(DateTime64(3, 'UTC')),
    remaining Int32,
    capacity Int32,
    status LowCardinality(String),
    url String,
    updated_at DateTime64(3, 'UTC'),
    kafka_partition UInt16,
    kafka_offset UInt64,
    written_at DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(kafka_offset)
ORDER BY performance_id
SETTINGS non_replicated_deduplication_window = 10000;

CREATE TABLE IF NOT EXISTS identity_links
(
    namespace LowCardinality(String),
    value String,
    performance_id String,
    learned_from String,
    event_time DateTime64(3, 'UTC'),
    kafka_partition UInt16,
    kafka_offset UInt64,
    written_at DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(event_time)
ORDER BY (namespace, value)
SETTINGS non_replicated_deduplication_window = 10000;

-- Facts parked because their performance was not known yet (what and when, no buyers).
CREATE TABLE IF NOT EXISTS unmatched_facts
(
    fact_id String,
    kind LowCardinality(String),
    performance_key String,
    event_time DateTime64(3, 'UTC'),
    ingested_at DateTime64(3, 'UTC'),
    source LowCardinality(String),
    source_account LowCardinality(String),
    kafka_partition UInt16,
    kafka_offset UInt64,
    written_at DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(event_time)
ORDER BY fact_id
SETTINGS non_replicated_deduplication_window = 10000;
