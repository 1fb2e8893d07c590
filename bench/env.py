"""Where a bench run happens: its stack, settings, state directory, progress lines and
the factories of the roles it starts.

By default the bench starts its own stack (Kafka, registry, ClickHouse) through
``ops.stack`` in ``bench/.stack-bench`` on free loopback ports, and stops it at the end.
With ``--use-env-stack`` it uses the services named by the ``CULTUURBUS_*`` settings
(the smoke test points it at the test stack, and names its directory with
``CULTUURBUS_STACK_DIR`` so the roles find their credentials). Every part works under its
own topic prefix, ClickHouse database and consumer group, so parts never see each other's
data. The bench itself (feeds, watches, peers) connects as ``admin``; each role it starts
as its own principal, with the roles' ACLs applied for the part's prefix, like the tests.
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
from pydantic import SecretStr

from bench.kafkaio import catalog
from bench.roles import REPO, Role, role_env
from bus.kafka import kafka_env, make_admin
from bus.serde import Registry
from bus.settings import KafkaSettings, Settings, load_settings
from ops.access.principals import CONNECTOR, GATEWAY, SINK, STREAMS, apply_role_access
from ops.stack.manager import StackManager
from ops.stack.pipeline import register_schemas
from ops.stack.ports import free_ports, isolated_settings
from ops.stack.pseudonym import pseudonym_env
from ops.stack.registry_auth import registry_user_info
from ops.stack.settings import ADMIN, LOOPBACK, StackSettings

__all__ = ["Bench", "bench_stack", "broker_pid", "plaintext_kafka", "service_pid"]

STACK_DIR = REPO / "bench" / ".stack-bench"
DOWNLOADS = REPO / ".stack" / "downloads"


#: The stack of this run, whose secrets hold the role principals' passwords.
_stacks: list[StackSettings] = []


def principal_env(s: Settings, principal: str) -> dict[str, str]:
    """``CULTUURBUS_KAFKA__*`` of ``principal`` on this run's stack (``s``'s own login when
    ``s`` does not use SASL, e.g. a plaintext stack). A connector gets the stack's buyer
    pseudonym key, like ``StackSettings.client_env`` gives it; so does admin, as the
    connectors part (``bench/connectors.py``, ``bench/pollers.py``) runs its connectors as admin."""
    keys = pseudonym_env(_stacks[0].dir) if principal in (CONNECTOR, ADMIN) and _stacks else {}
    if not s.kafka.security_protocol.startswith("SASL") or not _stacks or principal == ADMIN:
        return {**kafka_env(s.kafka), **keys}
    login = _stacks[0].kafka_client(principal)
    return {**kafka_env(login.model_copy(update={"bootstrap_servers": s.kafka.bootstrap_servers})),
            "CULTUURBUS_REGISTRY__BASIC_AUTH_USER_INFO": registry_user_info(_stacks[0].dir, principal),
            **keys}


def plaintext_kafka(s: Settings) -> KafkaSettings | None:
    """How to reach this run's broker on its PLAINTEXT listener (every client the anonymous
    super user: no SASL, no ACL), when the stack has one (``kafka_plaintext_port``)."""
    port = _stacks[0].kafka_plaintext_port if _stacks else None
    if port is None:
        return None
    return KafkaSettings(bootstrap_servers=f"{LOOPBACK}:{port}", client_id=s.kafka.client_id,
                         request_timeout_ms=s.kafka.request_timeout_ms)


def service_pid(name: str) -> int | None:
    """The pid of one of this run's stack services (``kafka``, ``registry``, ``clickhouse``:
    its pid file), to read its CPU time."""
    try:
        return int((_stacks[0].dir / f"{name}.pid").read_text().split()[0]) if _stacks else None
    except (OSError, ValueError, IndexError):
        return None


def broker_pid() -> int | None:
    """The pid of this run's Kafka broker, to read its CPU time."""
    return service_pid("kafka")


def _with_buyer_key(base: Settings, stack: StackSettings) -> Settings:
    """``base`` with the stack's buyer pseudonym key, unless it names one: the connectors the
    bench runs in process (``bench/pollers.py``) pseudonymise buyers with it."""
    c = base.connector
    if c.buyer_secret is not None or c.buyer_secret_file is not None:
        return base
    keys = pseudonym_env(stack.dir)
    return base.model_copy(update={"connector": c.model_copy(update={
        "buyer_secret": SecretStr(keys["CULTUURBUS_CONNECTOR__BUYER_SECRET"]),
        "buyer_key_id": int(keys["CULTUURBUS_CONNECTOR__BUYER_KEY_ID"])})})


@contextmanager
def bench_stack(use_env: bool, keep: bool = False, echo: Any = None) -> Iterator[Settings]:
    """Bus settings pointed at a running stack: the bench's own (started and stopped
    here) or, with ``use_env``, the one the environment's settings name."""
    base = load_settings()
    if use_env:
        _stacks[:] = [StackSettings()]
        yield _with_buyer_key(base, _stacks[0])
        return
    stack_dir = STACK_DIR / time.strftime("%Y%m%d-%H%M%S")
    stack: StackSettings = isolated_settings(stack_dir, DOWNLOADS)
    taken = {stack.kafka_port, stack.kafka_controller_port, stack.registry_port, stack.clickhouse_http_port,
             stack.clickhouse_tcp_port, stack.prometheus_port, stack.lag_exporter_port}
    # the security part's "without": the same broker, no SASL, no ACLs (bench/security.py)
    plain = next(port for port in free_ports(8) if port not in taken)
    stack = stack.model_copy(update={"kafka_plaintext_port": plain})
    manager = StackManager(stack, echo=echo or (lambda _msg: None))
    try:
        manager.up()
        _stacks[:] = [stack]
        admin = stack.kafka_client(ADMIN)
        security = ("bootstrap_servers", "security_protocol", "sasl_mechanism", "sasl_username",
                    "sasl_password")
        yield _with_buyer_key(base, stack).model_copy(update={
            "kafka": base.kafka.model_copy(update={k: getattr(admin, k) for k in security}),
            "registry": base.registry.model_copy(update={
                "url": stack.registry_url,
                "basic_auth_user_info": stack.registry_client(ADMIN).basic_auth_user_info}),
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
    info = s.registry.basic_auth_user_info
    user, _, password = info.get_secret_value().partition(":") if info else ("", "", "")
    registry_auth = (user, password) if info else None
    for what, url, auth in (("schema registry", f"{s.registry.url}/subjects", registry_auth),
                            ("ClickHouse", f"{s.clickhouse.url}/ping", None)):
        try:
            httpx.get(url, timeout=10, auth=auth).raise_for_status()
        except httpx.HTTPError as exc:
            raise RuntimeError(f"{what} at {url} does not answer ({exc})") from exc


@dataclass
class Bench:
    """One run: base settings, state directory, the clock and the progress printer.

    Attributes:
        base: settings pointed at the stack (no topic prefix).
        state: where roles keep state and logs for this run.
        quiet: no progress lines (tests).
        code: the checkout whose code the roles run (this one; another worktree of a
            commit for an A/B, ``bench.receivers_ab``).

    """

    base: Settings
    state: Path
    quiet: bool = False
    code: Path = REPO
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
        self.grant(s)
        register_schemas(self.registry, s.topic_prefix)  # the roles may only look schemas up
        return s

    def grant(self, s: Settings) -> None:
        """The role principals' ACLs for ``s`` (its prefix, sink group, app id); again after
        changing one of those."""
        if s.kafka.security_protocol.startswith("SASL"):
            apply_role_access(make_admin(s.kafka), s.topic_prefix, s)

    def env(self, s: Settings, principal: str = ADMIN, **extra: str) -> dict[str, str]:
        """A process's environment for part ``s``, connecting as ``principal`` (the bench's
        own peers and probes as admin); ``extra`` wins over the principal's login."""
        return role_env(s, self.state / s.topic_prefix.strip("."),
                        **{"CULTUURBUS_CONFIG_FILE": os.devnull, "PYTHONPATH": str(self.code),
                           **principal_env(s, principal), **extra})

    def _log(self, s: Settings, name: str) -> Path:
        return self.state / s.topic_prefix.strip(".") / f"{name}.log"

    def worker(self, s: Settings, name: str = "w1", **env: str) -> Role:
        """A streams worker (``cultuurbus streams worker``); ``env``: more settings for it."""
        (port,) = free_ports(1)
        return Role(f"streams worker {name}", ["streams", "worker", "--name", name, "--web-port", str(port),
                                               "--loglevel", "warning"],
                    self.env(s, STREAMS, **env), self._log(s, name), f"http://127.0.0.1:{port}/healthz")

    def sink(self, s: Settings) -> Role:
        """The ClickHouse sink (``cultuurbus sink clickhouse``); metrics on its own port."""
        self.grant(s)  # its group may differ from the one ``fresh`` granted
        (port,) = free_ports(1)
        return Role("clickhouse sink", ["sink", "clickhouse", "--metrics-port", str(port)],
                    self.env(s, SINK), self._log(s, "sink"), f"http://127.0.0.1:{port}/healthz",
                    f"http://127.0.0.1:{port}")

    def gateway(self, s: Settings) -> Role:
        """The availability gateway (``cultuurbus gateway``)."""
        (port,) = free_ports(1)
        return Role("gateway", ["gateway", "--port", str(port), "--client-queue", "65536"],
                    self.env(s, GATEWAY), self._log(s, "gateway"), f"http://127.0.0.1:{port}/healthz",
                    f"http://127.0.0.1:{port}")

    def webhook(self, s: Settings, secret: str) -> Role:
        """The webhook receiver (``cultuurbus connector webhook``) for account eventix/acme."""
        (port,) = free_ports(1)
        env = self.env(s, CONNECTOR, CULTUURBUS_WEBHOOK__SECRETS=f'{{"eventix/acme": "{secret}"}}')
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
