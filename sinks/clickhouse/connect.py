"""Connecting to ClickHouse: a server (``http://host:8123``) or the embedded engine.

``chdb://PATH`` may name a relative directory, e.g. ``chdb://.stack/clickhouse-embedded``
(the documented embedded option for people without a server). clickhouse-connect reads
``chdb://a/b`` as location ``a`` and database ``b``, so the path is made absolute
(``chdb:///abs/a/b``) before the client is built.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from clickhouse_connect.driver.exceptions import ProgrammingError

from bus.clickhouse import make_clickhouse_client
from bus.settings import ClickHouseSettings
from sinks.clickhouse.errors import SinkError

__all__ = ["EMBEDDED_URL", "connect_clickhouse", "normalise_url"]

#: The embedded engine under the local stack's directory: no server needed.
EMBEDDED_URL = "chdb://.stack/clickhouse-embedded"


def normalise_url(url: str, cwd: Path | None = None) -> str:
    """``chdb://rel/path`` -> ``chdb:///abs/rel/path``; other URLs unchanged."""
    parsed = urlparse(url)
    if parsed.scheme != "chdb" or not parsed.netloc or parsed.netloc in ("memory", ":memory:"):
        return url
    path = ((cwd or Path.cwd()) / (parsed.netloc + parsed.path)).resolve()
    return f"chdb://{path}"


def connect_clickhouse(settings: ClickHouseSettings) -> Any:
    """A clickhouse-connect client whose default database is ``settings.database`` (created).

    Raises:
        ConfigError: the URL is neither http(s):// nor chdb://.
        RetriableError: the server cannot be reached now.
        SinkError: the embedded engine's directory is in use by another process.

    """
    url = normalise_url(settings.url)
    if not url.startswith("chdb:"):
        client = make_clickhouse_client(settings.model_copy(update={"url": url}))
        client.database = settings.database
        return client
    if url.startswith("chdb:///"):
        Path(urlparse(url).path).mkdir(parents=True, exist_ok=True)
    try:
        client = make_clickhouse_client(settings.model_copy(update={"url": url}))
    except ProgrammingError as exc:
        raise SinkError(
            f"cannot open the embedded ClickHouse at {url}: {exc}. The embedded engine serves one "
            "process at a time: stop the other one (e.g. a running `cultuurbus sink clickhouse`), "
            "or run a server (`cultuurbus stack up`) and use http://127.0.0.1:8123") from exc
    client.database = settings.database
    return client
