-- The venue crosswalk (participation.identity.venues): which venue ids are one venue.
-- The sector comparison counts distinct canonical venues through it (a venue id without a
-- row here is its own canonical venue), so one venue under several ids counts once.
CREATE TABLE IF NOT EXISTS venue_links
(
    venue_id String,
    canonical_id String,
    reason LowCardinality(String),
    score Nullable(Float64),
    evidence String,
    via String,
    name String,
    city String,
    postcode String,
    country LowCardinality(String),
    candidate_id String,
    candidate_score Nullable(Float64),
    updated_at DateTime64(3, 'UTC'),
    kafka_partition UInt16,
    kafka_offset UInt64,
    written_at DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(updated_at)
ORDER BY venue_id
SETTINGS non_replicated_deduplication_window = 10000;
