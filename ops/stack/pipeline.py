"""The bus's roles as local processes against the local stack: what ``cultuurbus demo``
runs, and what the end-to-end tests run the same way.

A :class:`Pipeline` holds the bus settings pointed at the stack, a state directory
(worker state, logs) and its roles, each a ``cultuurbus`` subprocess in its own session:
the streams worker, the ClickHouse sink, the gateway and the webhook receiver the
simulator delivers Eventix, Eventbrite and Stager webhooks to. Each role connects as its
own principal (``ops.access.principals``), the pipeline itself (topics, schemas) as ops.
Every role serves
``/metrics`` and ``/healthz`` on the port its settings give, so
:meth:`Pipeline.targets` tells Prometheus whom to scrape.

Lifecycle: ``prepare()`` (topics and schemas), ``start()``, ``wait_ready()``, then
``simulator(...)`` gives the season's player as one more role; ``check()`` raises when a
role died; ``stop()`` ends them all, last started first.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from bus.errors import BusError
from bus.kafka import make_admin
from bus.serde import Registry, subject_for
from bus.settings import Settings
from bus.topics import CATALOG, apply_catalog, topic_name
from connectors.simulator.drivers.render import TICKET_NAMES
from connectors.simulator.drivers.webhook_host import vendor_credentials
from ops.access.principals import CONNECTOR, GATEWAY, OPS, SINK, STREAMS, apply_role_access
from ops.stack.settings import LOOPBACK, StackSettings
from schemas import load_schema

__all__ = ["REPO", "Pipeline", "Role", "RoleFailed", "register_schemas", "settings_for_stack"]

REPO = Path(__file__).resolve().parents[2]
#: The token of the simulator's fake Eventbrite API (connectors.fakes.webhooks), which
#: the receiver sends when it fetches an Eventbrite delivery's api_url.
EVENTBRITE_TOKEN = "PRIVATE-TOKEN-0001"  # noqa: S105 - a fake's token, documented in `simulate --help`


class RoleFailed(BusError):
    """A role of the pipeline exited or never became ready; the message names its log."""


def settings_for_stack(settings: Settings, stack: StackSettings, principal: str = OPS) -> Settings:
    """The bus settings pointed at the local stack's addresses, connecting as ``principal``
    (ops by default: it creates topics and registers schemas)."""
    kafka = stack.kafka_client(principal)
    registry = stack.registry_client(principal)
    security = ("bootstrap_servers", "security_protocol", "sasl_mechanism", "sasl_username", "sasl_password")
    return settings.model_copy(update={
        "kafka": settings.kafka.model_copy(update={k: getattr(kafka, k) for k in security}),
        "registry": settings.registry.model_copy(update={
            "url": registry.url, "basic_auth_user_info": registry.basic_auth_user_info}),
        "clickhouse": settings.clickhouse.model_copy(update={"url": stack.clickhouse_url}),
    })


def register_schemas(registry: Registry, topic_prefix: str) -> None:
    """Register every catalog topic's value schema under ``topic_prefix`` (as a registry
    writer: the roles only read and look schemas up)."""
    for t in CATALOG:
        if t.value_schema:
            registry.register(subject_for(topic_name(t.name, topic_prefix)), load_schema(t.value_schema))


@dataclass
class Role:
    """One role as a subprocess (``python -m ops.cli <argv>``), output to ``log``.

    Attributes:
        name: Shown in messages.
        argv: Arguments after ``python -m ops.cli``.
        log: Its stdout and stderr (appended).
        job: The Prometheus job it belongs to (connector, streams, sink, gateway).
        address: ``host:port`` of its ``/metrics`` and ``/healthz``.
        principal: The Kafka principal it connects as (``Pipeline.start`` sets its env).

    """

    name: str
    argv: list[str]
    log: Path
    job: str | None = None
    address: str | None = None
    principal: str = CONNECTOR
    env: dict[str, str] = field(default_factory=dict)
    proc: subprocess.Popen[bytes] | None = None

    def start(self, env: Mapping[str, str]) -> None:
        """Start it with ``env`` and, over that, its own :attr:`env`."""
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen([sys.executable, "-m", "ops.cli", *self.argv],
                                         env={**env, **self.env},
                                         cwd=REPO, stdout=out, stderr=subprocess.STDOUT,
                                         start_new_session=True)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def ready(self) -> bool:
        """``/healthz`` answers 200 (roles without an address: running)."""
        if self.address is None:
            return self.alive()
        try:
            return httpx.get(f"http://{self.address}/healthz", timeout=2.0).status_code == 200
        except httpx.HTTPError:
            return False

    def stop(self, timeout: float = 20.0) -> None:
        """SIGTERM, a bounded wait, SIGKILL as a last resort."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)


@dataclass
class Pipeline:
    """The bus on the local stack: settings, state directory and role processes.

    Args:
        settings: Bus settings pointed at the stack (see :func:`settings_for_stack`);
            their ports place the roles.
        stack: The stack the roles run against.
        state: Worker state and ``logs/`` go here.
        gateway_args: Extra options of ``cultuurbus gateway`` (e.g. ``--client-queue``).
        env_extra: More environment for every role (e.g. ``CULTUURBUS_CLICKHOUSE__DATABASE``).

    """

    settings: Settings
    stack: StackSettings
    state: Path
    gateway_args: Sequence[str] = ()
    env_extra: Mapping[str, str] = field(default_factory=dict)
    webhook_secret: str = field(default_factory=lambda: secrets.token_hex(16))
    roles: list[Role] = field(default_factory=list)
    #: vendor -> base URL of the receiver that vendor runs as its own tenant (the simulator
    #: sends that vendor's deliveries there; the rest to :attr:`webhook_url`).
    vendor_receivers: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        s, logs = self.settings, self.logs
        self.roles = [
            Role("streams", ["streams", "worker", "--name", "demo"], logs / "streams.log",
                 "streams", f"{LOOPBACK}:{s.streams.web_port}", STREAMS),
            Role("sink", ["sink", "clickhouse"], logs / "sink.log", "sink",
                 f"{LOOPBACK}:{s.sink.metrics_port}", SINK),
            Role("gateway", ["gateway", *self.gateway_args], logs / "gateway.log", "gateway",
                 f"{s.gateway.host}:{s.gateway.port}", GATEWAY),
            Role("webhook", ["connector", "webhook", "--strict-ticket-types",
                             "--ticket-type", f"{TICKET_NAMES['OTHER']}=OTHER"],
                 logs / "webhook.log", "connector", f"{s.connector.http_host}:{s.connector.http_port}"),
        ]

    @property
    def logs(self) -> Path:
        return self.state / "logs"

    @property
    def webhook_url(self) -> str:
        return f"http://{self.settings.connector.http_host}:{self.settings.connector.http_port}"

    @property
    def gateway_url(self) -> str:
        return f"http://{self.settings.gateway.host}:{self.settings.gateway.port}"

    def env(self, principal: str = CONNECTOR) -> dict[str, str]:
        """The environment of a role connecting as ``principal`` (the built-in connector
        by default: the simulator and pollers): its credentials, the stack's addresses,
        ports, topic prefix, worker state per topic prefix, the webhook secret the
        simulator signs with."""
        s = self.settings
        env = dict(os.environ)  # other CULTUURBUS_* settings (ports, secrets) pass through
        secret = self.webhook_secret
        env.update(self.stack.client_env(principal))
        env.update({
            "CULTUURBUS_REGISTRY__URL": s.registry.url,
            "CULTUURBUS_CLICKHOUSE__URL": s.clickhouse.url,
            "CULTUURBUS_CLICKHOUSE__DATABASE": s.clickhouse.database,
            "CULTUURBUS_TOPIC_PREFIX": s.topic_prefix,
            # Worker state belongs to one set of topics: keep it apart per topic prefix.
            "CULTUURBUS_STREAMS__DATA_DIR": str(
                self.state / "streams" / (s.topic_prefix.strip(".") or "default")),
            "CULTUURBUS_STREAMS__LASTMINUTE_TICK_S": "2",
            "CULTUURBUS_LOG_FORMAT": "json",
            "CULTUURBUS_STACK_DIR": str(self.stack.dir),
            "CULTUURBUS_SINK__METRICS_PORT": str(s.sink.metrics_port),
            "CULTUURBUS_GATEWAY__HOST": s.gateway.host,
            "CULTUURBUS_GATEWAY__PORT": str(s.gateway.port),
            "CULTUURBUS_STREAMS__WEB_PORT": str(s.streams.web_port),
            "CULTUURBUS_CONNECTOR__HTTP_HOST": s.connector.http_host,
            "CULTUURBUS_CONNECTOR__HTTP_PORT": str(s.connector.http_port),
            # The receiver and the simulator share one secret per run, from which each
            # vendor's own credential derives (Eventix's OpenTicket nonce, URL tokens):
            # deliveries arrive as the vendors send them, no relay. Eventbrite
            # deliveries are fetched from the simulator's fake API on loopback.
            **{f"CULTUURBUS_WEBHOOK__{key.upper()}": json.dumps(value)
               for key, value in vendor_credentials(secret).items()},
            "CULTUURBUS_WEBHOOK__EVENTBRITE_TOKENS": json.dumps({"*": EVENTBRITE_TOKEN}),
            "CULTUURBUS_WEBHOOK__EVENTBRITE_API_HOSTS": json.dumps([LOOPBACK]),
            "CULTUURBUS_SIMULATE_WEBHOOK_SECRET": secret,
            "PYTHONPATH": str(REPO),
        })
        env.update(self.env_extra)
        return env

    def prepare(self) -> int:
        """Grant the roles their ACLs for this topic prefix (ops may: ALTER on the cluster),
        create the topics of the catalog and register the schemas; topics created."""
        s = self.settings
        admin = make_admin(s.kafka)
        if self.stack.sasl:
            apply_role_access(admin, s.topic_prefix, s)
        changes = apply_catalog(admin, s.topic_prefix, s.kafka.replication_factor)
        register_schemas(Registry(s.registry), s.topic_prefix)
        return sum(c.action == "created" for c in changes)

    def start(self) -> None:
        for role in self.roles:
            role.start(self.env(role.principal))

    def wait_ready(self, timeout_s: float = 120.0) -> None:
        """Wait (bounded) until every role answers ``/healthz`` with 200.

        Raises:
            RoleFailed: A role exited, or was not ready in time.

        """
        deadline = time.monotonic() + timeout_s
        waiting = list(self.roles)
        while waiting and time.monotonic() < deadline:
            self.check()
            waiting = [role for role in waiting if not role.ready()]
            if waiting:
                time.sleep(0.5)
        if waiting:
            raise RoleFailed(f"not ready within {timeout_s:.0f}s: "
                             + ", ".join(f"{r.name} (log {r.log})" for r in waiting))

    def check(self) -> None:
        """Raise :class:`RoleFailed` when a role is no longer running."""
        for role in self.roles:
            if not role.alive():
                raise RoleFailed(f"{role.name} stopped; see {role.log}")

    def simulator(self, args: Sequence[str], truth: Path) -> Role:
        """The season player (``cultuurbus simulate``) delivering webhooks to this
        pipeline's receiver; start it with ``role.start(pipeline.env())``."""
        routes = [f"--webhook-url={vendor}={url}" for vendor, url in sorted(self.vendor_receivers.items())]
        return Role("simulator", ["simulate", *args, "--truth", str(truth), "--no-progress",
                                  "--webhook-url", self.webhook_url, *routes], self.logs / "simulator.log")

    def targets(self) -> dict[str, list[str]]:
        """``host:port`` of each role's ``/metrics``, per Prometheus job."""
        found: dict[str, list[str]] = {}
        for role in self.roles:
            if role.job and role.address:
                found.setdefault(role.job, []).append(role.address)
        return found

    def stop(self) -> None:
        for role in reversed(self.roles):
            role.stop()
