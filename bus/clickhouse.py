"""ClickHouse client factory: a server URL (``http://host:8123``) or the embedded
engine (``chdb://PATH``), both through clickhouse-connect.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import clickhouse_connect

from bus.errors import ConfigError, RetriableError
from bus.settings import ClickHouseSettings

__all__ = ["make_clickhouse_client"]


def make_clickhouse_client(settings: ClickHouseSettings, *, create_database: bool = True,
                           **kwargs: Any) -> Any:
    """A clickhouse-connect client for ``settings.url`` using ``settings.database``.

    Raises:
        ConfigError: the URL scheme is neither http(s) nor chdb.
        RetriableError: the server cannot be reached now.

    """
    url = settings.url
    scheme = urlparse(url).scheme
    if scheme == "chdb":
        # chdb://relative/path would read as location "relative" + database "path":
        # join host and path into one directory and make it absolute.
        parsed = urlparse(url)
        location = Path((parsed.netloc or "") + (parsed.path or "")).expanduser().absolute()
        client = clickhouse_connect.get_client(interface="chdb", path=str(location), **kwargs)
    elif scheme in ("http", "https"):
        parsed = urlparse(url)
        try:
            client = clickhouse_connect.get_client(
                host=parsed.hostname or "127.0.0.1", port=parsed.port or 8123,
                interface=scheme, username=parsed.username or "default",
                password=parsed.password or "", **kwargs)
        except Exception as exc:
            raise RetriableError(f"cannot reach ClickHouse at {url}: {exc}; is it running? "
                                 "(`cultuurbus stack status`)", retry_after=2.0) from exc
    else:
        raise ConfigError(f"clickhouse.url {url!r}: use http://HOST:PORT or chdb://PATH")
    if create_database:
        client.command(f"CREATE DATABASE IF NOT EXISTS {settings.database}")
    return client
