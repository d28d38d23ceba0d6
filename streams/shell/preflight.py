"""Pre-flight check of a secured Kafka cluster: wrong credentials or TLS trust fail fast and clearly.

Kafka clients retry a failed bootstrap until a timeout (kafka-python) or forever (Faust/aiokafka) and
say only "unable to bootstrap". Before a command starts its real clients, `check_kafka` connects once
with the configured security options and turns an authentication or TLS failure into a WirewatchError
naming the user, broker and mechanism, within seconds. Secrets never appear in the message.
"""

from __future__ import annotations

import asyncio
import logging
import ssl

from connectors.errors import WirewatchError
from connectors.settings import Settings, mask

log = logging.getLogger(__name__)


class KafkaAuthError(WirewatchError):
    """The cluster refused our credentials or we refused its certificate."""


def check_kafka(settings: Settings, timeout: float = 15.0) -> None:
    """Connect once with the security settings; raise KafkaAuthError on an authentication/TLS failure.

    Plaintext clusters are not checked (nothing to authenticate). A cluster that does not answer at
    all is left to the command itself, which reports it in its own way.
    """
    protocol = settings.security.get("security_protocol", "PLAINTEXT")
    if protocol == "PLAINTEXT" or not settings.bootstrap_servers:
        return
    try:
        asyncio.run(asyncio.wait_for(_probe(settings, timeout), timeout + 5))
    except WirewatchError:   # authentication, TLS trust, or a CA/certificate file that does not load
        raise
    except Exception as exc:  # noqa: BLE001 - not an auth failure (unreachable, timeout): the command decides
        log.warning("pre-flight check of Kafka at %s did not complete: %s", settings.bootstrap_servers,
                    mask(f"{type(exc).__name__}: {exc}", settings))


async def _probe(settings: Settings, timeout: float) -> None:
    """One authenticated connection to the first bootstrap server that answers.

    aiokafka (Faust's client) reports the broker's authentication error on the connection itself;
    kafka-python's bootstrap retries it as a plain disconnect until its timeout.
    """
    from aiokafka.conn import create_conn
    from aiokafka.errors import KafkaError, SaslAuthenticationFailed, UnsupportedSaslMechanismError

    from connectors.settings import ssl_context

    sec = settings.security
    protocol = sec["security_protocol"]
    context = ssl_context(sec) if protocol.endswith("SSL") else None
    unreachable: list[str] = []
    for server in settings.bootstrap_servers.split(","):  # type: ignore[union-attr]
        host, _, port = server.strip().rpartition(":")
        try:
            conn = await create_conn(host.strip("[]"), int(port), client_id=f"{settings.client_id}-preflight",
                                     request_timeout_ms=int(timeout * 1000), ssl_context=context,
                                     security_protocol=protocol, sasl_mechanism=sec.get("sasl_mechanism"),
                                     sasl_plain_username=sec.get("sasl_plain_username"),
                                     sasl_plain_password=sec.get("sasl_plain_password"))
        except (SaslAuthenticationFailed, UnsupportedSaslMechanismError) as exc:
            raise KafkaAuthError(mask(describe(settings, exc, server), settings)) from None
        except ssl.SSLError as exc:
            raise KafkaAuthError(mask(describe(settings, exc, server), settings)) from None
        except (OSError, TimeoutError, KafkaError, ValueError) as exc:
            unreachable.append(f"{server}: {type(exc).__name__}: {exc}")
            continue
        conn.close()
        return
    raise ConnectionError("; ".join(unreachable))


def describe(settings: Settings, failure: BaseException, server: str) -> str:
    """What went wrong, for an operator: who, where, how, and what to check."""
    security = settings.security
    if isinstance(failure, ssl.SSLError):
        cafile = security.get("ssl_cafile")
        trust = f"the CA file {cafile}" if cafile else "the system trust store (set WIREWATCH_KAFKA_SSL_CAFILE)"
        reason = getattr(failure, "verify_message", None) or getattr(failure, "reason", None) or failure
        return (f"TLS handshake with Kafka at {server} failed: certificate verify failed: {reason}; the broker "
                f"certificate is checked against {trust} and the host name {server.rpartition(':')[0]!r}")
    user = security.get("sasl_plain_username", "")
    mechanism = security.get("sasl_mechanism", "")
    reason = str(failure).split(":", 1)[-1].strip() if "Error" in str(failure).split(":", 1)[0] else str(failure)
    return (f"Kafka authentication failed for user {user!r} at {server} ({mechanism}): {reason} "
            f"(check WIREWATCH_KAFKA_SASL_USERNAME and WIREWATCH_KAFKA_SASL_PASSWORD[_FILE])")
