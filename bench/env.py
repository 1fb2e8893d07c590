"""Where a bench run happens: its stack, settings, state directory, progress lines and
the factories of the roles it starts.

By default the bench starts its own stack (Kafka, registry, ClickHouse) through
``ops.stack`` in ``bench/.stack-bench`` on free loopback ports, and stops it at the end.
With ``--use-env-stack`` it uses the services named by the ``CULTUURBUS_*`` settings
(the smoke test points it at the test stack). Every part works under its own topic
prefix, ClickHouse database and consumer group, so parts never see each other's data.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from confluent_kafka import KafkaException

from bench.kafkaio import catalog
from bench.roles import REPO, Role, role_env
from bus.kafka import make_admin
from bus.serde import Registry
from bus.settings import Settings, load_settings
from ops.stack.manager import StackManager
from ops.stack.ports import free_ports, isolated_settings
from ops.stack.settings import StackSettings

__all__ = ["Bench", "bench_stack"]

STACK_DIR = REPO / "bench" / ".stack-bench"
DOWNLOADS = REPO / ".stack" / "downloads"


@contextmanager
def bench_stack(use_env: bool, keep: bool = False, echo: Any = None) -> Iterator[Settings]:
    """Bus settings pointed at a running stack: the bench's own (started and stopped
    here) or, with ``use_env``, the one the environment's settings name."""
    base = load_settings()
    if use_env:
        yield base
        return
    stack_dir = STACK_DIR / time.strftime("%Y%m%d-%H%M%S")
    stack: StackSettings = isolated_settings(stack_dir, DOWNLOADS)
    manager = StackManager(stack, echo=echo or (lambda _msg: None))
    try:
        manager.up()
        yield base.model_copy(update={
            "kafka": base.kafka.model_copy(update={"bootstrap_servers": stack.kafka_bootstrap}),
            "registry": base.registry.model_copy(update={"url": stack.registry_url}),
            "clickhouse": base.clickhouse.model_copy(update={"url": stack.clickhouse_url}),
        })
    finally:
        if not keep:
            manager.down()
            shutil.rmtree(stack_dir, ignore_errors=True)


def preflight(s: Settings) -> None:
    """Fail fast, naming what is missing, when Kafka, the registry or ClickHouse is away.

    Raises:
        RuntimeError: a service does not answer; the message says which and where.

    """
    try:
        make_admin(s.kafka).list_topics(timeout=15)
    except KafkaException as exc:
        raise RuntimeError(f"Kafka at {s.kafka.bootstrap_servers} does not answer ({exc}); start a stack "
                           "or drop --use-env-stack") from exc
    for what, url in (("schema registry", f"{s.registry.url}/subjects"),
                      ("ClickHouse", f"{s.clickhouse.url}/ping")):
        try:
            httpx.get(url, timeout=10).raise_for_status()
        except httpx.HTTPError as exc:
            raise RuntimeError(f"{what} at {url} does not answer ({exc})") from exc


@dataclass
class Bench:
    """One run: base settings, state directory, the clock and the progress printer.

    Attributes:
        base: settings pointed at the stack (no topic prefix).
        state: where roles keep state and logs for this run.
        quiet: no progress lines (tests).

    """

    base: Settings
    state: Path
    quiet: bool = False
    started: float = field(default_factory=time.monotonic)
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:5])
    _registry: Registry | None = None

    @property
    def registry(self) -> Registry:
        if self._registry is None:
            self._registry = Registry(self.base.registry)
        return self._registry

    def say(self, text: str) -> None:
        if not self.quiet:
            print(f"[{time.monotonic() - self.started:6.1f}s] {text}", flush=True)

    def fresh(self, tag: str) -> Settings:
        """Settings under a new topic prefix (catalog applied), database and sink group."""
        name = f"b{self.run_id}{tag}"
        s = self.base.model_copy(update={
            "topic_prefix": f"{name}.",
            "clickhouse": self.base.clickhouse.model_copy(update={"database": f"bench_{name}"}),
            "sink": self.base.sink.model_copy(update={"group_id": f"sink-{name}"}),
        })
        catalog(s)
        return s

    def env(self, s: Settings, **extra: str) -> dict[str, str]:
        return role_env(s, self.state / s.topic_prefix.strip("."), CULTUURBUS_CONFIG_FILE=os.devnull,
                        **extra)

    def _log(self, s: Settings, name: str) -> Path:
        return self.state / s.topic_prefix.strip(".") / f"{name}.log"

    def worker(self, s: Settings, name: str = "w1", **env: str) -> Role:
        """A streams worker (``cultuurbus streams worker``); ``env``: more settings for it."""
        (port,) = free_ports(1)
        return Role(f"streams worker {name}", ["streams", "worker", "--name", name, "--web-port", str(port),
                                               "--loglevel", "warning"],
                    self.env(s, **env), self._log(s, name), f"http://127.0.0.1:{port}/healthz")

    def sink(self, s: Settings) -> Role:
        """The ClickHouse sink (``cultuurbus sink clickhouse``); metrics on its own port."""
        (port,) = free_ports(1)
        return Role("clickhouse sink", ["sink", "clickhouse", "--metrics-port", str(port)],
                    self.env(s), self._log(s, "sink"), f"http://127.0.0.1:{port}/healthz",
                    f"http://127.0.0.1:{port}")

    def gateway(self, s: Settings) -> Role:
        """The availability gateway (``cultuurbus gateway``)."""
        (port,) = free_ports(1)
        return Role("gateway", ["gateway", "--port", str(port), "--client-queue", "65536"],
                    self.env(s), self._log(s, "gateway"), f"http://127.0.0.1:{port}/healthz",
                    f"http://127.0.0.1:{port}")

    def webhook(self, s: Settings, secret: str) -> Role:
        """The webhook receiver (``cultuurbus connector webhook``) for account eventix/acme."""
        (port,) = free_ports(1)
        env = self.env(s, CULTUURBUS_WEBHOOK__SECRETS=f'{{"eventix/acme": "{secret}"}}')
        return Role("webhook receiver", ["connector", "webhook", "--port", str(port)], env,
                    self._log(s, "webhook"), f"http://127.0.0.1:{port}/healthz", f"http://127.0.0.1:{port}")

    @property
    def python_cli(self) -> list[str]:
        """The ``cultuurbus`` command, as the roles run it."""
        return [sys.executable, "-m", "ops.cli"]

    @property
    def repo(self) -> Path:
        return REPO

    def elapsed(self) -> float:
        return time.monotonic() - self.started
