"""The buyer pseudonym key: from outside the repository, with an id every pseudonym carries."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import SecretStr

from bus.errors import ConfigError
from bus.settings import ConnectorSettings, Settings
from connectors.sdk.context import ConnectorContext
from connectors.sdk.privacy import Pseudonymiser, key_id_of
from ops.stack.pseudonym import pseudonym_env, rotate_key

KEY_A = "first-key-of-this-test-0123456789"
KEY_B = "second-key-of-this-test-987654321"


def test_a_connector_without_a_key_fails_at_start_saying_how_to_set_it() -> None:
    ctx = ConnectorContext(Settings(), "webhook", serve_metrics=False)

    with pytest.raises(ConfigError) as err:
        _ = ctx.pseudonymiser

    message = str(err.value)
    assert "CULTUURBUS_CONNECTOR__BUYER_SECRET" in message
    assert "CULTUURBUS_CONNECTOR__BUYER_SECRET_FILE" in message


def test_the_settings_have_no_key_written_in_the_code() -> None:
    assert ConnectorSettings().buyer_secret is None
    assert ConnectorSettings().buyer_secret_file is None


def test_the_key_is_read_from_a_file_as_a_mounted_secret_would_be(tmp_path: Path) -> None:
    secret = tmp_path / "buyer-key"
    secret.write_text(KEY_A + "\n")

    from_file = Pseudonymiser.from_settings(ConnectorSettings(buyer_secret_file=secret))
    from_value = Pseudonymiser(SecretStr(KEY_A))

    assert from_file.hash_id("eventix:acme", "42") == from_value.hash_id("eventix:acme", "42")


def test_an_unreadable_or_empty_key_file_is_a_clear_error(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.write_text("\n")

    with pytest.raises(ConfigError, match="missing.*buyer_secret_file"):
        Pseudonymiser.from_settings(ConnectorSettings(buyer_secret_file=tmp_path / "missing"))
    with pytest.raises(ConfigError, match="is empty"):
        Pseudonymiser.from_settings(ConnectorSettings(buyer_secret_file=empty))


def test_a_key_and_a_key_file_together_are_refused(tmp_path: Path) -> None:
    (tmp_path / "k").write_text(KEY_A)

    with pytest.raises(ConfigError, match="keep one"):
        Pseudonymiser.from_settings(ConnectorSettings(buyer_secret=SecretStr(KEY_A),
                                                      buyer_secret_file=tmp_path / "k"))


def test_a_short_key_is_refused() -> None:
    with pytest.raises(ConfigError, match="fewer than 16"):
        Pseudonymiser.from_settings(ConnectorSettings(buyer_secret=SecretStr("short")))


def test_the_same_buyer_keeps_one_pseudonym_under_one_key() -> None:
    one, again = Pseudonymiser(SecretStr(KEY_A), 3), Pseudonymiser(SecretStr(KEY_A), 3)

    assert one.hash_id("eventix:acme", "42") == again.hash_id("eventix:acme", "42")
    assert one.hash_id("eventix:acme", "42") != one.hash_id("eventix:acme", "43")


def test_pseudonyms_differ_across_keys_and_say_which_key_made_them() -> None:
    old = Pseudonymiser.from_settings(ConnectorSettings(buyer_secret=SecretStr(KEY_A), buyer_key_id=1))
    new = Pseudonymiser.from_settings(ConnectorSettings(buyer_secret=SecretStr(KEY_B), buyer_key_id=2))

    before, after = old.hash_id("eventix:acme", "42"), new.hash_id("eventix:acme", "42")

    assert before != after
    assert before[2:] != after[2:]
    assert (key_id_of(before), key_id_of(after)) == (1, 2)
    assert all(re.fullmatch(r"[0-9a-f]{64}", p) for p in (before, after))  # the contract's format


def test_the_buyer_carries_the_pseudonym_of_the_configured_key() -> None:
    settings = Settings(connector={"buyer_secret": KEY_B, "buyer_key_id": 17})
    buyer = ConnectorContext(settings, "file", serve_metrics=False).pseudonymiser.buyer(
        "boxoffice:venue", "c-1", postcode="3511 EH", country="NL")

    assert buyer is not None and buyer.id_hash.startswith("11")
    assert buyer.postcode_area == "3511"


def test_a_stack_rotation_gives_connectors_a_new_key_under_the_next_id(tmp_path: Path) -> None:
    first = pseudonym_env(tmp_path)
    assert first == pseudonym_env(tmp_path)  # one key per stack, made once
    assert first["CULTUURBUS_CONNECTOR__BUYER_KEY_ID"] == "1"

    assert rotate_key(tmp_path) == 2
    second = pseudonym_env(tmp_path)

    assert second["CULTUURBUS_CONNECTOR__BUYER_KEY_ID"] == "2"
    assert second["CULTUURBUS_CONNECTOR__BUYER_SECRET"] != first["CULTUURBUS_CONNECTOR__BUYER_SECRET"]
    old = Pseudonymiser(SecretStr(first["CULTUURBUS_CONNECTOR__BUYER_SECRET"]), 1)
    new = Pseudonymiser(SecretStr(second["CULTUURBUS_CONNECTOR__BUYER_SECRET"]), 2)
    assert old.hash_id("a:b", "c")[2:] != new.hash_id("a:b", "c")[2:]
