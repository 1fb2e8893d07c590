"""Who the stack's registry knows, and the configuration it starts with."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from ops.stack.errors import StackError
from ops.stack.registry_auth import (
    PRINCIPALS,
    TENANTS_USER,
    WRITERS,
    registry_user_info,
    write_auth_config,
)
from ops.stack.secrets import StackSecrets


def test_every_role_principal_has_a_user_with_the_stack_secret_as_password(tmp_path: Path) -> None:
    for principal in PRINCIPALS:
        user, _, password = registry_user_info(tmp_path, principal).partition(":")
        assert user == principal
        assert password == StackSecrets(tmp_path).get(f"registry/{principal}")


def test_tenants_share_one_read_only_user_that_no_tenant_name_can_take(tmp_path: Path) -> None:
    acme = registry_user_info(tmp_path, "tenant-acme")
    other = registry_user_info(tmp_path, "tenant-other")

    assert acme == other and acme.startswith(f"{TENANTS_USER}:")
    assert TENANTS_USER not in WRITERS


def test_an_unknown_principal_is_told_which_users_exist(tmp_path: Path) -> None:
    with pytest.raises(StackError, match="cultuurbus-ops"):
        registry_user_info(tmp_path, "cultuurbus-nobody")


def test_the_config_holds_every_user_only_writers_write_and_is_private(tmp_path: Path) -> None:
    path = write_auth_config(tmp_path, tmp_path / "registry" / "auth.properties")
    text = path.read_text()
    props = dict(line.split("=", 1) for line in text.splitlines() if line and line[0] != "#")

    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert props["quarkus.http.auth.basic"] == "true"
    for user in PRINCIPALS:
        password = StackSecrets(tmp_path).get(f"registry/{user}")
        assert props[f"quarkus.security.users.embedded.users.{user}"] == password
        role = props[f"quarkus.security.users.embedded.roles.{user}"]
        assert role == ("registry-writer" if user in WRITERS else "registry-reader")
    assert props["quarkus.http.auth.policy.cb-writers.roles-allowed"] == "registry-writer"
    assert props["quarkus.http.auth.permission.cb-health.policy"] == "permit"
