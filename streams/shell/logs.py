"""Logging for every wirewatch process: quiet by default, readable on a terminal, JSON on request.

    WIREWATCH_LOG_FORMAT   text (default): one line per record, the `extra` fields as key=value;
                           coloured levels and short times on a terminal, RFC 3339 times elsewhere
                           json: one JSON object per line (time, level, logger, message, pid, every
                           `extra` field such as the DLQ warning's topic/partition/offset, exception)
    WIREWATCH_LOG_LEVEL    wirewatch's own loggers: warning (default), info, debug, error; `-v`
                           (info) and `-vv` (debug) on the command line take precedence

Framework loggers (Faust, mode, aiokafka, kafka-python, httpx) stay one step quieter than
wirewatch's own: their retries and reconnects are what wirewatch reports in its own words.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Mapping
from typing import Any, TextIO

from connectors.errors import ConfigError

FORMATS = ("text", "json")
LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING, "error": logging.ERROR}
FRAMEWORKS = ("faust", "mode", "aiokafka", "kafka", "httpx", "httpcore", "numba", "asyncio", "aiohttp", "apprise")
# the attributes every LogRecord has; anything else on a record came in through `extra=`
_STANDARD = frozenset(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime", "taskName"}
_COLOURS = {"DEBUG": "\033[2m", "INFO": "\033[36m", "WARNING": "\033[33m", "ERROR": "\033[31m",
            "CRITICAL": "\033[1;31m"}


def extras(record: logging.LogRecord) -> dict[str, Any]:
    """The fields a call passed with `extra=` (in the order they were given)."""
    return {k: v for k, v in record.__dict__.items() if k not in _STANDARD and not k.startswith("_")}


def _utc(created: float, millis: bool = True) -> str:
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(created))
    return f"{stamp}.{int(created % 1 * 1000):03d}Z" if millis else f"{stamp}Z"


class JsonFormatter(logging.Formatter):
    """One JSON object per record: what log shippers (Loki, Elasticsearch, Cloud Logging) index."""

    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {"time": _utc(record.created), "level": record.levelname, "logger": record.name,
                               "message": record.getMessage(), "pid": record.process}
        for key, value in extras(record).items():
            doc.setdefault(key, value)
        if record.exc_info:
            doc["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            doc["stack"] = self.formatStack(record.stack_info)
        return json.dumps(doc, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """`time LEVEL logger: message key=value ...`; on a terminal short times and coloured levels."""

    def __init__(self, terminal: bool = False) -> None:
        super().__init__()
        self.terminal = terminal

    def format(self, record: logging.LogRecord) -> str:
        fields = " ".join(f"{k}={v}" for k, v in extras(record).items())
        if self.terminal:
            stamp = time.strftime("%H:%M:%S", time.localtime(record.created))
            level = f"{_COLOURS.get(record.levelname, '')}{record.levelname}\033[0m"
        else:
            stamp, level = _utc(record.created), record.levelname
        line = f"{stamp} {level} {record.name}: {record.getMessage()}" + (f" ({fields})" if fields else "")
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        if record.stack_info:
            line += "\n" + self.formatStack(record.stack_info)
        return line


def configure(verbose: int = 0, environ: Mapping[str, str] | None = None, stream: TextIO | None = None) -> str:
    """Set up the root logger for this process (replacing any handler); returns the format used.

    A bad WIREWATCH_LOG_FORMAT or WIREWATCH_LOG_LEVEL raises ConfigError naming the variable."""
    import os

    env = os.environ if environ is None else environ
    stream = stream or sys.stderr
    fmt = env.get("WIREWATCH_LOG_FORMAT", "text").strip().lower() or "text"
    if fmt not in FORMATS:
        raise ConfigError(f"must be one of {', '.join(FORMATS)}, got {fmt!r}", key="WIREWATCH_LOG_FORMAT")
    name = env.get("WIREWATCH_LOG_LEVEL", "warning").strip().lower() or "warning"
    if name not in LEVELS:
        raise ConfigError(f"must be one of {', '.join(LEVELS)}, got {name!r}", key="WIREWATCH_LOG_LEVEL")
    level = min(LEVELS[name], (logging.WARNING, logging.INFO, logging.DEBUG)[min(verbose, 2)])
    handler = logging.StreamHandler(stream)
    terminal = bool(getattr(stream, "isatty", lambda: False)())
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter(terminal))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    logging.captureWarnings(True)   # Python warnings as log records: a JSON log stays one object per line
    quieter = logging.DEBUG if level <= logging.DEBUG else min(logging.ERROR, level + 10)
    for framework in FRAMEWORKS:
        logging.getLogger(framework).setLevel(quieter)
    if level > logging.DEBUG:
        # kafka-python logs every refused connection and retry as ERROR/WARNING; the outcome is
        # what matters to an operator, and wirewatch reports that itself.
        logging.getLogger("kafka").setLevel(logging.CRITICAL)
    if level > logging.INFO:
        logging.getLogger("apprise").setLevel(logging.CRITICAL)   # wirewatch reports failed deliveries itself
    return fmt
