from __future__ import annotations

from pathlib import Path

import pytest

from bus.errors import ConfigError
from bus.kafka import librdkafka_config, make_producer
from bus.settings import KafkaSettings, load_settings


def test_env_overrides_the_toml_file_which_overrides_defaults(tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    f = tmp_path / "c.toml"
    f.write_text('topic_prefix = "prod."\n[kafka]\nbootstrap_servers = "k1:9092"\n'
                 'client_id = "from-file"\n')
    monkeypatch.setenv("CULTUURBUS_KAFKA__CLIENT_ID", "from-env")
    s = load_settings(f)
    assert s.topic_prefix == "prod."
    assert s.kafka.bootstrap_servers == "k1:9092"
    assert s.kafka.client_id == "from-env"
    assert s.registry.url.endswith("/apis/ccompat/v7")


def test_a_missing_config_file_is_named_in_the_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(tmp_path / "nope.toml")


def test_settings_are_frozen() -> None:
    s = load_settings()
    with pytest.raises(Exception, match="frozen"):
        s.topic_prefix = "x"  # type: ignore[misc]


def test_sasl_without_credentials_says_which_settings_to_set() -> None:
    with pytest.raises(ConfigError, match="CULTUURBUS_KAFKA__SASL_USERNAME"):
        librdkafka_config(KafkaSettings(security_protocol="SASL_PLAINTEXT"))


def test_sasl_settings_render_librdkafka_keys_and_keep_the_secret_out_of_repr() -> None:
    k = KafkaSettings(security_protocol="SASL_PLAINTEXT", sasl_mechanism="SCRAM-SHA-512",
                      sasl_username="venue", sasl_password="s3cret")  # type: ignore[arg-type]
    conf = librdkafka_config(k, linger_ms=5)
    assert conf["sasl.mechanism"] == "SCRAM-SHA-512"
    assert conf["sasl.password"] == "s3cret"
    assert conf["linger.ms"] == 5
    assert "s3cret" not in repr(k)


def test_an_unknown_librdkafka_property_is_a_config_error_naming_it() -> None:
    with pytest.raises(ConfigError, match="no_such_thing|no.such.thing"):
        make_producer(KafkaSettings(), no_such_thing=1)
