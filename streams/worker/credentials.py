"""Faust (aiokafka) credentials from the same WIREWATCH_KAFKA_* settings as the kafka-python clients."""

from __future__ import annotations

from typing import Any

import faust

from connectors.settings import Settings


def credentials(settings: Settings) -> Any:
    from connectors.settings import ssl_context

    sec = settings.security
    protocol = sec.get("security_protocol", "PLAINTEXT")
    if protocol == "PLAINTEXT":
        return None
    context = ssl_context(sec) if protocol.endswith("SSL") else None
    if protocol == "SSL":
        return faust.SSLCredentials(context)
    return faust.SASLCredentials(username=sec["sasl_plain_username"], password=sec["sasl_plain_password"],
                                 ssl_context=context, mechanism=sec["sasl_mechanism"])
