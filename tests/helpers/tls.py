"""Test certificates made with the `openssl` CLI: a CA and a server certificate for 127.0.0.1/localhost.

The server key and chain are also exported as a PKCS#12 keystore for the Kafka broker. Nothing here
is meant for production: keys are unencrypted PEM files in the test's temporary directory.
"""

from __future__ import annotations

import secrets
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Pki:
    ca_cert: Path            # what clients trust (WIREWATCH_KAFKA_SSL_CAFILE)
    server_cert: Path
    server_key: Path
    keystore: Path           # PKCS#12: server key + certificate + CA, for the broker
    keystore_password: str


def _openssl(*args: str | Path, cwd: Path) -> None:
    result = subprocess.run(["openssl", *map(str, args)], cwd=cwd, capture_output=True, text=True,
                            timeout=60, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"openssl {args[0]} failed: {result.stderr.strip()[-1000:]}")


def make_ca(directory: Path, name: str = "wirewatch test CA") -> tuple[Path, Path]:
    """A self-signed CA: (certificate, key)."""
    directory.mkdir(parents=True, exist_ok=True)
    cert, key = directory / "ca.pem", directory / "ca.key"
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-sha256", "-days", "2",
             "-subj", f"/CN={name}", "-keyout", key, "-out", cert,
             "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
             cwd=directory)
    return cert, key


def make_pki(directory: Path, hosts: tuple[str, ...] = ("localhost",),
             ips: tuple[str, ...] = ("127.0.0.1",)) -> Pki:
    """A CA and a server certificate signed by it (SANs for `hosts` and `ips`), plus a PKCS#12 keystore."""
    if shutil.which("openssl") is None:
        raise RuntimeError("the `openssl` command is needed to make test certificates")
    ca_cert, ca_key = make_ca(directory)
    key, csr, cert = directory / "server.key", directory / "server.csr", directory / "server.pem"
    ext = directory / "server.ext"
    san = ",".join([*(f"DNS:{h}" for h in hosts), *(f"IP:{i}" for i in ips)])
    ext.write_text(f"subjectAltName={san}\nbasicConstraints=CA:FALSE\n"
                   "keyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n", "utf-8")
    _openssl("req", "-new", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={hosts[0] if hosts else ips[0]}",
             "-keyout", key, "-out", csr, cwd=directory)
    _openssl("x509", "-req", "-in", csr, "-CA", ca_cert, "-CAkey", ca_key, "-CAcreateserial", "-sha256",
             "-days", "2", "-extfile", ext, "-out", cert, cwd=directory)
    password = secrets.token_hex(12)
    keystore = directory / "server.p12"
    _openssl("pkcs12", "-export", "-in", cert, "-inkey", key, "-certfile", ca_cert, "-name", "broker",
             "-passout", f"pass:{password}", "-out", keystore, cwd=directory)
    return Pki(ca_cert=ca_cert, server_cert=cert, server_key=key, keystore=keystore,
                   keystore_password=password)
