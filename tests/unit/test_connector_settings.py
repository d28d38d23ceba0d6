"""Connector settings come from WIREWATCH_CONNECTOR_* and fail at start with the variable's name."""

from __future__ import annotations

import pytest

from connectors.errors import ConfigError
from connectors.runner import fetcher_from, policy_from
from connectors.settings import ConnectorSettings, Settings


def test_defaults_and_overrides() -> None:
    assert Settings.from_env({}).connector == ConnectorSettings()
    cfg = Settings.from_env({"WIREWATCH_CONNECTOR_CONCURRENCY": "7", "WIREWATCH_CONNECTOR_HOST_SPACING": "0.5",
                             "WIREWATCH_CONNECTOR_METRICS_PORT": "9109", "WIREWATCH_FETCH_GUARD": "on",
                             "WIREWATCH_FETCH_ALLOW_HOSTS": "127.0.0.1, Feeds.Local"}).connector
    assert (cfg.concurrency, cfg.host_spacing_s, cfg.metrics_port) == (7, 0.5, 9109)
    assert cfg.fetch_guard and cfg.allow_hosts == ("127.0.0.1", "feeds.local")
    assert policy_from(cfg).backoff_cap == 24 * 3600


@pytest.mark.parametrize(("env", "name"), [
    ({"WIREWATCH_CONNECTOR_CONCURRENCY": "lots"}, "WIREWATCH_CONNECTOR_CONCURRENCY"),
    ({"WIREWATCH_CONNECTOR_TIMEOUT": "0"}, "WIREWATCH_CONNECTOR_TIMEOUT"),
    ({"WIREWATCH_CONNECTOR_MIN_INTERVAL": "7200", "WIREWATCH_CONNECTOR_MAX_INTERVAL": "60"},
     "WIREWATCH_CONNECTOR_MIN_INTERVAL"),
    ({"WIREWATCH_FETCH_GUARD": "maybe"}, "WIREWATCH_FETCH_GUARD"),
])
def test_bad_values_name_the_variable(env: dict[str, str], name: str) -> None:
    with pytest.raises(ConfigError, match=name):
        Settings.from_env(env)


def test_the_guard_is_on_unless_turned_off() -> None:
    import asyncio

    from connectors.fetcher import AllowAll, PrivateAddressGuard

    async def build(cfg: ConnectorSettings) -> object:
        fetcher = fetcher_from(cfg)
        await fetcher.aclose()
        return fetcher.policy

    assert isinstance(asyncio.run(build(ConnectorSettings())), PrivateAddressGuard)   # on by default
    assert isinstance(asyncio.run(build(ConnectorSettings(fetch_guard=False))), AllowAll)
