"""The Article contract (DESIGN.md): ids, canonical URLs, timestamps and schema validation.

The producer owns this contract; consumers validate against the same shipped JSON Schema.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from functools import cache
from importlib import resources
from typing import Any
from urllib.parse import parse_qsl, unquote_plus, urlencode, urlsplit, urlunsplit

import orjson
from w3lib.url import canonicalize_url as _w3lib_canonicalize

from connectors.errors import ConfigError, InvalidRecord

__all__ = ["MAX_DEPTH", "InvalidRecord", "article_id", "canonical_url", "decode", "encode", "is_http_url",
           "legacy_article_id", "note_legacy_id", "parse_time", "ready", "rfc3339", "schema", "validate"]

REQUIRED = ("id", "url", "title", "published_at", "source", "feed")
# Arrays and objects nested deeper than this are refused: no news item needs it, and deeper documents
# make recursive code (the json module, encoders, validators) fail with RecursionError.
MAX_DEPTH = 32

# Query parameters that identify a campaign or a click, never the document.
_TRACKING_PREFIXES = ("utm_", "mc_", "pk_", "hsa_", "_hs", "oly_")
_TRACKING_NAMES = frozenset({
    "fbclid", "gclid", "dclid", "gclsrc", "msclkid", "yclid", "twclid", "igshid", "mkt_tok",
    "cmpid", "ocid", "ncid", "ns_mchannel", "ns_source", "ns_campaign", "ns_linkname",
    "ns_fee", "icid", "xtor", "at_medium", "at_campaign", "smid", "smtyp", "sr_share",
    "_ga", "ref_src", "rss", "taid", "spm", "s_cid", "wt.mc_id", "wt_mc_id",
})


def is_http_url(text: str) -> bool:
    """An absolute http(s) URL with a host and, if any, a numeric port: one `canonical_url` accepts."""
    try:
        parts = urlsplit(text.strip())
        _ = parts.port                     # raises ValueError on a port such as ':about=' or ':99999'
    except ValueError:
        return False
    return parts.scheme.lower() in ("http", "https") and bool(parts.hostname)


def canonical_url(url: str) -> str:
    """One spelling per address, so that one article gets one id however a feed writes its link.

    w3lib's `canonicalize_url` (Scrapy's canonicaliser) does what URL syntax allows: percent-encoding
    normalised (UTF-8, upper-case escapes, unreserved characters such as `~` unescaped), dot segments
    removed, an internationalised host in IDNA, query arguments sorted, the fragment dropped. Around
    it, what only a news monitor knows: tracking parameters dropped (`_TRACKING_*`), scheme and host
    in lower case without a trailing dot, the default port and any user:password@ removed."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").rstrip(".")
    if ":" in host:
        host = f"[{host}]"                                  # an IPv6 literal keeps its brackets
    port = parts.port if parts.port and (scheme, parts.port) not in (("http", 80), ("https", 443)) else None
    netloc = f"{host}:{port}" if port else host
    query = "&".join(pair for pair in parts.query.split("&")
                     if pair and not _is_tracking(unquote_plus(pair.split("=", 1)[0])))
    plain = urlunsplit((scheme, netloc, parts.path or "/", query, ""))
    try:
        return _w3lib_canonicalize(plain)
    except (ValueError, UnicodeError):  # a host IDNA refuses (a label over 63 characters, ...): as it is
        return plain


def _is_tracking(name: str) -> bool:
    low = name.lower()
    return low in _TRACKING_NAMES or low.startswith(_TRACKING_PREFIXES)


def article_id(url: str | None, guid: str | None = None) -> str:
    """Stable id: hash of the canonical URL, or of the GUID when there is no usable URL."""
    if url and is_http_url(url):
        basis = "url:" + canonical_url(url)
    elif guid:
        basis = "guid:" + guid.strip()
    else:
        raise InvalidRecord("an article needs a URL or a GUID for its id")
    return _digest(basis)


def _digest(basis: str) -> str:
    return hashlib.sha256(basis.encode("utf-8")).hexdigest()[:24]


def legacy_article_id(url: str | None, guid: str | None = None) -> str:
    """The id an article had before w3lib canonicalised URLs (the legacy id), for the id migration
    (docs/operations.md, "Article ids"): the connector treats an item whose legacy id it already
    published as published. Remove with `_legacy_canonical_url` once every feed state has rolled over."""
    if url and is_http_url(url):
        return _digest("url:" + _legacy_canonical_url(url))
    return article_id(url, guid)


LEGACY_ID = "legacy_id"


def note_legacy_id(article: dict[str, Any], url: str | None, guid: str | None = None) -> dict[str, Any]:
    """Put the article's legacy id under `legacy_id` when it differs from its id. Parsers call it; the
    poll (connectors/poll.py) takes the field out again before anything is published."""
    legacy = legacy_article_id(url, guid)
    if legacy != article["id"]:
        article[LEGACY_ID] = legacy
    return article


def _legacy_canonical_url(url: str) -> str:
    """The legacy canonical URL: lower-case scheme and host, no fragment, default port or tracking
    parameters; path and query as given (so `%7E`, `~` and `%c3%a9` vs `%C3%A9` differed)."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower().rstrip(".")
    port = parts.port if parts.port and (scheme, parts.port) not in (("http", 80), ("https", 443)) else None
    netloc = f"{host}:{port}" if port else host
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
             if not _is_tracking(k)]
    path = parts.path or "/"
    return urlunsplit((scheme, netloc, path, urlencode(query, doseq=True), ""))


def rfc3339(moment: datetime) -> str:
    """RFC 3339 in UTC with a Z suffix, second precision."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(value: str) -> datetime:
    """Parse an RFC 3339 timestamp (as the contract writes them) to an aware datetime."""
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@cache
def schema() -> dict[str, Any]:
    text = resources.files("connectors").joinpath("schemas/article.schema.json").read_text("utf-8")
    return json.loads(text)


@cache
def _validator() -> Any:
    """The reference validator (jsonschema): it decides every record the compiled one does not pass,
    and writes the error messages."""
    import jsonschema

    return jsonschema.Draft202012Validator(schema(), format_checker=_format_checker())


def _format_checker() -> Any:
    """jsonschema's FormatChecker, refusing to start without a checker for a format the schema declares.

    jsonschema checks a format only when the package that implements it is installed (`date-time`:
    rfc3339-validator, `uri`: rfc3986-validator; the `format-nongpl` extra that pyproject.toml pins);
    without it every value passes, silently: `fetched_at: "yesterday"` and `2023-02-30` were accepted
    and then failed in scoring."""
    import jsonschema

    checker = jsonschema.FormatChecker()
    missing = sorted(_formats(schema()) - set(checker.checkers))
    if missing:
        raise ConfigError(f"jsonschema cannot check the format(s) {', '.join(missing)} of the Article schema: "
                          "install jsonschema[format-nongpl] (pyproject.toml pins it)", key="jsonschema")
    return checker


def ready() -> None:
    """Build both validators now, at start: a missing format checker fails here (ConfigError), not on a
    record."""
    _validator()
    _fast_validator()


def _formats(node: Any) -> set[str]:
    if isinstance(node, dict):
        found = {node["format"]} if isinstance(node.get("format"), str) else set()
        return found.union(*(_formats(v) for v in node.values()))
    if isinstance(node, list):
        return set().union(*(_formats(v) for v in node))
    return set()


@cache
def _fast_validator() -> Any:
    """The same schema file compiled to Python by fastjsonschema (~50x faster than jsonschema's
    per-record interpretation). It is only trusted to pass a record: whatever it rejects goes to the
    reference validator, which gives the verdict and the message. It is never more lenient than the
    reference: formats are delegated to jsonschema's own FormatChecker, its `pattern` anchors `$` at
    the very end (stricter), and the one construct it accepts that jsonschema rejects (a tuple where
    the schema says array) never comes out of JSON and is routed to the reference in `validate`."""
    import fastjsonschema

    conforms = _format_checker().conforms
    formats = {name: (lambda value, name=name: conforms(value, name)) for name in _formats(schema())}
    return fastjsonschema.compile(schema(), formats=formats)


def _check(article: Mapping[str, Any]) -> None:
    """Raise InvalidRecord naming the field unless the article (a dict as JSON gives it) satisfies
    the contract."""
    try:
        _fast_validator()(article)
        return
    except Exception:  # noqa: BLE001 (rejected, or failed oddly: the reference validator decides)
        pass
    _reference_check(article)


def _reference_check(article: Mapping[str, Any]) -> None:
    error = next(iter(sorted(_validator().iter_errors(article), key=lambda e: list(e.path))), None)
    if error is not None:
        field = ".".join(str(p) for p in error.path) or "(record)"
        raise InvalidRecord(f"article field {field}: {error.message}")


def _too_deep(value: Any) -> bool:
    """Whether arrays and objects nest deeper than MAX_DEPTH (iteratively: no recursion to exhaust)."""
    stack = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            return True
        if isinstance(node, Mapping):
            stack.extend((child, depth + 1) for child in node.values() if isinstance(child, Mapping | list | tuple))
        elif isinstance(node, list | tuple):
            stack.extend((child, depth + 1) for child in node if isinstance(child, Mapping | list | tuple))
    return False


def _refuse_deep(value: Any) -> None:
    if _too_deep(value):
        raise InvalidRecord(f"article nested deeper than {MAX_DEPTH} levels of arrays and objects")


def _refuse_surrogates(article: Mapping[str, Any]) -> None:
    """A lone surrogate (JSON's \\ud800 escape) is no Unicode text: it cannot be written as UTF-8, so a
    stage that encodes the record would fail on it later. Refused here, naming the field."""
    stack: list[tuple[str, Any]] = [(str(name), value) for name, value in article.items()]
    while stack:
        field, node = stack.pop()
        if isinstance(node, str):
            if not node.isascii() and _SURROGATE.search(node):
                raise InvalidRecord(f"article field {field}: a lone surrogate (\\ud800-\\udfff) is not text")
        elif isinstance(node, Mapping):
            stack.extend((field, child) for child in node.values())
            stack.extend((field, key) for key in node)
        elif isinstance(node, list | tuple):
            stack.extend((field, child) for child in node)


_SURROGATE = re.compile("[\ud800-\udfff]")


def validate(article: Any) -> dict[str, Any]:
    """Return the article if it satisfies the contract, else raise InvalidRecord naming the field."""
    if not isinstance(article, Mapping):
        raise InvalidRecord(f"an article must be a JSON object, not {type(article).__name__}")
    _refuse_deep(article)
    _refuse_surrogates(article)
    if type(article) is dict and not any(type(v) is tuple for v in article.values()):
        _check(article)
    else:  # not what JSON gives: jsonschema's own type rules (a tuple is no array there)
        _reference_check(article)
    return dict(article)


def _plain(value: Any) -> bool:
    """No float anywhere in a decoded document. orjson reads integers beyond 64 bits as floats, the
    json module as ints; every other document orjson accepts it reads exactly as the json module."""
    for item in value.values() if type(value) is dict else value:
        kind = type(item)
        if kind is str or item is None or kind is bool or kind is int:
            continue
        if kind is float or ((kind is dict or kind is list) and not _plain(item)):
            return False
    return True


def _loads(raw: bytes | str) -> Any:
    """orjson where it reads the document exactly as the json module does; the json module (its value
    or its error) otherwise: NaN, Infinity, integers beyond 64 bits, lone surrogates, BOMs, UTF-16."""
    if type(raw) is bytes or type(raw) is str:
        try:
            value = orjson.loads(raw)
        except orjson.JSONDecodeError:
            pass
        else:
            _refuse_deep(value)
            if type(value) is dict and _plain(value):
                return value
    try:
        value = json.loads(raw)
    except RecursionError as exc:  # deeper than the interpreter's stack (orjson stops at 1,024 levels)
        raise InvalidRecord(f"article nested deeper than {MAX_DEPTH} levels of arrays and objects") from exc
    _refuse_deep(value)
    if isinstance(value, dict):    # (orjson refuses lone surrogates: only this path can hold them)
        _refuse_surrogates(value)
    return value


def decode(raw: bytes | str) -> dict[str, Any]:
    """Bytes off a topic or a JSONL line to a validated Article."""
    try:
        value = _loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidRecord(f"not JSON: {exc}") from exc
    if type(value) is not dict:
        return validate(value)
    _check(value)  # a fresh dict from JSON: no copy
    return value


def encode(article: Mapping[str, Any]) -> bytes:
    return json.dumps(article, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode("utf-8")
