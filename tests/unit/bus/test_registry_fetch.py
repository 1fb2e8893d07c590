"""``Registry.writer_schema`` fetches by id, and ``Registry.register`` looks a schema's id up,
with the standard library: the same requests, answers and errors as confluent-kafka's
client gave, against a fake ccompat registry."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from pydantic import SecretStr

from bus.errors import SchemaRegistryError, SerializationError
from bus.serde import Registry
from bus.settings import RegistrySettings

SCHEMA = {"type": "record", "name": "Sold", "namespace": "test.fetch",
          "fields": [{"name": "performance", "type": "string"}]}


class _Fake:
    """Answers ``GET /ccompat/schemas/ids/{id}`` as ``answers[id]`` says: (status, body)."""

    def __init__(self) -> None:
        self.answers: dict[int, tuple[int, Any]] = {}
        self.requests: list[tuple[str, str | None]] = []
        #: ``POST /ccompat/subjects/{subject}`` (a lookup): subject -> (status, body)
        self.lookups: dict[str, tuple[int, Any]] = {}
        self.posted: list[tuple[str, str | None, str | None, Any]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                fake.requests.append((self.path, self.headers.get("Authorization")))
                schema_id = int(self.path.rsplit("/", 1)[-1])
                status, body = fake.answers.get(schema_id, (404, {"error_code": 40403, "message": "no"}))
                raw = body if isinstance(body, bytes) else json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                fake.posted.append((self.path, self.headers.get("Authorization"),
                                    self.headers.get("Content-Type"), body))
                subject = self.path.split("/subjects/", 1)[1].split("?", 1)[0]
                status, answer = fake.lookups.get(subject, (404, {"error_code": 40401, "message": "no"}))
                raw = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/ccompat"


@pytest.fixture
def fake() -> Iterator[_Fake]:
    f = _Fake()
    thread = threading.Thread(target=f.server.serve_forever, daemon=True)
    thread.start()
    yield f
    f.server.shutdown()
    f.server.server_close()


@pytest.fixture(autouse=True)
def _no_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("bus.registry_http.time.sleep", lambda _s: None)


def _registry(url: str, user_info: str | None = "reader:secret") -> Registry:
    return Registry(RegistrySettings(url=url, basic_auth_user_info=SecretStr(user_info) if user_info else None))


def test_a_schema_is_fetched_once_with_the_basic_auth_header(fake: _Fake) -> None:
    fake.answers[7] = (200, {"schema": json.dumps(SCHEMA)})
    registry = _registry(fake.url)

    first = registry.writer_schema(7)
    assert registry.writer_schema(7) is first
    assert first["name"] == "test.fetch.Sold"
    assert fake.requests == [("/ccompat/schemas/ids/7", "Basic cmVhZGVyOnNlY3JldA==")]


def test_an_unknown_id_is_a_serialization_error(fake: _Fake) -> None:
    fake.answers[8] = (404, {"error_code": 40403, "message": "Schema 8 not found"})
    with pytest.raises(SerializationError, match="does not know schema id 8"):
        _registry(fake.url).writer_schema(8)
    fake.answers[9] = (200, {"error_code": 40403, "message": "odd"})  # a 2xx without a schema
    with pytest.raises(SerializationError, match="not a usable Avro schema"):
        _registry(fake.url).writer_schema(9)


def test_a_refused_caller_is_told_what_to_fix(fake: _Fake) -> None:
    fake.answers[1] = (401, {"error_code": 40101, "message": "Unauthorized"})
    with pytest.raises(SchemaRegistryError, match="refused registry user 'reader' \\(401\\).*"
                                                  "CULTUURBUS_REGISTRY__BASIC_AUTH_USER_INFO"):
        _registry(fake.url).writer_schema(1)
    with pytest.raises(SchemaRegistryError, match="refused a caller without credentials"):
        _registry(fake.url, None).writer_schema(1)
    fake.answers[2] = (403, {"error_code": 40301, "message": "Forbidden"})
    with pytest.raises(SchemaRegistryError, match="registry user 'reader' may not do this \\(403"):
        _registry(fake.url).writer_schema(2)


def test_a_failing_or_unreachable_registry_is_a_retriable_registry_error(fake: _Fake) -> None:
    fake.answers[3] = (503, b"<html>down</html>")
    with pytest.raises(SchemaRegistryError, match="answered 503: Unknown Schema Registry Error"):
        _registry(fake.url).writer_schema(3)
    assert len(fake.requests) == 4  # the first try and three retries, as confluent-kafka's client
    with pytest.raises(SchemaRegistryError, match="cannot reach the schema registry"):
        _registry("http://127.0.0.1:9/ccompat").writer_schema(3)


def test_the_next_url_of_a_list_is_tried(fake: _Fake) -> None:
    fake.answers[4] = (200, {"schema": json.dumps(SCHEMA)})
    assert _registry(f"http://127.0.0.1:9/x, {fake.url}").writer_schema(4)["name"] == "test.fetch.Sold"


def test_a_bad_url_is_refused_at_once() -> None:
    with pytest.raises(ValueError, match="Invalid url"):
        _registry("ftp://registry")
    with pytest.raises(ValueError, match="username"):
        _registry("http://registry", "no-colon")


def test_reading_does_not_import_confluent_kafkas_registry_client(fake: _Fake) -> None:
    fake.answers[5] = (200, {"schema": json.dumps(SCHEMA)})
    code = ("import sys; from bus.serde import Registry; from bus.settings import RegistrySettings; "
            f"Registry(RegistrySettings(url={fake.url!r})).writer_schema(5); "
            "print('confluent_kafka.schema_registry' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == "False"


def test_a_schema_s_id_is_looked_up_as_confluent_kafka_s_client_asks_without_loading_it(fake: _Fake) -> None:
    fake.lookups["t.sold-value"] = (200, {"subject": "t.sold-value", "id": 42, "version": 1,
                                          "schema": json.dumps(SCHEMA)})
    assert _registry(fake.url).register("t.sold-value", SCHEMA) == 42
    assert fake.posted == [("/ccompat/subjects/t.sold-value?normalize=False&deleted=False",
                            "Basic cmVhZGVyOnNlY3JldA==", "application/vnd.schemaregistry.v1+json",
                            {"schema": json.dumps(SCHEMA), "schemaType": "AVRO"})]
    code = ("import sys; from bus.serde import Registry; from bus.settings import RegistrySettings; "
            f"print(Registry(RegistrySettings(url={fake.url!r})).register('t.sold-value', {SCHEMA!r}), "
            "'confluent_kafka.schema_registry' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.split() == ["42", "False"]


def test_a_refused_lookup_is_told_what_to_fix(fake: _Fake) -> None:
    fake.lookups["t.sold-value"] = (401, {"error_code": 40101, "message": "Unauthorized"})
    with pytest.raises(SchemaRegistryError, match="looking up the schema of t.sold-value: .*refused registry "
                                                  "user 'reader' \\(401\\)"):
        _registry(fake.url).register("t.sold-value", SCHEMA)
