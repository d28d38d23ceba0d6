"""Typed settings shared by the connector runner and the stream workers.

Everything is read from `WIREWATCH_*` environment variables (plus the conventional
`KAFKA_BOOTSTRAP_SERVERS`); a bad value fails at start with the variable's name and the reason.
"""

from __future__ import annotations

import os
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from connectors.errors import ConfigError

DAY_MS = 24 * 3600 * 1000


def state_home(environ: Mapping[str, str] | None = None) -> str:
    """Where wirewatch keeps local state (broker data, worker tables): $WIREWATCH_HOME or XDG state."""
    env = os.environ if environ is None else environ
    if env.get("WIREWATCH_HOME"):
        return env["WIREWATCH_HOME"]
    base = env.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return os.path.join(base, "wirewatch")


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int
    config: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Topics:
    articles: str = "news.articles"
    by_lang: str = "news.articles.by-lang"
    stories: str = "news.stories"
    scored: str = "news.scored"
    alerts: str = "news.alerts"
    feed_state: str = "wirewatch.feed-state"
    feed_health: str = "wirewatch.feed-health"

    def specs(self, partitions: int) -> list[TopicSpec]:
        """Every topic with the partitions and retention of DESIGN.md, DLQs included. `news.scored` has
        one partition: every report of an event, in any language, must meet the same event state
        (docs/architecture-events.md)."""
        def delete(days: int) -> dict[str, str]:
            return {"cleanup.policy": "delete", "retention.ms": str(days * DAY_MS)}

        main = [TopicSpec(self.articles, partitions, delete(7)),
                TopicSpec(self.by_lang, partitions, delete(3)),
                TopicSpec(self.stories, partitions, delete(7)),
                TopicSpec(self.scored, 1, delete(7)),
                TopicSpec(self.alerts, partitions, delete(30)),
                TopicSpec(self.feed_state, partitions, {"cleanup.policy": "compact"}),
                TopicSpec(self.feed_health, 1, delete(7))]
        dlqs = [TopicSpec(f"{t}.dlq", 1, delete(7)) for t in (self.articles, self.by_lang, self.stories, self.scored)]
        return main + dlqs


@dataclass(frozen=True)
class ConnectorSettings:
    """The feed connector runner: scheduling bounds, politeness and limits (WIREWATCH_CONNECTOR_*)."""

    concurrency: int = 100                    # polls in flight, all hosts together
    host_concurrency: int = 2                 # requests in flight per host:port
    host_spacing_s: float = 1.0               # minimum spacing of request starts per host:port
    timeout_s: float = 30.0                   # total per fetch
    max_body_bytes: int = 10 * 1024 * 1024
    default_interval_s: float = 900.0
    min_interval_s: float = 60.0
    max_interval_s: float = 6 * 3600.0
    backoff_base_s: float = 60.0
    backoff_cap_s: float = 24 * 3600.0
    max_buffered: int = 10_000                # unacknowledged Kafka messages before polls wait
    parse_workers: int = 0                    # processes that parse large bodies; 0: in the runner process
    metrics_port: int = 0                     # 0: no metrics server
    fetch_guard: bool = True                  # refuse private/loopback/metadata addresses (SSRF guard)
    allow_hosts: tuple[str, ...] = ()         # hosts, host:port, IPs, CIDRs the guard lets through
    transactions: bool = True                 # articles + feed state in one Kafka transaction per batch
    instance: str = "connector"               # names this connector process: transactional id <app_id>-<instance>
    txn_stall_s: float = 30.0                 # a transaction not committed by then is abandoned and retried
    proxy: str | None = None                  # explicit egress proxy for every fetch (http://host:port)
    user_agent: str | None = None             # User-Agent of every fetch; None: wirewatch/<version> (+project URL)
    feeds_reload_s: float = 30.0              # how often the feed list file is checked for changes (0: only SIGHUP)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> ConnectorSettings:
        d = cls()
        p = "WIREWATCH_CONNECTOR_"
        value = cls(
            concurrency=_int(env, p + "CONCURRENCY", d.concurrency, low=1, high=10_000),
            host_concurrency=_int(env, p + "HOST_CONCURRENCY", d.host_concurrency, low=1, high=100),
            host_spacing_s=_float(env, p + "HOST_SPACING", d.host_spacing_s, low=0.0),
            timeout_s=_float(env, p + "TIMEOUT", d.timeout_s, low=0.1),
            max_body_bytes=_int(env, p + "MAX_BODY_BYTES", d.max_body_bytes, low=1024, high=1 << 31),
            default_interval_s=_float(env, p + "DEFAULT_INTERVAL", d.default_interval_s, low=0.01),
            min_interval_s=_float(env, p + "MIN_INTERVAL", d.min_interval_s, low=0.01),
            max_interval_s=_float(env, p + "MAX_INTERVAL", d.max_interval_s, low=0.01),
            backoff_base_s=_float(env, p + "BACKOFF_BASE", d.backoff_base_s, low=0.01),
            backoff_cap_s=_float(env, p + "BACKOFF_CAP", d.backoff_cap_s, low=0.01),
            max_buffered=_int(env, p + "MAX_BUFFERED", d.max_buffered, low=1, high=10_000_000),
            parse_workers=_int(env, p + "PARSE_WORKERS", 0, low=0, high=64),
            metrics_port=_int(env, p + "METRICS_PORT", 0, low=0, high=65535),
            fetch_guard=_choice(env, "WIREWATCH_FETCH_GUARD", "on", ("on", "off", "1", "0", "true", "false"))
            in ("on", "1", "true"),
            allow_hosts=_allow_hosts(env),
            transactions=_choice(env, p + "TRANSACTIONS", "on", ("on", "off", "1", "0", "true", "false"))
            in ("on", "1", "true"),
            instance=_text(env, p + "INSTANCE", "connector"),
            txn_stall_s=_float(env, p + "TXN_STALL", d.txn_stall_s, low=1.0),
            proxy=_proxy(env),
            user_agent=env.get("WIREWATCH_USER_AGENT", "").strip() or None,
            feeds_reload_s=_float(env, "WIREWATCH_FEEDS_RELOAD", d.feeds_reload_s, low=0.0))
        if value.min_interval_s > value.max_interval_s:
            raise ConfigError(f"must not exceed {p}MAX_INTERVAL ({value.max_interval_s:g})", key=p + "MIN_INTERVAL")
        return value


@dataclass(frozen=True)
class Settings:
    bootstrap_servers: str | None = None      # None: start the embedded local broker
    topics: Topics = field(default_factory=Topics)
    partitions: int = 4
    replication: int = 1                      # replication factor of the topics wirewatch and Faust create
    client_id: str = "wirewatch"
    app_id: str = "wirewatch"                 # Faust app id: consumer group and changelog topic prefix
    security: Mapping[str, Any] = field(default_factory=dict)   # kafka-python style security options
    metrics_port: int = 0                     # 0: no metrics server
    alert_min_severity: str = "medium"
    alert_min_interval_s: float = 600.0
    rules_path: str = ""                      # escalation rules YAML; "" = the shipped seeds/rules
    rules_reload_s: float = 30.0              # how often a worker checks the rule files (0: never)
    session_timeout_s: float = 30.0           # consumer group session: how soon a dead worker's partitions move
    data_dir: str = ""                        # worker tables (RocksDB); "" = <state home>/worker
    liveness_timeout_s: float = 120.0         # /livez answers 503 once a heartbeat is older than this
    order_buffer: int = 1024                  # records dedupe and the event stage hold to restore production order
    order_hold_s: float = 0.25                # ... and how long at most (streams/order.py); 0 records: off
    connector: ConnectorSettings = field(default_factory=ConnectorSettings)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        topics = Topics(**{name: _text(env, f"WIREWATCH_TOPIC_{name.upper()}", default)
                           for name, default in Topics().__dict__.items()})
        return cls(
            bootstrap_servers=env.get("KAFKA_BOOTSTRAP_SERVERS") or None,
            topics=topics,
            partitions=_int(env, "WIREWATCH_PARTITIONS", 4, low=1, high=1024),
            replication=_int(env, "WIREWATCH_REPLICATION", 1, low=1, high=16),
            client_id=_text(env, "WIREWATCH_CLIENT_ID", "wirewatch"),
            app_id=_text(env, "WIREWATCH_APP_ID", "wirewatch"),
            security=_security(env),
            metrics_port=_int(env, "WIREWATCH_METRICS_PORT", 0, low=0, high=65535),
            alert_min_severity=_choice(env, "WIREWATCH_ALERT_MIN_SEVERITY", "medium",
                                       ("none", "low", "medium", "high", "critical")),
            alert_min_interval_s=_float(env, "WIREWATCH_ALERT_MIN_INTERVAL", 600.0, low=0.0),
            rules_path=env.get("WIREWATCH_RULES", "").strip(),
            rules_reload_s=_float(env, "WIREWATCH_RULES_RELOAD", 30.0, low=0.0),
            session_timeout_s=_float(env, "WIREWATCH_SESSION_TIMEOUT", 30.0, low=6.0),
            data_dir=_text(env, "WIREWATCH_DATA_DIR", os.path.join(state_home(env), "worker")),
            liveness_timeout_s=_float(env, "WIREWATCH_LIVENESS_TIMEOUT", 120.0, low=1.0),
            order_buffer=_int(env, "WIREWATCH_ORDER_BUFFER", 1024, low=0, high=1_000_000),
            order_hold_s=_float(env, "WIREWATCH_ORDER_HOLD", 0.25, low=0.01),
            connector=ConnectorSettings.from_env(env),
        )

    def with_bootstrap(self, servers: str) -> Settings:
        return Settings(**{**self.__dict__, "bootstrap_servers": servers})

    def kafka_options(self) -> dict[str, Any]:
        """Options for kafka-python clients (producer, consumer, admin)."""
        if not self.bootstrap_servers:
            raise ConfigError("no Kafka cluster configured", key="KAFKA_BOOTSTRAP_SERVERS")
        return {"bootstrap_servers": self.bootstrap_servers.split(","), **self.security}


def _allow_hosts(env: Mapping[str, str]) -> tuple[str, ...]:
    """WIREWATCH_FETCH_ALLOW_HOSTS: comma-separated host names, host:port, IPs and CIDRs (checked at start)."""
    from connectors.guard import AllowList

    entries = tuple(h.strip().lower() for h in env.get("WIREWATCH_FETCH_ALLOW_HOSTS", "").split(",") if h.strip())
    AllowList.parse(entries)   # a bad entry fails at start with the variable's name
    return entries


def _proxy(env: Mapping[str, str]) -> str | None:
    """WIREWATCH_FETCH_PROXY: http(s)://[user:password@]host:port of the egress proxy (checked at start)."""
    from urllib.parse import urlsplit

    raw = env.get("WIREWATCH_FETCH_PROXY", "").strip()
    if not raw:
        return None
    try:
        parts = urlsplit(raw)
        port = parts.port
    except ValueError:
        port, parts = None, urlsplit("")
    if parts.scheme not in ("http", "https") or not parts.hostname or not port:
        raise ConfigError("must be http://host:port or https://host:port (the egress proxy)",
                          key="WIREWATCH_FETCH_PROXY")
    return Secret(raw) if parts.password else raw


def _text(env: Mapping[str, str], key: str, default: str) -> str:
    value = env.get(key, default).strip()
    if not value:
        raise ConfigError("must not be empty", key=key)
    return value


def _int(env: Mapping[str, str], key: str, default: int, *, low: int, high: int) -> int:
    raw = env.get(key)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"must be a whole number, got {raw!r}", key=key) from None
    if not low <= value <= high:
        raise ConfigError(f"must be between {low} and {high}, got {value}", key=key)
    return value


def _float(env: Mapping[str, str], key: str, default: float, *, low: float) -> float:
    raw = env.get(key)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"must be a number, got {raw!r}", key=key) from None
    if value < low:
        raise ConfigError(f"must be at least {low}, got {value}", key=key)
    return value


def _choice(env: Mapping[str, str], key: str, default: str, choices: tuple[str, ...]) -> str:
    value = env.get(key, default).strip().lower()
    if value not in choices:
        raise ConfigError(f"must be one of {', '.join(choices)}, got {value!r}", key=key)
    return value


class Secret(str):
    """A string that never shows itself in repr(): Settings, dicts of options and log lines stay clean.

    It is still a `str` (clients encode it when they authenticate); only repr() is masked, which is
    what dataclass and dict reprs, `%r` in logs and tracebacks of locals use.
    """

    __slots__ = ()

    def __repr__(self) -> str:
        return "'***'"


SECRET_OPTIONS = ("sasl_plain_password", "ssl_password")


def secrets_of(settings: Settings) -> list[str]:
    """The secret values in these settings (to mask them in any text shown to people)."""
    return [str(settings.security[k]) for k in SECRET_OPTIONS if settings.security.get(k)]


def mask(text: str, settings: Settings) -> str:
    for secret in secrets_of(settings):
        text = text.replace(secret, "***")
    return text


def _secret(env: Mapping[str, str], key: str, *, required: bool) -> Secret | None:
    """A secret from KEY or from the file named by KEY_FILE (a mounted Kubernetes/Docker secret)."""
    value, path = env.get(key, ""), env.get(key + "_FILE", "").strip()
    if value and path:
        raise ConfigError(f"set {key} or {key}_FILE, not both", key=key)
    if path:
        try:
            with open(path, encoding="utf-8") as handle:
                value = handle.read()
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"cannot read the secret file {path}: {getattr(exc, 'strerror', None) or exc}",
                              key=key + "_FILE") from None
        value = value.rstrip("\r\n")   # files usually end with a newline; the secret does not
        if not value:
            raise ConfigError(f"the secret file {path} is empty", key=key + "_FILE")
    if not value:
        if required:
            raise ConfigError(f"must not be empty (or set {key}_FILE)", key=key)
        return None
    return Secret(value)


def _file(env: Mapping[str, str], key: str) -> str | None:
    """A file path; read when a client connects (ssl_context() names the variable if it cannot be read)."""
    return env.get(key, "").strip() or None


def ssl_context(security: Mapping[str, Any]) -> ssl.SSLContext:
    """The TLS context the kafka-python options describe, for aiokafka/Faust: verifies the broker's
    certificate chain and host name; presents a client certificate when one is configured."""
    try:
        context = ssl.create_default_context(cafile=security.get("ssl_cafile"))
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"cannot load the CA file {security.get('ssl_cafile')}: {_reason(exc)}",
                          key="WIREWATCH_KAFKA_SSL_CAFILE") from None
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.check_hostname = bool(security.get("ssl_check_hostname", True))
    if security.get("ssl_certfile"):
        try:
            context.load_cert_chain(security["ssl_certfile"], security.get("ssl_keyfile"),
                                    password=security.get("ssl_password"))
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(f"cannot load the client certificate {security['ssl_certfile']} / key "
                              f"{security.get('ssl_keyfile') or '(in the same file)'}: {_reason(exc)}",
                              key="WIREWATCH_KAFKA_SSL_CERTFILE") from None
    return context


def _reason(exc: BaseException) -> str:
    return str(getattr(exc, "strerror", None) or getattr(exc, "reason", None) or exc)


def _security(env: Mapping[str, str]) -> dict[str, Any]:
    """kafka-python security options from WIREWATCH_KAFKA_* (secrets also from *_FILE).

    TLS always verifies the broker certificate and its host name: against WIREWATCH_KAFKA_SSL_CAFILE
    when set, else against the system trust store.
    """
    protocol = env.get("WIREWATCH_KAFKA_SECURITY_PROTOCOL", "PLAINTEXT").strip().upper()
    if protocol not in ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"):
        raise ConfigError(f"unknown protocol {protocol!r}", key="WIREWATCH_KAFKA_SECURITY_PROTOCOL")
    options: dict[str, Any] = {"security_protocol": protocol}
    if protocol.startswith("SASL"):
        options["sasl_mechanism"] = _choice(env, "WIREWATCH_KAFKA_SASL_MECHANISM", "SCRAM-SHA-512",
                                            ("plain", "scram-sha-256", "scram-sha-512")).upper()
        options["sasl_plain_username"] = _text(env, "WIREWATCH_KAFKA_SASL_USERNAME", "")
        options["sasl_plain_password"] = _secret(env, "WIREWATCH_KAFKA_SASL_PASSWORD", required=True)
    if protocol.endswith("SSL"):
        cafile = _file(env, "WIREWATCH_KAFKA_SSL_CAFILE")
        certfile = _file(env, "WIREWATCH_KAFKA_SSL_CERTFILE")
        keyfile = _file(env, "WIREWATCH_KAFKA_SSL_KEYFILE")
        if keyfile and not certfile:
            raise ConfigError("needs WIREWATCH_KAFKA_SSL_CERTFILE too", key="WIREWATCH_KAFKA_SSL_KEYFILE")
        options["ssl_check_hostname"] = True
        if cafile:
            options["ssl_cafile"] = cafile
        if certfile:   # client certificate (mutual TLS); the key may be in the same PEM file
            options["ssl_certfile"] = certfile
            if keyfile:
                options["ssl_keyfile"] = keyfile
            key_password = _secret(env, "WIREWATCH_KAFKA_SSL_KEY_PASSWORD", required=False)
            if key_password:
                options["ssl_password"] = key_password
    return options
