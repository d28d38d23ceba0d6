"""The Kafka cluster a command talks to: the configured one (WIREWATCH_* settings), else the embedded local
broker. Shared by every command that reads or writes topics (cli.py, delivery.py)."""

from __future__ import annotations

from connectors.settings import Settings


def require_cluster() -> Settings:
    """The settings from the environment; without bootstrap servers, those of the local broker."""
    settings = Settings.from_env()
    if not settings.bootstrap_servers:
        from streams.shell.localkafka import from_env

        return settings.with_bootstrap(from_env().bootstrap)
    return settings


def checked_cluster() -> Settings:
    """The cluster settings, after a pre-flight check of the credentials on a secured cluster."""
    from streams.shell.preflight import check_kafka

    settings = require_cluster()
    check_kafka(settings)
    return settings
