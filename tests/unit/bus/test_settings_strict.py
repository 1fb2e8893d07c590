"""A typo in a setting is an error naming the nearest valid one, never a silent default."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bus.errors import ConfigError
from bus.settings import load_settings


@pytest.mark.parametrize(("var", "nearest"), [
    ("CULTUURBUS_KAFKA__BOOTSTRAP_SERVER", "CULTUURBUS_KAFKA__BOOTSTRAP_SERVERS"),
    ("CULTUURBUS_TOPIC_PREFX", "CULTUURBUS_TOPIC_PREFIX"),
    ("CULTUURBUS_KAKFA__CLIENT_ID", "CULTUURBUS_KAFKA__CLIENT_ID"),
    ("CULTUURBUS_WEBHOOK__SECRET", "CULTUURBUS_WEBHOOK__SECRETS"),
])
def test_an_unknown_environment_variable_names_the_nearest_setting(
        var: str, nearest: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(var, "x")
    with pytest.raises(ConfigError, match=f"{var}.*did you mean {nearest}\\?"):
        load_settings()


def test_variables_of_the_stack_and_vendor_options_are_left_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("CULTUURBUS_STACK_KAFKA_PORT", "CULTUURBUS_TICKETMATIC_ACCOUNT", "CULTUURBUS_DIP_TOKEN",
                "CULTUURBUS_TEST_REUSE_STACK", "CULTUURBUS_UITDATABANK_API_KEY"):
        monkeypatch.setenv(var, "1")
    assert load_settings().topic_prefix == ""


@pytest.mark.parametrize(("toml", "says"), [
    ('[kafka]\nbootstrap_server = "k:9092"\n', "kafka.bootstrap_server; did you mean kafka.bootstrap_servers"),
    ('[kafak]\nbootstrap_servers = "k:9092"\n', "kafak; did you mean kafka"),
    ('topic_prefx = "p."\n', "topic_prefx; did you mean topic_prefix"),
])
def test_an_unknown_key_in_the_toml_file_names_the_file_and_the_nearest_key(
        toml: str, says: str, tmp_path: Path) -> None:
    f = tmp_path / "cultuurbus.toml"
    f.write_text(toml)
    with pytest.raises(ConfigError, match=f"{f.name}: unknown setting {says}"):
        load_settings(f)


def test_the_webhook_receiver_is_a_section_of_the_one_settings_model(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    f = tmp_path / "c.toml"
    f.write_text('[webhook]\nstrict_ticket_types = true\n[webhook.secrets]\n"eventix/acme" = "s3cret-of-acme"\n')
    monkeypatch.setenv("CULTUURBUS_WEBHOOK__ID_FIELDS", '{"dip": "c_dip"}')
    s = load_settings(f)
    assert s.webhook.strict_ticket_types is True
    assert s.webhook.id_fields == {"dip": "c_dip"}
    secret = s.webhook.secret_for("eventix", "acme")
    assert secret is not None and secret.get_secret_value() == "s3cret-of-acme"


def test_loading_settings_from_a_file_leaves_the_environment_as_it_was(tmp_path: Path) -> None:
    f = tmp_path / "c.toml"
    f.write_text('topic_prefix = "file."\n')
    before = dict(os.environ)
    assert load_settings(f).topic_prefix == "file."
    assert dict(os.environ) == before
    assert load_settings().topic_prefix == ""
