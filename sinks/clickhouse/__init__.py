"""The ClickHouse sink: canonical facts and derived state into ClickHouse, plus the
ready reports (sales monitor, audience monitor, benchmarks)."""

from sinks.clickhouse.connect import EMBEDDED_URL, connect_clickhouse
from sinks.clickhouse.errors import MappingError, MigrationError, SinkError
from sinks.clickhouse.migrate import load_migrations, migrate
from sinks.clickhouse.reports import ReportTable, audience_report, benchmark_report, sales_report
from sinks.clickhouse.sink import ClickHouseSink

__all__ = [
    "EMBEDDED_URL",
    "ClickHouseSink",
    "MappingError",
    "MigrationError",
    "ReportTable",
    "SinkError",
    "audience_report",
    "benchmark_report",
    "connect_clickhouse",
    "load_migrations",
    "migrate",
    "sales_report",
]
