"""Validated rules remembered between processes, keyed by what they were loaded from.

A command that starts, scores one text and ends (`wirewatch rules test`) would otherwise parse and
validate every rule file on each start. An entry is found by the main file's path and content and by
the loader's own code (a loader that validates differently never reads an older entry); it holds the
loaded fields and the digest of every file they came from, and is used only while every one of those
files still has that content. A file that fails to load is never remembered: its error is reported
afresh each time.

Entries live in $XDG_CACHE_HOME/wirewatch/rules (~/.cache/wirewatch/rules by default), the newest
16 kept; they are written by this user for this user (pickles, in a folder only they can write). A
cache folder that cannot be read or written is no cache: the rules are loaded from the files.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import pickle
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from streams.escalation import context, loading, model, phrases

KEEP = 16
_CODE = (loading, context, model, phrases)   # the modules whose code decides what a load gives


def load_cached(path: Path, load: Callable[[Path], dict[str, Any]]) -> dict[str, Any]:
    """`load(path)`, or what it gave for the same files and the same loader code."""
    folder = _folder()
    try:
        main = path.read_bytes()
    except OSError:
        main = None
    if folder is None or main is None:
        return load(path)
    entry = folder / (_digest(_code_version(), str(path).encode(), main) + ".pickle")
    fields = _read(entry)
    if fields is None:
        fields = load(path)
        _write(folder, entry, fields)
    return fields


def _folder() -> Path | None:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    folder = Path(base) / "wirewatch" / "rules"
    try:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError:
        return None
    return folder


def _digest(*parts: bytes) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(len(part).to_bytes(8, "little") + part)
    return h.hexdigest()


def _code_version() -> bytes:
    return b"".join(Path(module.__file__ or "").read_bytes() for module in _CODE)


def _file_digest(name: str) -> str | None:
    try:
        return _digest(Path(name).read_bytes())
    except OSError:
        return None


def _read(entry: Path) -> dict[str, Any] | None:
    try:
        with entry.open("rb") as stored:
            files, fields = pickle.load(stored)
    except (OSError, EOFError, pickle.UnpicklingError, AttributeError, ImportError, TypeError, ValueError):
        return None  # absent, cut short or written by other code: load from the files
    if any(_file_digest(name) != digest for name, digest in files):
        return None  # an included file changed
    return fields


def _write(folder: Path, entry: Path, fields: dict[str, Any]) -> None:
    files = [(name, _file_digest(name)) for name in fields["files"]]
    written: Path | None = None
    try:
        with tempfile.NamedTemporaryFile(dir=folder, suffix=".tmp", delete=False) as out:
            written = Path(out.name)
            pickle.dump((files, fields), out, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(written, entry)  # readers see the whole entry or none
        written = None
        for old in sorted(folder.glob("*.pickle"), key=lambda p: p.stat().st_mtime, reverse=True)[KEEP:]:
            old.unlink(missing_ok=True)
    except OSError:
        pass  # a full disk or a read-only home: no entry this time
    finally:
        if written is not None:
            with contextlib.suppress(OSError):
                written.unlink()
