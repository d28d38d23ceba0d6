"""Destinations through Apprise: one library for Slack, Teams (Workflows), e-mail, PagerDuty, Opsgenie,
ntfy, generic JSON webhooks and ~100 other services, instead of a message format per service.

Each destination URL gets one rendering of the message, chosen by what the service takes:

- services that take Markdown (Slack, Teams, Discord, ...) get the HTML rendering and no title: Apprise
  converts the HTML to the service's Markdown dialect and escapes the text for it (a title field
  there is a raw Markdown heading, so the headline travels in the body);
- services that take HTML (e-mail) get the HTML rendering and the one-line subject;
- services that take plain text (ntfy, PagerDuty, Opsgenie, JSON webhooks, ...) get the text
  rendering and the one-line subject.

Retries: every failure is retried with backoff (Apprise reports success or failure per service, not
whether a failure is permanent); a destination with several URLs retries only the ones that failed.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from streams.delivery.messages import Message
from streams.delivery.routes import Destination
from streams.shell.sinks import DeliveryError, Interrupted, RetryPolicy

log = logging.getLogger(__name__)


def _asset() -> Any:
    import apprise

    # memory: no cache files under $HOME (containers run read-only); no Apprise branding in messages
    return apprise.AppriseAsset(app_id="wirewatch", app_desc="wirewatch alerts", app_url="",
                                storage_mode="memory", image_url_mask="", image_url_logo="")


def rendering(plugin: Any) -> str:
    """`markdown`, `html` or `text`: what the service behind an Apprise plugin takes first."""
    formats = plugin.notify_format if isinstance(plugin.notify_format, tuple | list) else (plugin.notify_format,)
    return str(getattr(formats[0], "value", formats[0]))


class Target:
    """One Apprise URL of a destination."""

    def __init__(self, url: str, shown: str, asset: Any) -> None:
        import apprise

        self.shown = shown
        plugin = apprise.Apprise.instantiate(url, asset=asset)
        if plugin is None:
            raise ValueError(f"not a notification URL: {shown}")
        self.kind = rendering(plugin)
        self.apprise = apprise.Apprise(asset=asset)
        self.apprise.add(plugin)

    def send(self, message: Message) -> str | None:
        """Deliver once; None on success, else the error (Apprise's log lines, secrets masked by it)."""
        from apprise import NotifyFormat, NotifyType

        notify_type = {"critical": NotifyType.FAILURE, "high": NotifyType.WARNING}.get(message.severity,
                                                                                     NotifyType.INFO)
        if self.kind == "markdown":
            body, title, fmt = message.html, "", NotifyFormat.HTML
        elif self.kind == "html":
            body, title, fmt = message.html, message.subject, NotifyFormat.HTML
        else:
            body, title, fmt = message.text, message.subject, NotifyFormat.TEXT
        result = self.apprise.notify(body=body, title=title, body_format=fmt, notify_type=notify_type)
        if result:
            return None
        lines = [entry.message for entry in result.logs()
                 if str(entry.level).upper() in ("WARNING", "ERROR", "CRITICAL")]
        return f"{self.shown}: " + (" | ".join(lines)[-1500:] or "delivery failed")


class Channel:
    """A named destination (one or more URLs) with retries. Knows nothing about Kafka."""

    def __init__(self, destination: Destination, retry: RetryPolicy | None = None,
                 wait: Callable[[float], bool] | None = None, asset: Any = None) -> None:
        asset = asset or _asset()
        self.name = destination.name
        self.targets = [Target(url, shown, asset) for url, shown in zip(destination.urls, destination.shown,
                                                                          strict=True)]
        self.retry = retry or RetryPolicy()
        self.wait = wait or (lambda seconds: not threading.Event().wait(seconds))

    def send(self, message: Message, on_retry: Callable[[str], None] | None = None) -> int:
        """Deliver to every URL; return the attempts made. Raises DeliveryError after the last attempt
        and Interrupted when shutdown interrupts a backoff (the caller then leaves the record uncommitted)."""
        remaining = list(self.targets)
        for attempt in range(1, self.retry.attempts + 1):
            errors = []
            for target in list(remaining):
                started = time.perf_counter()
                error = target.send(message)
                log.debug("%s -> %s in %.3fs: %s", message.key, target.shown, time.perf_counter() - started,
                          error or "ok")
                if error is None:
                    remaining.remove(target)
                else:
                    errors.append(error)
            if not remaining:
                return attempt
            if attempt == self.retry.attempts:
                raise DeliveryError(f"{self.name}: gave up after {attempt} attempts: {'; '.join(errors)}")
            delay = self.retry.delay(attempt, None)
            log.warning("destination %s attempt %d failed (%s); retrying in %.1fs", self.name, attempt,
                        "; ".join(errors)[:300], delay)
            if on_retry is not None:
                on_retry(self.name)
            if not self.wait(delay):
                raise Interrupted("; ".join(errors))
        raise AssertionError("unreachable")
