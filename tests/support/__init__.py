"""The test harness: what several tests share to reach the real services.

``dataset`` (a small realistic world of facts and derived records, produced the way the
bus does), ``clickhouse`` (a fresh prefix, database and group per test; a ClickHouse
server of a test's own), ``sink`` (the ClickHouse sink as a subprocess), ``recording``
(a connector context whose publisher records instead of producing), ``sources`` (a
connector's source run through real Kafka until caught up), ``gateway`` (its parts over a
hand-filled view; a served gateway once healthy), ``wire`` (records written past every
model check), ``messages`` (a consumed message's stand-in), ``simulator`` and ``calendar``
(a season and dates for their tests) and ``waiting``.
Test-only: product code and the bench never import it.
"""

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
