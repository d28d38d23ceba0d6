"""Kafka security settings: secrets from the environment or a file, never shown; TLS always verifies."""

from __future__ import annotations

import logging
import ssl
from pathlib import Path

import pytest

from connectors.errors import ConfigError
from connectors.settings import Settings, mask, ssl_context
from streams.worker.credentials import credentials as _credentials

SECRET = "hunter2-very-secret"
BASE = {"KAFKA_BOOTSTRAP_SERVERS": "kafka-1:9093,kafka-2:9093", "WIREWATCH_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
        "WIREWATCH_KAFKA_SASL_USERNAME": "wirewatch"}


def test_password_from_the_environment_is_masked_everywhere_it_could_be_printed(
        caplog: pytest.LogCaptureFixture) -> None:
    settings = Settings.from_env({**BASE, "WIREWATCH_KAFKA_SASL_PASSWORD": SECRET})
    options = settings.kafka_options()
    assert options["sasl_plain_password"] == SECRET
    assert options["sasl_mechanism"] == "SCRAM-SHA-512" and options["ssl_check_hostname"] is True
    with caplog.at_level(logging.INFO):
        logging.getLogger("test").info("settings %s options %r", settings, options)
    for text in (repr(settings), str(settings), repr(options), str(options), caplog.text,
                 repr(_credentials(settings))):
        assert SECRET not in text
    assert mask(f"oops {SECRET} leaked", settings) == "oops *** leaked"


def test_password_from_a_file_drops_the_trailing_newline(tmp_path: Path) -> None:
    secret_file = tmp_path / "password"
    secret_file.write_text(SECRET + "\n", "utf-8")
    settings = Settings.from_env({**BASE, "WIREWATCH_KAFKA_SASL_PASSWORD_FILE": str(secret_file)})
    assert settings.security["sasl_plain_password"] == SECRET
    assert SECRET not in repr(settings)


@pytest.mark.parametrize(("extra", "message"), [
    ({}, "WIREWATCH_KAFKA_SASL_PASSWORD'.*must not be empty"),
    ({"WIREWATCH_KAFKA_SASL_PASSWORD": SECRET, "WIREWATCH_KAFKA_SASL_PASSWORD_FILE": "/x"}, "not both"),
    ({"WIREWATCH_KAFKA_SASL_PASSWORD_FILE": "/nonexistent/password"}, "cannot read the secret file"),
    ({"WIREWATCH_KAFKA_SASL_PASSWORD": SECRET, "WIREWATCH_KAFKA_SASL_MECHANISM": "GSSAPI"}, "must be one of"),
    ({"WIREWATCH_KAFKA_SASL_PASSWORD": SECRET, "WIREWATCH_KAFKA_SSL_KEYFILE": "/k.pem"}, "CERTFILE too"),
])
def test_bad_security_settings_fail_at_start_with_the_variable(extra: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message) as caught:
        Settings.from_env({**BASE, **extra})
    assert SECRET not in str(caught.value)


def test_empty_secret_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "password").write_text("\n", "utf-8")
    with pytest.raises(ConfigError, match="PASSWORD_FILE.*is empty"):
        Settings.from_env({**BASE, "WIREWATCH_KAFKA_SASL_PASSWORD_FILE": str(tmp_path / "password")})


def test_tls_context_verifies_chain_and_host_name_and_names_an_unreadable_ca() -> None:
    settings = Settings.from_env({**BASE, "WIREWATCH_KAFKA_SASL_PASSWORD": SECRET})
    context = ssl_context(settings.security)
    assert context.check_hostname and context.verify_mode == ssl.CERT_REQUIRED
    bad = Settings.from_env({**BASE, "WIREWATCH_KAFKA_SASL_PASSWORD": SECRET,
                             "WIREWATCH_KAFKA_SSL_CAFILE": "/nonexistent/ca.pem"})
    with pytest.raises(ConfigError, match="WIREWATCH_KAFKA_SSL_CAFILE.*cannot load the CA file"):
        ssl_context(bad.security)


def test_faust_credentials_use_scram_sha_512_over_tls() -> None:
    creds = _credentials(Settings.from_env({**BASE, "WIREWATCH_KAFKA_SASL_PASSWORD": SECRET}))
    assert creds.mechanism.value == "SCRAM-SHA-512"
    assert creds.protocol.value == "SASL_SSL"
    assert creds.ssl_context.check_hostname
    assert _credentials(Settings.from_env({"KAFKA_BOOTSTRAP_SERVERS": "k:9092"})) is None
