"""The stack's schema registry is reachable only by the roles that need it, read-only for
most: against the real Apicurio registry the stack starts."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from bus.errors import SchemaRegistryError
from bus.serde import AvroSerializer, Registry
from bus.settings import RegistrySettings
from ops.stack.registry_auth import registry_user_info
from ops.stack.settings import StackSettings

pytestmark = pytest.mark.integration

CCOMPAT_JSON = {"Content-Type": "application/vnd.schemaregistry.v1+json"}
READER = "cultuurbus-streams"
WRITER = "cultuurbus-ops"


def _schema(name: str, *extra: dict[str, Any]) -> dict[str, Any]:
    return {"type": "record", "name": name, "namespace": "test.auth",
            "fields": [{"name": "performance", "type": "string"}, *extra]}


def _auth(stack: StackSettings, principal: str) -> tuple[str, str]:
    user, _, password = registry_user_info(stack.dir, principal).partition(":")
    return user, password


def _registry(stack: StackSettings, principal: str) -> Registry:
    return Registry(RegistrySettings(url=stack.registry_url, basic_auth_user_info=SecretStr(
        registry_user_info(stack.dir, principal))))


def _register(stack: StackSettings, principal: str, subject: str, schema: dict[str, Any]) -> httpx.Response:
    return httpx.post(f"{stack.registry_url}/subjects/{subject}/versions", auth=_auth(stack, principal),
                      json={"schema": json.dumps(schema)}, headers=CCOMPAT_JSON, timeout=10)


@pytest.fixture
def registered(stack: StackSettings) -> tuple[str, int]:
    """A subject the writer registered, and its schema id."""
    subject = f"test.auth.{uuid.uuid4().hex[:8]}-value"
    answer = _register(stack, WRITER, subject, _schema("Sold"))
    assert answer.status_code == 200, answer.text
    return subject, int(answer.json()["id"])


def test_anonymous_callers_are_refused_everything_but_the_health_probe(
        stack: StackSettings, registered: tuple[str, int]) -> None:
    subject, schema_id = registered
    base = stack.registry_url

    assert httpx.get(f"{base}/subjects", timeout=10).status_code == 401
    assert httpx.get(f"{base}/schemas/ids/{schema_id}", timeout=10).status_code == 401
    assert httpx.post(f"{base}/subjects/{subject}/versions", json={"schema": json.dumps(_schema("X"))},
                      headers=CCOMPAT_JSON, timeout=10).status_code == 401
    health = httpx.get(f"http://127.0.0.1:{stack.registry_port}/health/ready", timeout=10)
    assert health.status_code == 200


def test_a_wrong_password_is_refused(stack: StackSettings) -> None:
    answer = httpx.get(f"{stack.registry_url}/subjects", auth=(WRITER, "not-the-password"), timeout=10)

    assert answer.status_code == 401


def test_a_reader_fetches_a_schema_but_cannot_register_change_or_delete(
        stack: StackSettings, registered: tuple[str, int]) -> None:
    subject, schema_id = registered
    auth, base = _auth(stack, READER), stack.registry_url

    fetched = httpx.get(f"{base}/schemas/ids/{schema_id}", auth=auth, timeout=10)
    assert fetched.status_code == 200 and "performance" in fetched.json()["schema"]
    evolved = _schema("Sold", {"name": "seats", "type": "int", "default": 1})
    assert _register(stack, READER, subject, evolved).status_code == 403
    assert httpx.put(f"{base}/config/{subject}", auth=auth, json={"compatibility": "NONE"},
                     headers=CCOMPAT_JSON, timeout=10).status_code == 403
    assert httpx.delete(f"{base}/subjects/{subject}", auth=auth, timeout=10).status_code == 403
    versions = httpx.get(f"{base}/subjects/{subject}/versions", auth=auth, timeout=10)
    assert versions.json() == [1]  # nothing the reader tried took effect


def test_the_writer_registers_and_sets_compatibility(stack: StackSettings, registered: tuple[str, int]) -> None:
    subject, _ = registered
    evolved = _schema("Sold", {"name": "seats", "type": "int", "default": 1})

    assert _register(stack, WRITER, subject, evolved).status_code == 200
    assert httpx.put(f"{stack.registry_url}/config/{subject}", auth=_auth(stack, WRITER),
                     json={"compatibility": "BACKWARD"}, headers=CCOMPAT_JSON, timeout=10).status_code == 200


def test_a_read_only_producer_finds_the_id_ops_registered(stack: StackSettings) -> None:
    topic = f"test.auth.{uuid.uuid4().hex[:8]}"
    schema = _schema("Sold")
    ops_id = _registry(stack, WRITER).register(f"{topic}-value", schema)

    reader = AvroSerializer(_registry(stack, READER), topic, schema)
    tenant = AvroSerializer(_registry(stack, "tenant-acme"), topic, schema)

    assert reader.schema_id == ops_id == tenant.schema_id
    encoded = reader({"performance": "p-1"})
    assert encoded is not None and int.from_bytes(encoded[1:5], "big") == ops_id


def test_a_read_only_producer_of_an_unregistered_subject_is_told_to_register_it(
        stack: StackSettings) -> None:
    topic = f"test.auth.{uuid.uuid4().hex[:8]}"
    serializer = AvroSerializer(_registry(stack, READER), topic, _schema("Sold"))

    with pytest.raises(SchemaRegistryError) as err:
        serializer({"performance": "p-1"})

    assert f"schema for {topic}-value is not registered" in str(err.value)
    assert "cultuurbus schemas register" in str(err.value)
    subjects = httpx.get(f"{stack.registry_url}/subjects", auth=_auth(stack, WRITER), timeout=10).json()
    assert f"{topic}-value" not in subjects


def test_a_client_with_a_wrong_password_is_told_which_setting_to_fix(stack: StackSettings) -> None:
    registry = Registry(RegistrySettings(url=stack.registry_url,
                                         basic_auth_user_info=SecretStr(f"{READER}:wrong")))

    with pytest.raises(SchemaRegistryError) as err:
        registry.register("test.auth.any-value", _schema("Sold"))

    assert "401" in str(err.value) and "CULTUURBUS_REGISTRY__BASIC_AUTH_USER_INFO" in str(err.value)
