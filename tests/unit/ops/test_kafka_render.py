"""``server.properties`` of the local stack: the bench's extra PLAINTEXT listener appears only
when ``kafka_plaintext_port`` is set, as a super-user ANONYMOUS listener beside the SASL one,
and the default stack is rendered without it."""

from __future__ import annotations

from pathlib import Path

import pytest

from ops.stack.errors import StackError
from ops.stack.kafka import render_server_properties
from ops.stack.settings import StackSettings


def _props(text: str) -> dict[str, str]:
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#") and "=" in line:
            key, _, value = line.partition("=")
            out[key] = value
    return out


def _stack(tmp_path: Path, **fields: object) -> StackSettings:
    return StackSettings(dir=tmp_path, kafka_port=29092, kafka_controller_port=29093, **fields)


def test_the_default_stack_has_only_the_sasl_listener_and_no_anonymous_super_user(tmp_path: Path) -> None:
    p = _props(render_server_properties(_stack(tmp_path), tmp_path / "data"))
    assert p["listeners"] == "SASL_PLAINTEXT://127.0.0.1:29092,CONTROLLER://127.0.0.1:29093"
    assert p["advertised.listeners"] == "SASL_PLAINTEXT://127.0.0.1:29092"
    assert p["listener.security.protocol.map"] == "SASL_PLAINTEXT:SASL_PLAINTEXT,CONTROLLER:SASL_PLAINTEXT"
    assert "ANONYMOUS" not in p["super.users"]
    assert p["allow.everyone.if.no.acl.found"] == "false"


def test_the_bench_listener_is_plaintext_on_loopback_and_its_anonymous_clients_are_super_users(
        tmp_path: Path) -> None:
    p = _props(render_server_properties(_stack(tmp_path, kafka_plaintext_port=29094), tmp_path / "data"))
    assert p["listeners"] == ("SASL_PLAINTEXT://127.0.0.1:29092,PLAINTEXT://127.0.0.1:29094,"
                              "CONTROLLER://127.0.0.1:29093")
    assert p["advertised.listeners"] == "SASL_PLAINTEXT://127.0.0.1:29092,PLAINTEXT://127.0.0.1:29094"
    assert p["listener.security.protocol.map"] == ("SASL_PLAINTEXT:SASL_PLAINTEXT,PLAINTEXT:PLAINTEXT,"
                                                   "CONTROLLER:SASL_PLAINTEXT")
    assert p["super.users"].split(";") == ["User:admin", "User:controller", "User:ANONYMOUS"]
    # the SASL listener stays what it was: the broker still talks to itself over it
    assert p["inter.broker.listener.name"] == "SASL_PLAINTEXT"
    assert p["allow.everyone.if.no.acl.found"] == "false"


def test_the_bench_listener_is_refused_in_the_plaintext_profile(tmp_path: Path) -> None:
    settings = _stack(tmp_path, kafka_security="plaintext", kafka_plaintext_port=29094)
    with pytest.raises(StackError, match="already PLAINTEXT"):
        render_server_properties(settings, tmp_path / "data")


def test_the_plaintext_profile_renders_as_before(tmp_path: Path) -> None:
    p = _props(render_server_properties(_stack(tmp_path, kafka_security="plaintext"), tmp_path / "data"))
    assert p["listeners"] == "PLAINTEXT://127.0.0.1:29092,CONTROLLER://127.0.0.1:29093"
    assert p["super.users"] == "User:ANONYMOUS"
