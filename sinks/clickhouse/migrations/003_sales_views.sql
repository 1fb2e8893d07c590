-- Sales movements: every change in net tickets and revenue of a performance, whichever
-- way a source reports. A source that sends cumulative snapshots for a performance is
-- counted by its snapshots only (deltas between successive snapshots in event-time
-- order, a ticket type missing from a later snapshot counting as zero), never also by
-- its ticket events; every other source is counted by its ticket events.
CREATE VIEW IF NOT EXISTS sales_movements AS
SELECT
    performance_id, event_time, toString(source) AS source,
    toString(source_account) AS source_account, toString(ticket_type) AS ticket_type,
    toString(channel) AS channel, toInt64(tickets_delta) AS tickets,
    revenue_delta_cents AS revenue_cents, 'ticket' AS origin
FROM ticket_facts FINAL
WHERE tickets_delta != 0
  AND (performance_id, source, source_account) NOT IN (
      SELECT DISTINCT performance_id, source, source_account FROM sales_snapshots)
UNION ALL
SELECT
    performance_id, event_time, source, source_account, ticket_type,
    'snapshot' AS channel, tickets, revenue_cents, 'snapshot' AS origin
FROM
(
    SELECT
        performance_id, event_time, source, source_account, ticket_type,
        cum_tickets - lagInFrame(cum_tickets, 1, toInt64(0)) OVER w AS tickets,
        cum_revenue - lagInFrame(cum_revenue, 1, toInt64(0)) OVER w AS revenue_cents
    FROM
    (
        SELECT
            performance_id, event_time, fact_id, toString(source) AS source,
            toString(source_account) AS source_account, toString(tt) AS ticket_type,
            indexOf(line_ticket_types, tt) AS i,
            toInt64(if(i = 0, 0, line_tickets[i])) AS cum_tickets,
            toInt64(if(i = 0, 0, line_revenue_cents[i])) AS cum_revenue
        FROM sales_snapshots FINAL
        ARRAY JOIN arrayDistinct(arrayConcat(['NORMAL', 'DISCOUNT', 'FREE', 'OTHER'],
                                             line_ticket_types)) AS tt
    )
    WINDOW w AS (PARTITION BY performance_id, source, source_account, ticket_type
                 ORDER BY event_time, fact_id
                 ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
)
WHERE tickets != 0 OR revenue_cents != 0;

-- Net tickets and revenue per performance, day (UTC) and ticket type.
CREATE VIEW IF NOT EXISTS sales_daily AS
SELECT
    performance_id, toDate(event_time) AS day, ticket_type,
    sum(tickets) AS tickets, sum(revenue_cents) AS revenue_cents
FROM sales_movements
GROUP BY performance_id, day, ticket_type;
