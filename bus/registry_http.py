"""Reading the schema registry over plain HTTP: ``GET {url}/{path}`` (and the ``POST`` of a
schema lookup) with the standard library.

A role reads writer schemas by id (``bus.serde.Registry.writer_schema``) and looks up the
ids of the schemas it writes (``Registry.register``: ``POST /subjects/{subject}``), and
nothing else, so it does both with ``urllib`` and never imports confluent-kafka's
``SchemaRegistryClient`` (kept for registering and compatibility checks, which ops does).
Its imports (httpx, authlib, joserfc, cryptography, OpenSSL: ~280 modules) cost a reading
role ~14 MB resident; the gateway's peak RSS at 100,000 performances went from 194.9-198.1
to 173.0-176.6 MB (``python -m bench.gateway_memory``, 3 runs each, one machine).

The requests behave as the client's: each url of a comma-separated ``registry.url`` in turn,
3 retries with full-jitter backoff on network errors and on 408/429/5xx, basic auth from
``registry.basic_auth_user_info``, an error answer raised with the client's attributes
(:class:`RegistryAnswerError`), and a 30 s bound on each answer.
"""

from __future__ import annotations

import base64
import http.client
import json
import random
import sys
import time
import urllib.error
import urllib.request
from typing import Any

from bus.settings import RegistrySettings

__all__ = ["RegistryAnswerError", "RegistryHttp", "is_answer", "sr_error"]

_SR_ERROR_MODULE = "confluent_kafka.schema_registry.error"
# As confluent-kafka's client: statuses worth another try, 3 retries, full-jitter backoff.
_RETRIABLE = (408, 429, 500, 502, 503, 504)
_RETRIES, _RETRY_WAIT_MS, _RETRY_MAX_WAIT_MS = 3, 1000, 20000
#: Longest wait for one answer: a registry that accepts and never answers is "unreachable"
#: (retried, then a retriable SchemaRegistryError), never a reader stuck for good.
_TIMEOUT_S = 30.0
_ACCEPT = "application/vnd.schemaregistry.v1+json, application/vnd.schemaregistry+json, application/json"


class RegistryAnswerError(Exception):
    """An error answer of the registry to a request this module made itself (the same
    attributes as confluent-kafka's ``SchemaRegistryError``)."""

    def __init__(self, http_status_code: int, error_code: int, error_message: str) -> None:
        super().__init__(http_status_code, error_code, error_message)
        self.http_status_code = http_status_code
        self.error_code = error_code
        self.error_message = error_message

    def __str__(self) -> str:
        return f"{self.error_message} (HTTP status code {self.http_status_code}, SR code {self.error_code})"


def is_answer(exc: BaseException) -> bool:
    """Whether ``exc`` is the registry's error answer (ours, or confluent-kafka's once its
    client is loaded), not a failure to reach it."""
    if isinstance(exc, RegistryAnswerError):
        return True
    module = sys.modules.get(_SR_ERROR_MODULE)
    return module is not None and isinstance(exc, module.SchemaRegistryError)


def sr_error() -> type[Exception]:
    """confluent-kafka's ``SchemaRegistryError`` (imported with the client, on first use)."""
    from confluent_kafka.schema_registry.error import SchemaRegistryError

    return SchemaRegistryError


class RegistryHttp:
    """GET requests to the registry of ``settings`` (its urls and login checked at once, as
    ``SchemaRegistryClient(conf)`` checks them: ValueError when malformed)."""

    def __init__(self, settings: RegistrySettings) -> None:
        self.urls = [u.strip().rstrip("/") for u in settings.url.split(",")]
        self.url = settings.url
        for url in self.urls:
            if not url.startswith(("http://", "https://")):
                raise ValueError(f"Invalid url {url}")
        login = settings.basic_auth_user_info
        if login is not None and ":" not in login.get_secret_value():
            raise ValueError("basic.auth.user.info must be in the form of {username}:{password}")
        self.auth = (None if login is None else
                     "Basic " + base64.b64encode(login.get_secret_value().encode()).decode("ascii"))

    def get(self, path: str) -> dict[str, Any]:
        """``GET {url}/{path}`` as confluent-kafka's client does it: each url of a
        comma-separated list in turn, retrying what it retries.

        Raises:
            RegistryAnswerError: the registry answered with an error.
            OSError: it could not be reached (after the retries).

        """
        return self._call(path, None)

    def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """``POST {url}/{path}`` with a JSON body, as :meth:`get` (a schema lookup only: it
        changes nothing, so it is retried like a GET)."""
        return self._call(path, json.dumps(body).encode())

    def _call(self, path: str, data: bytes | None) -> dict[str, Any]:
        headers = {"Accept": _ACCEPT}
        if data is not None:
            headers["Content-Type"] = "application/vnd.schemaregistry.v1+json"
        if self.auth is not None:
            headers["Authorization"] = self.auth
        for i, base in enumerate(self.urls):
            last = i == len(self.urls) - 1
            try:
                status, body = self._request(f"{base}/{path}", headers, data)
            except Exception:
                if last:
                    raise
                continue
            if 200 <= status <= 299:
                found = json.loads(body) if body else {}
                return found if isinstance(found, dict) else {}
            if status not in _RETRIABLE or last:
                try:
                    answer = json.loads(body)
                    code, message = answer.get("error_code"), answer.get("message")
                except (ValueError, AttributeError):
                    code, message = -1, f"Unknown Schema Registry Error: {body!r}"
                raise RegistryAnswerError(status, code, message)
        raise RegistryAnswerError(0, -1, f"no registry url in {self.url!r}")

    @staticmethod
    def _request(url: str, headers: dict[str, str], data: bytes | None = None) -> tuple[int, bytes]:
        """Status and body of one GET (or POST of ``data``), retried on network errors and
        retriable statuses."""
        for attempt in range(_RETRIES + 1):
            try:
                request = urllib.request.Request(url, data=data, headers=headers)  # noqa: S310 - http(s), checked in __init__
                with urllib.request.urlopen(request, timeout=_TIMEOUT_S) as answer:  # noqa: S310 - the same
                    return int(answer.status), bytes(answer.read())
            except urllib.error.HTTPError as exc:
                status, body = exc.code, exc.read()
                exc.close()
                if status not in _RETRIABLE or attempt >= _RETRIES:
                    return status, body
            except (OSError, http.client.HTTPException):  # no answer: refused, reset, cut short
                if attempt >= _RETRIES:
                    raise
            time.sleep(random.random() * min(_RETRY_WAIT_MS * 2.0 ** attempt, _RETRY_MAX_WAIT_MS) / 1000)
        raise AssertionError("unreachable")
