"""A local single-node Kafka broker (KRaft, loopback only) for `wirewatch run` and the tests.

The broker is the pinned Apache Kafka from Maven Central (deploy/kafka/pom.xml), resolved once with
`mvn` into a cache directory; later starts need no network. `up` is idempotent and refuses clearly
when the port belongs to someone else; `down` stops the broker it started (SIGTERM, then SIGKILL).

With `secure` set, the broker also listens for clients on a SASL_SSL listener (TLS + SCRAM) whose
users are created when the storage is formatted; the PLAINTEXT listener stays for the broker itself.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import logging
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from connectors.errors import WirewatchError
from connectors.settings import state_home
from streams.resources import kafka_files

log = logging.getLogger(__name__)

KAFKA_VERSION = "4.1.1"


class KafkaLocalError(WirewatchError):
    """The local broker could not be prepared, started or stopped."""


def _xdg(var: str, fallback: str) -> Path:
    return Path(os.environ.get(var) or Path.home() / fallback)


def default_home() -> Path:
    return Path(state_home()) / "kafka"


def default_jars() -> Path:
    return _xdg("XDG_CACHE_HOME", ".cache") / "wirewatch" / f"kafka-{KAFKA_VERSION}" / "libs"


def port_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # As a server binds: connections lingering in TIME_WAIT do not make the port busy.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return False
            raise
    return True


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def java_major(java: str = "java") -> int:
    try:
        out = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=30, check=False)
    except FileNotFoundError as exc:
        raise KafkaLocalError("Java 17+ is needed to run the local Kafka broker; `java` is not on PATH "
                              "(Debian: apt-get install openjdk-17-jre-headless)") from exc
    found = re.search(r'version "(\d+)(?:\.(\d+))?', out.stderr + out.stdout)
    if not found:
        raise KafkaLocalError(f"cannot read the Java version from: {out.stderr.strip()[:200]}")
    major = int(found.group(1))
    return int(found.group(2) or 0) if major == 1 else major


@dataclass(frozen=True)
class SecureListener:
    """An extra SASL_SSL client listener: TLS with the broker's keystore, SCRAM users made at format time."""

    port: int
    keystore: Path                          # PKCS12 (or JKS/PEM, see keystore_type): key + certificate chain
    keystore_password: str = field(repr=False)
    users: Mapping[str, str] = field(default_factory=dict, repr=False)   # SCRAM user name -> password
    mechanism: str = "SCRAM-SHA-512"
    keystore_type: str = "PKCS12"
    advertised_host: str = "localhost"      # must be a name or IP in the broker certificate

    @property
    def bootstrap(self) -> str:
        return f"{self.advertised_host}:{self.port}"


@dataclass
class LocalKafka:
    home: Path = field(default_factory=default_home)
    port: int = 9092
    controller_port: int = 9093
    jars: Path = field(default_factory=default_jars)
    heap: str = "512m"
    secure: SecureListener | None = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def secure_bootstrap(self) -> str:
        if self.secure is None:
            raise KafkaLocalError("this broker has no secured listener")
        return self.secure.bootstrap

    @property
    def data_dir(self) -> Path:
        return self.home / "kafka-data"

    @property
    def pid_file(self) -> Path:
        return self.home / "kafka.pid"

    @property
    def log_file(self) -> Path:
        return self.home / "logs" / "server.log"

    # -- jars -----------------------------------------------------------------------------------
    def ensure_jars(self) -> Path:
        """Resolve the pinned broker jars with Maven once; a complete cache needs no network."""
        marker = self.jars / ".complete"
        if marker.exists():
            return self.jars
        mvn = shutil.which("mvn")
        if mvn is None:
            raise KafkaLocalError("Maven (`mvn`) is needed once to fetch the Kafka broker jars "
                                  "(Debian: apt-get install maven)")
        self.jars.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix="libs-", dir=self.jars.parent))
        log.info("fetching Apache Kafka %s jars with Maven into %s", KAFKA_VERSION, self.jars)
        result = subprocess.run(
            [mvn, "-q", "-B", "-f", str(kafka_files() / "pom.xml"), "dependency:copy-dependencies",
             "-DincludeScope=runtime", f"-DoutputDirectory={staging}"],
            capture_output=True, text=True, check=False)
        if result.returncode != 0 or not any(staging.glob("kafka_2.13-*.jar")):
            shutil.rmtree(staging, ignore_errors=True)
            tail = (result.stdout + result.stderr).strip()[-2000:]
            raise KafkaLocalError(f"mvn could not resolve Kafka {KAFKA_VERSION} (exit {result.returncode}):\n{tail}")
        shutil.rmtree(self.jars, ignore_errors=True)
        staging.rename(self.jars)
        marker.touch()
        return self.jars

    # -- lifecycle ------------------------------------------------------------------------------
    def pid(self) -> int | None:
        """The pid of the broker this home started, if it is still alive."""
        try:
            pid = int(self.pid_file.read_text().strip())
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except (OSError, ValueError):
            return None
        return pid if b"kafka.Kafka" in cmdline and str(self.home).encode() in cmdline else None

    def status(self) -> str:
        pid = self.pid()
        if pid is None:
            return "stopped"
        return f"running (pid {pid}, {self.bootstrap})" if self._answers() else f"starting (pid {pid})"

    def up(self, timeout: float = 90.0) -> str:
        self.home.mkdir(parents=True, exist_ok=True)
        with self._lock():
            pid = self.pid()
            if pid is not None:
                self._wait_ready(pid, timeout)
                return f"already running (pid {pid}, {self.bootstrap})"
            for port in (self.port, self.controller_port, *((self.secure.port,) if self.secure else ())):
                if not port_free(port):
                    raise KafkaLocalError(
                        f"port {port} on 127.0.0.1 is already in use by another process; stop it or choose "
                        f"other ports (WIREWATCH_KAFKA_PORT / WIREWATCH_KAFKA_CONTROLLER_PORT)")
            if java_major() < 17:
                raise KafkaLocalError("the Kafka broker needs Java 17 or newer")
            jars = self.ensure_jars()
            config = self._render_config()
            self._format(jars, config)
            pid = self._start(jars, config)
            self._wait_ready(pid, timeout)
            return f"started (pid {pid}, {self.bootstrap})"

    def down(self, timeout: float = 30.0) -> str:
        with self._lock():
            pid = self.pid()
            if pid is None:
                self.pid_file.unlink(missing_ok=True)
                return "not running"
            os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline and _alive(pid):
                time.sleep(0.2)
            if _alive(pid):
                log.warning("broker did not stop within %ss; killing it", timeout)
                os.kill(pid, signal.SIGKILL)
                while _alive(pid):
                    time.sleep(0.05)
            self.pid_file.unlink(missing_ok=True)
            return f"stopped (pid {pid})"

    # -- internals ------------------------------------------------------------------------------
    @contextlib.contextmanager
    def _lock(self) -> Iterator[None]:
        with open(self.home / ".lock", "w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _render_config(self) -> Path:
        template = (kafka_files() / "server.properties.in").read_text("utf-8")
        extra = {"extra_listeners": "", "extra_advertised": "", "extra_protocols": ""}
        secure = self.secure
        if secure is not None:
            if secure.mechanism not in ("SCRAM-SHA-256", "SCRAM-SHA-512"):
                raise KafkaLocalError(f"the local broker supports SCRAM-SHA-256/512, not {secure.mechanism}")
            extra = {"extra_listeners": f",SASL_SSL://127.0.0.1:{secure.port}",
                     "extra_advertised": f",SASL_SSL://{secure.advertised_host}:{secure.port}",
                     "extra_protocols": ",SASL_SSL:SASL_SSL"}
            template += (kafka_files() / "sasl_ssl.properties.in").read_text("utf-8").format(
                mechanism=secure.mechanism, mechanism_lower=secure.mechanism.lower(),
                keystore_type=secure.keystore_type, keystore=secure.keystore.resolve(),
                keystore_password=_escape_property(secure.keystore_password)).replace("{", "{{").replace("}", "}}")
        config = self.home / "server.properties"
        config.write_text(template.format(port=self.port, controller_port=self.controller_port,
                                          data_dir=self.data_dir, **extra), "utf-8")
        config.chmod(0o600)  # it may hold the keystore password
        return config

    def _java(self, jars: Path, *args: str) -> list[str]:
        return ["java", f"-Xmx{self.heap}", f"-Xms{self.heap}", "-XX:+UseG1GC",
                f"-Dkafka.logs.dir={self.log_file.parent}",
                f"-Dlog4j2.configurationFile={kafka_files() / 'log4j2.properties'}",
                f"-Dwirewatch.home={self.home}", "-cp", f"{jars}/*", *args]

    def _format(self, jars: Path, config: Path) -> None:
        if (self.data_dir / "meta.properties").exists():
            return  # formatted before: formatting again would refuse or, worse, lose data
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        scram: list[str] = []
        if self.secure is not None:
            for name, password in self.secure.users.items():
                if not re.fullmatch(r"[A-Za-z0-9._-]+", name) or not password or re.search(r'[\],"]', password):
                    raise KafkaLocalError(f"SCRAM user {name!r}: use a plain name and a password without "
                                          f"',', ']' or '\"'")
                scram += ["--add-scram", f"{self.secure.mechanism}=[name={name},password={password}]"]
        result = subprocess.run(
            self._java(jars, "kafka.tools.StorageTool", "format", "-t", str(uuid.uuid4()), "-c", str(config),
                       *scram),
            capture_output=True, text=True, check=False, timeout=120)
        if result.returncode != 0:
            output = result.stdout + result.stderr
            for password in (self.secure.users.values() if self.secure else ()):
                output = output.replace(password, "***")
            raise KafkaLocalError(f"formatting Kafka storage failed: {output[-1500:]}")

    def _start(self, jars: Path, config: Path) -> int:
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        with open(self.home / "logs" / "stdout.log", "ab") as out:
            proc = subprocess.Popen(self._java(jars, "kafka.Kafka", str(config)), stdout=out,
                                    stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                    start_new_session=True)
        self.pid_file.write_text(str(proc.pid))
        return proc.pid

    def _answers(self) -> bool:
        from kafka import KafkaAdminClient
        from kafka.errors import KafkaError

        try:  # a plain connect first: the Kafka client logs every refused connection as an error
            socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
        except OSError:
            return False
        try:
            admin = KafkaAdminClient(bootstrap_servers=self.bootstrap, request_timeout_ms=3000,
                                     client_id="wirewatch-probe")
        except (KafkaError, OSError):
            return False
        try:
            admin.list_topics()
            return True
        except (KafkaError, OSError):
            return False
        finally:
            admin.close()

    def _wait_ready(self, pid: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not _alive(pid):
                raise KafkaLocalError(f"the broker exited during start; see {self.log_file}:\n{self._log_tail()}")
            if self._answers():
                return
            time.sleep(0.5)
        raise KafkaLocalError(f"the broker did not answer on {self.bootstrap} within {timeout:.0f}s; "
                              f"see {self.log_file}:\n{self._log_tail()}")

    def _log_tail(self, lines: int = 20) -> str:
        texts = []
        for path in (self.log_file, self.home / "logs" / "stdout.log"):
            with contextlib.suppress(OSError):
                texts.extend(path.read_text("utf-8", "replace").splitlines()[-lines:])
        return "\n".join(texts[-lines:])


def _escape_property(value: str) -> str:
    """A value safe on one line of a Java properties file."""
    return (value.replace("\\", "\\\\").replace("\n", "\\n").replace("\r", "\\r")
            .replace("=", "\\=").replace(":", "\\:"))


def _alive(pid: int) -> bool:
    try:
        waited, _ = os.waitpid(pid, os.WNOHANG)  # reap our own child if it exited
        if waited == pid:
            return False
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie of someone else's counts as gone
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def from_env() -> LocalKafka:
    return LocalKafka(port=int(os.environ.get("WIREWATCH_KAFKA_PORT", "9092")),
                      controller_port=int(os.environ.get("WIREWATCH_KAFKA_CONTROLLER_PORT", "9093")))


@contextlib.contextmanager
def private_broker(home: Path, timeout: float = 90.0,
                   report: Callable[[str], None] | None = None) -> Iterator[LocalKafka]:
    """A broker of its own (free ports, its data under `home`) for a test session or a benchmark, stopped on
    leaving. `report` receives how it came up."""
    broker = LocalKafka(home=home, port=free_port(), controller_port=free_port())
    status = broker.up(timeout=timeout)
    if report is not None:
        report(status)
    try:
        yield broker
    finally:
        broker.down()
