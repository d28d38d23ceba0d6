"""Required external tools: a missing one fails the test with the reason, never skips it."""

from __future__ import annotations

import shutil

import pytest

DEBIAN_PACKAGE = {"java": "openjdk-17-jre-headless", "mvn": "maven", "prometheus": "prometheus",
                  "promtool": "prometheus", "docker-compose": "docker-compose", "openssl": "openssl",
                  "prometheus-alertmanager": "prometheus-alertmanager", "amtool": "prometheus-alertmanager",
                  "chromium": "chromium"}


def require(tool: str, needed_for: str) -> str:
    """The tool's path; fail (not skip) when it is missing: CI must never pass without it."""
    path = shutil.which(tool)
    if path is None:
        package = DEBIAN_PACKAGE.get(tool, tool)
        pytest.fail(f"`{tool}` is not on PATH: {needed_for} needs it (Debian: apt-get install {package}; "
                    "`make test` and .ci/run install it)", pytrace=False)
    return path
